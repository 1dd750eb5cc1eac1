"""Inflate/deflate benchmark (or, with ``workload.migrate``, live migrations): one boot of one variant per test; the
job YAML's mux makes the matrix."""

from pathlib import Path

from avocado.core.exceptions import TestSkipError

from harness.avocado.base import BalloonTest
from harness.judge import policy, sequential
from harness.results import contract
from harness.run import migration_workload, workload


class Benchmark(BalloonTest):
    """Boot the variant's kernel and time warm-up plus measured inflate/deflate cycles (or migrations).

    :avocado: enable
    """

    def setUp(self):
        """A job with ``looks`` skips the rounds after the look that decided it (harness/judge/sequential.py)."""
        super().setUp()
        if self.job.looks and self.round > self.job.looks[0]:
            done = contract.gather(Path(self.logdir).parents[1])  # this job's tests so far
            why = sequential.stop_reason(done["samples"], policy.baseline_of(done), self.job.looks, self.round,
                                         policy.per_host(done), self.job.pairs)
            if why:
                raise TestSkipError(why)

    def test(self):
        with self.outcome():
            build = self.kernels()
            with self.guest(build, self.image()) as g:
                scenario = migration_workload if self.job.workload.migrate else workload
                samples, traces = scenario.run(g, self.job.workload, self.variant.name, self.round,
                                               progress=self.log.info)
                facts = self.guest_facts(g)
                if self.job.workload.migrate:
                    facts["migration"] = migration_workload.settings(self.job.workload)
            record = contract.test_record(self.variant.name, self.round, build.identity(), facts, samples, traces)
            contract.write_json(Path(self.outputdir) / contract.TEST_FILE, record)

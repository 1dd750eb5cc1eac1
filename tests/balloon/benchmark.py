"""Inflate/deflate benchmark: one boot of one variant per test; the job YAML's mux makes the matrix."""

from pathlib import Path

from avocado.core.exceptions import TestSkipError

from harness import report, results, sequential, workload
from harness.avocado_test import BalloonTest


class Benchmark(BalloonTest):
    """Boot the variant's kernel and time warm-up plus measured inflate/deflate cycles.

    :avocado: enable
    """

    def setUp(self):
        """A job with ``looks`` skips the rounds after the look that decided it (harness/sequential.py)."""
        super().setUp()
        if self.job.looks and self.round > self.job.looks[0]:
            done = results.gather(Path(self.logdir).parents[1])  # this job's tests so far
            why = sequential.stop_reason(done["samples"], report.baseline_of(done), self.job.looks, self.round,
                                         report.per_host(done), self.job.pairs)
            if why:
                raise TestSkipError(why)

    def test(self):
        with self.outcome():
            build = self.kernels()
            with self.guest(build, self.image()) as g:
                samples, traces = workload.run(g, self.job.workload, self.variant.name, self.round,
                                               progress=self.log.info)
                facts = self.guest_facts(g)
            record = results.test_record(self.variant.name, self.round, build.identity(), facts, samples, traces)
            results.write_json(Path(self.outputdir) / results.TEST_FILE, record)

"""The nightly entry point as schedulers run it (contrib/nightly) on a real small job, four nights: three alike,
then one whose candidate's inflate is slowed on purpose (1 boot a variant, 2 cycles: the pipeline, not the noise).

With ``--min-nights 3`` the first three nights give no verdict (exit 0, "no verdict yet"); the fourth compares the
candidate's ratio to its own night's base with the three before and must alert (exit 1).  The slowed inflate sleeps
after every batch (≈ 20× the inflate time), so the alert does not depend on this shared machine's mood.
"""

import json
import sqlite3
import subprocess
import tempfile
import unittest
from pathlib import Path

import kcidb_io

from .common import ROOT

JOB = """\
base: {debian: linux-source-6.1}
kernel: {profile: minimal, fragments: [configs/kernel/balloon.config]}
guest: {memory_mib: 1024, cpus: 1, accel: auto}
workload: {target_mib: 512, warmup: 0, cycles: 2}
variants: !mux
  base: {variant: base}
  candidate: {variant: candidate, series: patches/batch-pfns/v2}
"""


class NightlyTest(unittest.TestCase):
    def night(self, out, *extra):
        """Run one night; return (exit status, nightly.md, console, the job's balloon dir)."""
        argv = [ROOT / "contrib" / "nightly", out / "nightly.yaml", "--results-dir", out, "--db", out / "nights.sqlite",
                "--min-nights", "3", *extra]
        before = set(out.glob("job-*"))
        proc = subprocess.run([str(a) for a in argv], cwd=ROOT, capture_output=True, text=True, timeout=1800,
                              check=False)
        (job,) = set(out.glob("job-*")) - before
        balloon = job / "balloon"
        return proc.returncode, (balloon / "nightly.md").read_text(), proc.stdout + proc.stderr, balloon

    def test_three_alike_nights_pass_and_a_slowed_inflate_is_reported(self):
        out = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="bh-nightly-")))
        (out / "nightly.yaml").write_text(JOB)
        for _ in range(3):
            rc, summary, console, _ = self.night(out)
            self.assertEqual(rc, 0, console[-4000:])
            self.assertIn("no verdict yet", summary.splitlines()[0])
        rc, summary, console, balloon = self.night(out, "--set-series", "candidate=patches/faults/slow-inflate")
        self.assertEqual(rc, 1, console[-4000:])
        self.assertIn(summary, console)
        self.assertRegex(summary, r"\*\*candidate\*\* \[\S+\] inflate, time to target: \*\*regression\*\*, \+\d+\.\d %")
        self.assertIn("fault injection", summary)  # the changed series is named
        self.assertEqual(json.loads((balloon / "b4-check.json").read_text())[0]["status"], "fail")
        kcidb_io.schema.LATEST.validate_exactly(json.loads((balloon / "kcidb.json").read_text()))
        with sqlite3.connect(out / "nights.sqlite") as db:
            self.assertEqual(db.execute("SELECT count(*), sum(overrides != '') FROM runs").fetchone(), (4, 1))

    def test_a_bad_job_file_exits_2(self):
        out = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="bh-nightly-")))
        (out / "bad.yaml").write_text("base: {debian: linux-source-6.1}\nworkload: {cycels: 3}\n")
        proc = subprocess.run([str(ROOT / "contrib" / "nightly"), str(out / "bad.yaml"), "--results-dir", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("cycels", proc.stderr)


if __name__ == "__main__":
    unittest.main()

"""The nightly entry point on the real small job, three nights: two alike, then one whose inflate is slowed on purpose.

With 3 measured cycles a night, the second night (3 samples against 3) cannot reach p < 0.05 by construction; the
third (3 against 6) can only when tonight's samples clear every previous one, which the slowed inflate does.
"""

import json
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from .common import ROOT

CLI = Path(sys.executable).with_name("balloon-harness")


class NightlyTest(unittest.TestCase):
    def night(self, out, *extra):
        """Run one night; return (exit status, nightly.md, console, the job's balloon dir)."""
        argv = [CLI, "nightly", "configs/nightly.yaml", "--results-dir", out, "--db", out / "nights.sqlite", *extra]
        before = set(out.glob("job-*"))
        proc = subprocess.run([str(a) for a in argv], cwd=ROOT, capture_output=True, text=True, timeout=1800,
                              check=False)
        (job,) = set(out.glob("job-*")) - before
        balloon = job / "balloon"
        return proc.returncode, (balloon / "nightly.md").read_text(), proc.stdout + proc.stderr, balloon

    def test_two_alike_nights_pass_and_a_slowed_inflate_is_reported(self):
        out = Path(tempfile.mkdtemp(prefix="bh-nightly-"))
        for first_line in ("no previous night to compare with", "no regression"):
            rc, summary, console, _ = self.night(out)
            self.assertEqual(rc, 0, console[-4000:])
            self.assertIn(first_line, summary.splitlines()[0])
        rc, summary, console, balloon = self.night(out, "--set-series", "candidate=patches/faults/slow-inflate")
        self.assertEqual(rc, 1, console[-4000:])
        self.assertIn(summary, console)
        self.assertRegex(summary, r"\*\*candidate\*\* inflate, time to target: \*\*slower\*\* \+\d+\.\d % \[")
        self.assertIn("fault injection", summary)  # the changed series is named
        self.assertEqual(json.loads((balloon / "b4-check.json").read_text())[0]["status"], "fail")
        self.assertEqual(json.loads((balloon / "kcidb.json").read_text())["version"], {"major": 4, "minor": 3})
        with sqlite3.connect(out / "nights.sqlite") as db:
            self.assertEqual(db.execute("SELECT count(*) FROM runs").fetchone(), (3,))


if __name__ == "__main__":
    unittest.main()

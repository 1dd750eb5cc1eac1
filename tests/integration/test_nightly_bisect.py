"""``nightly --bisect`` end to end on a planted kernel history (tests/integration/planted.py, four commits: 2 does
not build, 4 adds 9.4 % guest instructions to the inflate): a nightly job whose base is a branch of it, three nights
of three boots with the branch at the root, then the branch moved to the head.  The fourth night's base counts more
instructions than the nights before, so it bisects root..head with the real ``balloon-harness bisect`` (git tests 2,
skipped as it does not build, and 3, good): the summary, the history database, b4's and KCIDB's records name the
planted commit.  Real git, builds, boots and Avocado; the base's own level is the trigger (the job has no candidate).
Three nights, not two: the base's guest instructions varied 0.2 % between two nights here, and with one degree of
freedom and Holm over the base's twelve secondary trends +9.4 % came out p 0.0069 one-sided, "no change"."""

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import kcidb_io

from . import planted
from .common import ROOT

CLI = Path(sys.executable).with_name("balloon-harness")
BRANCH = "nightly-base"
JOB = """\
base: {{git: {repo}, ref: {branch}}}
kernel: {{profile: minimal, fragments: [configs/kernel/balloon.config]}}
guest: {{memory_mib: 1024, cpus: 1, accel: auto}}
workload: {{target_mib: 512, warmup: 0, cycles: 1}}
rounds: !mux
  r1: {{round: 1}}
  r2: {{round: 2}}
  r3: {{round: 3}}
variants: !mux
  base: {{variant: base}}
"""


class NightlyBisectTest(unittest.TestCase):
    def night(self, out):
        """Run one night with --bisect; return (exit status, console, the job's balloon dir)."""
        before = set(out.glob("job-*"))
        proc = subprocess.run([str(CLI), "nightly", str(out / "nightly.yaml"), "--results-dir", str(out),
                               "--min-nights", "3", "--bisect"], cwd=ROOT, capture_output=True, text=True,
                              timeout=1800, check=False)
        (job,) = set(out.glob("job-*")) - before
        return proc.returncode, proc.stdout + proc.stderr, job / "balloon"

    def test_a_night_whose_git_base_moved_names_the_planted_commit(self):
        out = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="bh-nightly-bisect-")))
        h = planted.cached(commits=4, broken=2, slow=4)  # shared, made once: only this branch is the test's own
        subprocess.run(["git", "-C", h.repo, "branch", "-f", BRANCH, h.root], check=True)
        self.addCleanup(subprocess.run, ["git", "-C", h.repo, "branch", "-D", BRANCH], check=True)
        (out / "nightly.yaml").write_text(JOB.format(repo=h.repo, branch=BRANCH))
        for _ in range(3):
            rc, console, balloon = self.night(out)
            self.assertEqual(rc, 0, console[-4000:])
            self.assertIn("nightly: no bisection: the night did not move", console)
            self.assertIn("- no bisection: the night did not move", (balloon / "nightly.md").read_text())
        subprocess.run(["git", "-C", h.repo, "branch", "-f", BRANCH, h.head], check=True)
        start = time.monotonic()
        rc, console, balloon = self.night(out)
        print(f"the fourth night with its bisection: {time.monotonic() - start:.0f} s", file=sys.stderr)
        self.assertEqual(rc, 0, console[-6000:])  # the base's own level never fails the night
        named = f"first bad commit: {h.slow[:12]} virtio_balloon: let the host settle before each inflate batch"
        self.assertIn(f"nightly: bisecting base inflate guest instructions: higher over the base's {h.root[:12]}.."
                      f"{h.head[:12]}:\n  balloon-harness bisect {out / 'nightly.yaml'} --tree {h.repo} --good "
                      f"{h.root} --bad {h.head} --results-dir {out / 'bisect'} --op inflate --metric guest_insns",
                      console)
        summary = (balloon / "nightly.md").read_text()
        self.assertRegex(summary, rf"### Bisection \(--bisect\)\n- \*\*{named}: inflate guest instructions "
                                  r"\+\d+\.\d\d % \[.*\] against the good end \(the bad end itself, "
                                  r"measured against the good end first\)\*\*")
        with sqlite3.connect(out / "history.sqlite") as db:
            bases = [b for (b,) in db.execute("SELECT base FROM runs ORDER BY id")]
            row = db.execute("SELECT variant, op, metric, good, bad, outcome, first_bad, dir FROM bisections "
                             "WHERE run = (SELECT max(id) FROM runs)").fetchone()
        self.assertEqual(bases, [f"git:{h.root}"] * 3 + [f"git:{h.head}"])
        self.assertEqual(row[:7], ("base", "inflate", "guest_insns", h.root, h.head, "found", h.slow))
        done = json.loads((Path(row[7]) / "bisect.json").read_text())
        self.assertEqual(done["first_bad"], h.slow)
        self.assertEqual([(s["commit"], s["word"]) for s in done["steps"]][:1], [(h.broken, "skip")])
        self.assertIn("did not build: ", done["steps"][0]["why"])
        record = json.loads((balloon / "kcidb.json").read_text())
        kcidb_io.schema.LATEST.validate_exactly(record)
        (test,) = [t for t in record["tests"] if t["path"] == "balloon.bisect"]
        self.assertEqual((test["status"], test["misc"]["first_bad"]), ("FAIL", h.slow))
        self.assertIn(named, test["log_excerpt"])
        (check,) = [c for c in json.loads((balloon / "b4-check.json").read_text())
                    if c["tool"] == "balloon-harness bisect"]
        self.assertEqual(check["status"], "fail")
        self.assertTrue(check["summary"].startswith(named), check["summary"])


if __name__ == "__main__":
    unittest.main()

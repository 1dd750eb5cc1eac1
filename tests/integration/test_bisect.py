"""``balloon-harness bisect`` end to end on a planted kernel history (tests/integration/planted.py): real git, real
builds of every step, real boots under Avocado.  It must name the planted commit and skip the one that does not
build; and bad ranges are refused before anything is built."""

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from . import planted
from .common import ROOT

CLI = Path(sys.executable).with_name("balloon-harness")
TEMPLATE = ROOT / "configs" / "bisect.yaml"


def bisect(*args, timeout=1800):
    return subprocess.run([str(CLI), "bisect", str(TEMPLATE), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


class BisectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="bh-bisect-"))
        cls.history = planted.cached(commits=5, broken=2, slow=4)  # git tests 2 (skip), 3 (good), 4 (bad)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.tmp], check=True)

    def test_the_planted_commit_is_named_and_the_broken_one_skipped(self):
        h = self.history
        proc = bisect("--tree", h.repo, "--good", h.root, "--bad", h.head, "--rounds", 3, "--results-dir", self.tmp)
        self.assertEqual(proc.returncode, 0, proc.stdout[-4000:] + proc.stderr[-3000:])
        (done,) = self.tmp.glob("bisect-*")
        record = json.loads((done / "bisect.json").read_text())
        self.assertEqual(record["first_bad"], h.slow)
        self.assertEqual(record["metric"], "guest_insns")
        words = {s["commit"]: s["word"] for s in record["steps"]}
        self.assertEqual(words[h.broken], "skip")
        self.assertIn("did not build", next(s["why"] for s in record["steps"] if s["commit"] == h.broken))
        self.assertEqual(words[h.slow], "bad")
        text = (done / "bisect.txt").read_text()
        self.assertIn(text, proc.stdout)
        self.assertRegex(text, rf"first bad commit: {h.slow[:12]} virtio_balloon: let the host settle before each "
                               r"inflate batch: inflate guest instructions \+\d+\.\d\d % \[")
        self.assertIn(f"skipped: {h.broken[:12]} virtio_balloon: allocate balloon pages", text)
        self.assertRegex(text, r"bill: \d commits tried besides the ends, \d+ kernel builds?, \d+ boots, [\d.]+ min")
        self.assertIn(f"# first bad commit: [{h.slow}]", (done / "git-bisect.log").read_text())

    def test_a_range_that_is_not_one_is_refused_before_anything_is_built(self):
        h = self.history
        for args, said in (((h.head, h.root), "is not an ancestor of the bad end"),
                           ((h.root, "v9.9"), "--bad 'v9.9' is not a commit")):
            with self.subTest(args=args):
                proc = bisect("--tree", h.repo, "--good", args[0], "--bad", args[1], "--results-dir", self.tmp,
                              timeout=60)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(said, proc.stderr)
        self.assertEqual(list(self.tmp.glob("bisect-*/*.yaml")), [])
        proc = subprocess.run([str(CLI), "bisect", "configs/check.yaml", "--good", "a", "--bad", "b"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("configs/check.yaml: the base is not a git tree", proc.stderr)


if __name__ == "__main__":
    unittest.main()

"""``balloon-harness bisect`` refuses a range that is not one before anything is built: a reversed range, a ref
that is not a commit, a base that is not a git tree.  The bisection itself runs end to end, with real builds and
boots, under ``nightly --bisect`` (tests/integration/test_nightly_bisect.py): it names the planted commit and skips
the one that does not build."""

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
        cls.history = planted.cached(commits=4, broken=2, slow=4)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.tmp], check=True)

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

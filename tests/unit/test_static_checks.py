"""checkpatch per patch (intake/checkpatch.py) with the base tree's own checkpatch.pl, and the comparison of
warnings by file and message (build/warnings.py); tests/integration/test_static_checks.py builds for real."""

import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import cache
from harness.build import warnings
from harness.intake import checkpatch, tree
from harness.intake.series import read_series
from harness.judge import static

ROOT = Path(__file__).resolve().parents[2]
FILE = "drivers/virtio/virtio_balloon.c"


def patch(tmp, message, lines, signed=True):
    """A one-patch series changing FILE to ``lines``, with commit ``message``."""
    repo = tmp / "repo"
    (repo / FILE).parent.mkdir(parents=True)
    (repo / FILE).write_text("int a;\n")
    git = ["git", "-c", "user.name=T Tester", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    (repo / FILE).write_text("".join(f"{line}\n" for line in lines))
    subprocess.run([*git, "commit", "-qam", message, *(["-s"] if signed else [])], cwd=repo, check=True)
    subprocess.run([*git, "format-patch", "-q", "-o", tmp / "series", "HEAD~1"], cwd=repo, check=True)
    return read_series(tmp / "series")


class CheckpatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = tree.pristine(tree.resolve({"debian": "linux-source-6.1"}), cache.root())  # unpacked once

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="test-checkpatch-"))
        self.addCleanup(shutil.rmtree, self.tmp)

    def test_a_long_line_and_a_missing_sign_off_are_counted_and_quoted(self):
        series = patch(self.tmp, "virtio_balloon: a long line\n\nA line longer than the kernel likes.",
                       ["int a;", "int b = " + " + ".join(["1"] * 40) + ";"], signed=False)
        [checked] = checkpatch.check(self.base, series)
        self.assertEqual((checked.errors, checked.warnings), (1, 1))
        self.assertIn("ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)", checked.lines)
        self.assertTrue(any(line.startswith("WARNING:LONG_LINE:") for line in checked.lines), checked.lines)
        rec = checkpatch.record([checked])
        self.assertEqual(static.checkpatch_text(rec), "checkpatch: 1 error in the patch; 1 warning in the patch")

    def test_our_own_series_are_clean(self):
        for path in ("patches/batch-pfns/v1", "patches/batch-pfns/v2", "patches/ranges/v3", "patches/buggy-actual/v1",
                     "patches/faults/extra-work"):
            with self.subTest(path=path):
                rec = checkpatch.record(checkpatch.check(self.base, read_series(ROOT / path)))
                self.assertEqual(static.checkpatch_text(rec), "checkpatch: clean")

    def test_strict_adds_checks(self):
        series = patch(self.tmp, "virtio_balloon: spaces\n\nA cast with a space.", ["int a;", "int b = (int) 1;"])
        self.assertEqual(checkpatch.check(self.base, series)[0].checks, 0)
        self.assertEqual(checkpatch.check(self.base, series, strict=True)[0].checks, 1)


class CompareTest(unittest.TestCase):
    """Warnings match by file and message: lines move."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="test-warnings-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.series = patch(self.tmp, "virtio_balloon: x\n\nx", ["int a;", "void f(void) { int unused; unused = 1; }"])
        self.tree = self.tmp / "repo"
        self.old = "warning: variable 'old' set but not used [-Wunused-but-set-variable]"
        self.new = "warning: variable 'unused' set but not used [-Wunused-but-set-variable]"

    def test_code_that_only_moves_is_not_flagged(self):
        base = {"default": [], "W=1": [(FILE, 10, self.old)]}
        moved = {"default": [], "W=1": [(FILE, 40, self.old)]}
        rec = warnings.compare(base, moved, self.tree, self.series)
        self.assertEqual((rec["new"], rec["removed"]), ([], []))
        self.assertEqual(static.warnings_text(rec), "no new warnings (default, W=1)")

    def test_a_new_warning_names_its_line_and_patch_and_a_removed_one_is_named(self):
        base = {"default": [], "W=1": [(FILE, 10, self.old)]}
        variant = {"default": [], "W=1": [(FILE, 2, self.new)]}
        rec = warnings.compare(base, variant, self.tree, self.series)
        self.assertEqual(rec["new"], [{"level": "W=1", "file": FILE, "line": 2, "message": self.new,
                                       "patch": "virtio_balloon: x"}])
        self.assertEqual(rec["removed"], [{"level": "W=1", "file": FILE, "message": self.old}])
        self.assertEqual(static.warnings_text(rec), f"1 new warning (default, W=1): {FILE}:2: {self.new} "
                                             "(virtio_balloon: x)")

    def test_a_series_that_compiles_nothing_runs_no_make(self):
        """A series of Makefiles only: no object to compile again, and make without targets would build all."""
        self.assertEqual(warnings.objects(self.tree, ["drivers/virtio/Makefile"]), [])
        self.assertEqual(warnings.compiled(self.tmp / "no-tree", [], self.tmp / "log", sandboxed=False),
                         {name: [] for name, _ in warnings.levels()})

    def test_a_warning_of_every_level_is_new_once(self):
        both = {"default": [(FILE, 2, self.new)], "W=1": [(FILE, 2, self.new)]}
        rec = warnings.compare({"default": [], "W=1": []}, both, self.tree, self.series)
        self.assertEqual([w["level"] for w in rec["new"]], ["default"])


if __name__ == "__main__":
    unittest.main()

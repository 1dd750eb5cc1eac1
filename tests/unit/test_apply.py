"""harness.apply: every classification on small real trees, with real `git apply` and GNU `patch`."""

import shutil
import tempfile
import unittest
from pathlib import Path

from trees import BASE, FILE, git, write_tree

from harness.errors import ApplyError, PrerequisiteError, SeriesError
from harness.intake.apply import apply_series, check_series
from harness.intake.series import read_series

SEED = Path(__file__).resolve().parents[2] / "patches" / "virtio-balloon-v7" / "received" / "0001-seed.txt"
HEADER = "@@ -17,7 +17,7 @@"  # the hunk of a patch that changes line 20


def make_series(root: Path, *edits) -> tuple[Path, list[str]]:
    """Commit each edit ({line number: new text}) on BASE in a new repo; return the format-patch dir and the result."""
    repo = write_tree(root / "repo", BASE)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    lines = list(BASE)
    for n, edit in enumerate(edits, 1):
        lines = [edit.get(i, line) for i, line in enumerate(lines, 1)]
        write_tree(repo, lines)
        git(repo, "commit", "-qam", f"virtio-balloon: change {n}")
    git(repo, "format-patch", "-q", "--numbered", "-o", root / "series", f"HEAD~{len(edits)}")
    return root / "series", lines


def edited(lines, edit=None, insert_top=0, drop=()):
    lines = [f"/* new {n} */" for n in range(insert_top)] + [(edit or {}).get(i, x) for i, x in enumerate(lines, 1)]
    return [x for i, x in enumerate(lines, 1) if i not in drop]


class ApplyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="test-apply-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.dir, self.patched = make_series(self.tmp, {20: "\tstat_20 = 0;"})
        self.series = read_series(self.dir)
        self.log = self.tmp / "logs" / "apply.log"

    def tree(self, lines, name="tree"):
        return write_tree(self.tmp / name, lines)

    def status(self, lines):
        (outcome,) = check_series(self.tree(lines), self.series)
        return outcome

    def test_clean(self):
        self.assertEqual(self.status(BASE).status, "clean")

    def test_offset_names_hunk_line_and_offset(self):
        outcome = self.status(edited(BASE, insert_top=2))
        self.assertEqual(outcome.status, "offset")
        self.assertEqual(outcome.detail, f"{FILE} hunk 1 at line 19 (offset 2 lines)")

    def test_fuzz_is_classified_and_applied_with_patch(self):
        tree_lines = edited(BASE, {17: "\tstat_17 = changed;"})
        outcome = self.status(tree_lines)
        self.assertEqual(outcome.status, "fuzz")
        self.assertIn("with fuzz 1", outcome.detail)
        tree = self.tree(tree_lines, "real")
        (applied,) = apply_series(tree, self.series, self.log)
        self.assertEqual(applied.status, "fuzz")
        self.assertEqual((tree / FILE).read_text().splitlines(), edited(self.patched, {17: "\tstat_17 = changed;"}))
        self.assertEqual(sorted(p.name for p in (tree / FILE).parent.iterdir()), ["virtio_balloon.c"])  # no .orig/.rej

    def test_already_applied(self):
        outcome = self.status(self.patched)
        self.assertEqual(outcome.status, "already-applied")
        with self.assertRaises(ApplyError) as caught:
            apply_series(self.tree(self.patched, "real"), self.series, self.log)
        error = caught.exception
        for part in ("1/1 virtio-balloon: change 1", "already-applied", FILE, HEADER):
            self.assertIn(part, error.cause)
        self.assertIn("already contains", error.hint)
        self.assertEqual(error.log, self.log)
        self.assertIn("$ git apply --check -R", self.log.read_text())

    def test_conflict_reports_hunk_and_where_its_context_moved(self):
        outcome = self.status(edited(BASE, {20: "\tstat_20 = other();"}, insert_top=10))
        self.assertEqual(outcome.status, "conflict")
        self.assertIn(f"{FILE}: hunk {HEADER}", outcome.detail)
        self.assertIn("'stat_17 = read_stat(vb, 17);'", outcome.detail)
        self.assertIn("context found at line 27 (header says 17)", outcome.detail)
        with self.assertRaises(ApplyError) as caught:
            apply_series(self.tree(edited(BASE, {20: "x"}), "real"), self.series, self.log)
        self.assertIn(HEADER, caught.exception.cause)
        self.assertTrue(self.log.is_file())

    def test_conflict_context_not_found(self):
        outcome = self.status(edited(BASE, drop=range(15, 26)))
        self.assertEqual(outcome.status, "conflict")
        self.assertIn("context not found", outcome.detail)

    def test_check_is_cumulative_and_never_writes_the_tree(self):
        tmp = self.tmp / "two"
        tmp.mkdir()
        # patch 2 changes line 21, whose hunk context holds line 20 as patch 1 left it: it only applies after patch 1
        series = read_series(make_series(tmp, {20: "\tstat_20 = 0;"}, {21: "\tstat_21 = 0;"})[0])
        tree = self.tree(BASE)
        snapshot = lambda: sorted((p, p.is_file() and p.read_bytes()) for p in tree.rglob("*"))
        before = snapshot()
        self.assertEqual([o.status for o in check_series(tree, series)], ["clean", "clean"])
        self.assertEqual(snapshot(), before)

    def test_apply_in_order_and_log_every_command(self):
        tmp = self.tmp / "two"
        tmp.mkdir()
        directory, final = make_series(tmp, {20: "\tstat_20 = 0;"}, {21: "\tstat_21 = 0;"})
        tree = self.tree(BASE)
        seen = []
        outcomes = apply_series(tree, read_series(directory), self.log, on_applied=lambda p, o: seen.append(p.index))
        self.assertEqual([o.status for o in outcomes], ["clean", "clean"])
        self.assertEqual(seen, [1, 2])
        self.assertEqual((tree / FILE).read_text().splitlines(), final)
        self.assertEqual(self.log.read_text().count("$ git apply --check -v"), 2)

    def test_tree_inside_another_git_work_tree(self):
        outer = self.tmp / "outer"
        outer.mkdir()
        git(outer, "init", "-q")
        tree = write_tree(outer / "sub" / "linux", BASE)
        apply_series(tree, self.series, self.log)
        self.assertEqual((tree / FILE).read_text().splitlines(), self.patched)

    def test_refuses_an_unusable_series(self):
        with self.assertRaises(SeriesError) as caught:
            apply_series(self.tree(BASE), read_series(SEED), self.log)
        for code in ("missing-members", "hunk-mismatch", "wrapped-line"):
            self.assertIn(code, caught.exception.cause)
        self.assertFalse(self.log.exists())

    def test_missing_tree(self):
        for run in (lambda t: check_series(t, self.series), lambda t: apply_series(t, self.series, self.log)):
            with self.assertRaises(PrerequisiteError) as caught:
                run(self.tmp / "nope")
            self.assertIn(f"{self.tmp / 'nope'}: no such source tree", caught.exception.cause)

    def test_malformed_patch_is_not_checked(self):
        (outcome,) = check_series(self.tree(BASE), read_series(SEED))
        self.assertEqual(outcome.status, "not-checked")
        self.assertIn("hunk-mismatch", outcome.detail)


if __name__ == "__main__":
    unittest.main()

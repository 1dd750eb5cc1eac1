"""Bisection: the range checked before anything is built, git's own bisection driven by a step's word, the diff a
step applies, a series' history, and the words of the judge (the real counterpart: tests/integration/test_bisect.py
bisects a planted kernel history with real builds and boots)."""

import contextlib
import io
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import cli
from harness.config import loader, template
from harness.errors import ConfigError
from harness.intake import history
from harness.intake.series import read_series
from harness.judge import bisection

from tests.unit.trees import FILE, git

ROOT = Path(__file__).resolve().parents[2]


def repo(root, commits):
    """A repository whose commit k sets FILE to 'k' (k = 0 .. commits); returns the commit ids."""
    git(root, "init", "-q")
    ids = []
    for k in range(commits + 1):
        (root / FILE).parent.mkdir(parents=True, exist_ok=True)
        (root / FILE).write_text(f"line {k}\n")
        git(root, "add", FILE)
        git(root, "commit", "-q", "-m", f"commit {k}")
        ids.append(git(root, "rev-parse", "HEAD").strip())
    return ids


def results(ratio, ci, verdict, status="PASS", stage=None, metric="guest_insns"):
    """A step's results.json as the judge reads it: the good end and one commit, one comparison."""
    def outcome(variant, status, stage):
        return {"variant": variant, "status": status, "reason": "why" if status != "PASS" else "", "stage": stage}
    comp = {"variant": "at-c", "baseline": "good", "op": "inflate", "metric": metric, "axis": "variant",
            "ratio": ratio, "ci": ci, "verdict": verdict}
    return {"variants": [{"name": "good"}, {"name": "at-c"}], "samples": [],
            "outcomes": [outcome("good", "PASS", None), outcome("at-c", status, stage)],
            "comparisons": [comp] if ratio else []}


class RangeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.ids = repo(self.tmp, 8)

    def test_bad_ends_are_named_before_anything_is_built(self):
        for args, said in (((self.tmp / FILE, "HEAD~1", "HEAD"), "not a git tree"),
                           ((self.tmp, "nosuchref", "HEAD"), "--good 'nosuchref' is not a commit"),
                           ((self.tmp, "HEAD", "HEAD~3"), "is not an ancestor of the bad end"),
                           ((self.tmp, "HEAD", self.ids[-1]), "are the same commit")):
            with self.subTest(args=args), self.assertRaisesRegex(ConfigError, said):
                history.Range.of(*args)

    def test_git_names_the_first_bad_commit_and_leaves_the_tree_alone(self):
        rng = history.Range.of(self.tmp, self.ids[0], self.ids[-1])
        self.assertEqual(rng.commits, 8)
        bisect = history.Bisection(rng, self.tmp / "private.git")
        tried = []
        while (commit := bisect.next):
            k = self.ids.index(commit)
            tried.append(k)
            bisect.mark("skip" if k == 4 else "bad" if k >= 6 else "good")
        self.assertEqual(bisect.first_bad, self.ids[6])
        self.assertLessEqual(len(tried), 5)
        self.assertIn(f"# first bad commit: [{self.ids[6]}]", bisect.log)
        self.assertFalse((self.tmp / ".git" / "BISECT_LOG").exists())  # the user's tree knows nothing of it
        self.assertEqual(git(self.tmp, "status", "--porcelain").strip(), "?? private.git/")

    def test_only_skipped_commits_left_are_named_as_the_possible_ones(self):
        bisect = history.Bisection(history.Range.of(self.tmp, self.ids[0], self.ids[2]), self.tmp / "b.git")
        while (commit := bisect.next):
            bisect.mark("skip" if commit == self.ids[1] else "bad")
        self.assertIsNone(bisect.first_bad)
        self.assertEqual(sorted(bisect.possible), sorted(self.ids[1:3]))

    def test_a_step_is_the_good_end_plus_one_diff_to_the_commit(self):
        rng = history.Range.of(self.tmp, self.ids[2], self.ids[-1])
        series = read_series(history.diff(rng, self.ids[5], self.tmp / "step"))
        self.assertEqual(series.patches[0].subject, f"{self.ids[2][:12]}..{self.ids[5][:12]}: 3 commits as one diff")
        work = Path(tempfile.mkdtemp())
        (work / FILE).parent.mkdir(parents=True)
        (work / FILE).write_text("line 2\n")
        subprocess.run(["patch", "-p1", "-s", "-i", series.patches[0].path], cwd=work, check=True)
        self.assertEqual((work / FILE).read_text(), "line 5\n")


    def test_a_diff_ending_in_an_empty_context_line_applies(self):
        (self.tmp / FILE).write_text("a\n\nb\n\n")
        git(self.tmp, "commit", "-q", "-am", "two paragraphs")
        (self.tmp / FILE).write_text("A\n\nb\n\n")
        git(self.tmp, "commit", "-q", "-am", "a capital")
        ids = git(self.tmp, "rev-list", "HEAD", "-2").split()
        rng = history.Range.of(self.tmp, ids[1], ids[0])
        patch = history.diff(rng, ids[0], self.tmp / "step") / "0001-bisect-step.patch"
        self.assertTrue(patch.read_text().endswith("\n \n"))  # the empty line is a context line of one space
        work = Path(tempfile.mkdtemp())
        (work / FILE).parent.mkdir(parents=True)
        (work / FILE).write_text("a\n\nb\n\n")
        subprocess.run(["patch", "-p1", "-s", "-i", patch], cwd=work, check=True)
        self.assertEqual((work / FILE).read_text(), "A\n\nb\n\n")


class MirrorTest(unittest.TestCase):
    def test_commit_k_of_a_series_history_is_its_first_k_patches(self):
        series = read_series(ROOT / "patches" / "ranges" / "v3")
        dest = Path(tempfile.mkdtemp()) / "mirror"
        ids = history.mirror(series, dest)
        self.assertEqual(len(ids), len(series.patches) + 1)
        self.assertEqual(history.Range.of(dest, ids[0], ids[-1]).subject(ids[2]), series.patches[1].subject)
        self.assertEqual(history.mirror(series, Path(tempfile.mkdtemp()) / "again"), ids)  # fixed dates: same ids


class JudgeTest(unittest.TestCase):
    ENDS = results(1.20, (1.19, 1.21), "more")

    def test_the_ends_set_the_line_at_half_their_change_or_at_the_threshold(self):
        span = bisection.span(self.ENDS, "at-c", "inflate")
        self.assertEqual((span.metric, round(span.line, 4)), ("guest_insns", 0.10))
        self.assertEqual(round(bisection.span(self.ENDS, "at-c", "inflate", threshold=0.05).line, 4), 0.05)
        self.assertIn("within the threshold", bisection.span(self.ENDS, "at-c", "inflate", threshold=0.3))
        falls = bisection.span(results(0.8, (0.79, 0.81), "fewer"), "at-c", "inflate", threshold=0.05)
        self.assertEqual(round(falls.line, 4), -0.05)

    def test_ends_that_do_not_differ_say_the_change_is_not_between_them(self):
        said = bisection.span(results(1.0, (0.999, 1.001), "no significant change (could detect ±0.1 % with 80 % "
                                      "power)"), "at-c", "inflate")
        self.assertTrue(said.startswith("the change is not between these commits: inflate guest instructions"))
        self.assertIn("not both measured", bisection.span(results(None, None, "", "FAIL", "build"), "at-c", "inflate"))

    def test_a_step_is_bad_good_skipped_or_undecided_by_its_interval_against_the_line(self):
        span = bisection.span(self.ENDS, "at-c", "inflate")
        for step, said in ((results(1.2, (1.19, 1.21), "more"), "bad"),
                           (results(1.0, (0.99, 1.01), "no significant change"), "good"),
                           (results(1.02, (1.01, 1.03), "more"), "good"),  # a change, but short of the line
                           (results(1.1, (1.05, 1.15), "more"), None),
                           (results(None, None, "", "FAIL", "build"), "skip"),
                           (results(1.2, None, "inconclusive (needs ≥ 3 boots a side)"), None)):
            with self.subTest(ci=step["comparisons"] and step["comparisons"][0]["ci"]):
                self.assertEqual(bisection.word(step, "at-c", span)[0], said)
        self.assertEqual(bisection.word(results(None, None, "", "FAIL", "build"), "at-c", span)[1],
                         "did not build: FAIL: why")

    def test_the_transcript_names_the_first_bad_commit_the_skipped_and_the_bill(self):
        span = bisection.span(self.ENDS, "at-c", "inflate")
        comp = self.ENDS["comparisons"][0]
        steps = [bisection.Step("a" * 40, "broken", "skip", "did not build: x", None, 0, 1, ""),
                 bisection.Step("b" * 40, "slow", "bad", "...", comp, 6, 1, "job")]
        text = bisection.transcript("tree 0..8", span, steps, "b" * 40, [], 3.0, lambda c: "slow",
                                    {"builds": 1, "boots": 6})
        self.assertIn("first bad commit: bbbbbbbbbbbb slow: inflate guest instructions +20.00 % [+19.00, +21.00] "
                      "against the good end", text)
        self.assertIn("skipped: aaaaaaaaaaaa broken (did not build: x)", text)
        self.assertIn("bill: 2 commits tried besides the ends, 3 kernel builds, 12 boots, 3.0 min", text)
        text = bisection.transcript("tree 0..8", span, steps[:1], "c" * 40, [], 3.0, lambda c: "the bad end",
                                    {"builds": 1, "boots": 6})
        self.assertIn("first bad commit: cccccccccccc the bad end: inflate guest instructions +20.00 % [+19.00, "
                      "+21.00] against the good end", text)  # git named the bad end, measured with the good one


class CommandTest(unittest.TestCase):
    def test_a_series_range_that_is_not_one_is_refused_naming_the_series(self):
        series = str(ROOT / "patches" / "ranges" / "v3")
        for args, said in ((["--series", series, "--good", "3", "--bad", "2"], "is not a range of patch counts 0 ≤ "
                                                                                 "good < bad ≤ 4"),
                           (["--series", series, "--good", "v1"], "--good and --bad are patch counts, not 'v1'"),
                           (["--series", series, "--with", series], "--with applies a series on every commit"),
                           (["--good", "a"], "bisect needs --good REF and --bad REF")):
            with self.subTest(args=args):
                err = io.StringIO()
                with contextlib.redirect_stderr(err):
                    rc = cli.main(["bisect", str(ROOT / "configs" / "bisect.yaml"), *args, "--tree", str(ROOT),
                                   "--results-dir", tempfile.mkdtemp()] if "--series" not in args else
                                  ["bisect", str(ROOT / "configs" / "check.yaml"), *args,
                                   "--results-dir", tempfile.mkdtemp()])
                self.assertEqual(rc, 2)
                self.assertIn(said, err.getvalue())


class TemplateTest(unittest.TestCase):
    def test_a_written_job_loads_with_its_variants_and_looks(self):
        path = Path(tempfile.mkdtemp()) / "job.yaml"
        path.write_text(template.job_text(ROOT / "configs" / "default.yaml", {"debian": "linux-source-6.1"},
                                          {"good": {}, "at-1": {"series": "patches/ranges/v3", "patches": 2}}, 6))
        job = loader.load(path)
        self.assertEqual([(v.name, v.patches) for v in job.variants], [("good", None), ("at-1", 2)])
        self.assertEqual((job.rounds, tuple(job.looks)), (6, (3, 6)))


if __name__ == "__main__":
    unittest.main()

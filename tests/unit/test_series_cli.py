"""`balloon-harness series check|diff`, parsed by the module's own add_parser and run through args.func."""

import argparse
import contextlib
import io
import os
import shutil
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

from trees import BASE, FILE, git, write_tree

from harness.commands import series as series_command
from harness.errors import ApplyError, SeriesError
from harness.intake.fetch import source

SEED = Path(__file__).resolve().parents[2] / "patches" / "virtio-balloon-v7" / "received" / "0001-seed.txt"


def run(*argv) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="balloon-harness")
    series_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = args.func(args)
    return status, out.getvalue()


class SeriesCommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        """v1: lines 10 and 20 changed; v2: the same first patch, a different second one."""
        cls.tmp = Path(tempfile.mkdtemp(prefix="test-series-cli-"))
        for version, second in ((1, "\tstat_20 = 0;"), (2, "\tstat_20 = stat_19;")):
            repo = write_tree(cls.tmp / f"repo{version}", BASE)
            git(repo, "init", "-q")
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", "base")
            lines = list(BASE)
            for n, (at, text) in enumerate(((10, "\tstat_10 = 0;"), (20, second)), 1):
                lines[at - 1] = text
                write_tree(repo, lines)
                git(repo, "commit", "-qam", f"virtio-balloon: change {n}")
            git(repo, "format-patch", "-q", f"-v{version}", "-o", cls.tmp / f"v{version}", "HEAD~2")
        cls.base = write_tree(cls.tmp / "base", BASE)
        cls.moved = write_tree(cls.tmp / "moved", ["/* new */"] * 3 + BASE)
        cls.conflict = write_tree(cls.tmp / "conflict", BASE[:19] + ["\tstat_20 = other();"] + BASE[20:])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_seed_is_unusable(self):
        start = time.perf_counter()
        status, out = run("series", "check", str(SEED))
        self.assertLess(time.perf_counter() - start, 1.0)
        self.assertEqual(status, 1)
        self.assertEqual(out.splitlines()[-1], "verdict: unusable — v7, 1 of 5 present (missing 2, 3, 4, 5); "
                                               "5 malformed hunks; 4 wrapped lines; 1 warning; nothing applied")
        for line, header in ((56, "@@ -103,12 +103,6 @@"), (62, "@@ -181,18 +175,16 @@"), (80, "@@ -202,6 +194,7 @@"),
                             (88, "@@ -215,6 +208,7 @@"), (94, "@@ -226,7 +220,7 @@")):
            self.assertIn(f"error: hunk-mismatch at {SEED}:{line} 1/5 virtio-balloon: rework deflate to add... "
                          f"{header}", out)
        self.assertIn("warning: obfuscated-address", out)
        self.assertIn("not-checked", out)

    def test_seed_with_base_applies_nothing(self):
        before = sorted(p.name for p in self.base.rglob("*"))
        status, out = run("series", "check", str(SEED), "--base", str(self.base))
        self.assertEqual(status, 1)
        self.assertTrue(out.splitlines()[-1].endswith("nothing applied"))
        self.assertEqual(sorted(p.name for p in self.base.rglob("*")), before)
        self.assertEqual((self.base / FILE).read_text().splitlines(), BASE)

    def test_good_series_without_base(self):
        status, out = run("series", "check", str(self.tmp / "v1"))
        self.assertEqual(status, 0)
        self.assertEqual(out.count("not-checked"), 2)
        self.assertEqual(out.splitlines()[-1], "verdict: usable — v1, 2 of 2 present; "
                                               "not checked against a base (pass --base DIR)")

    def test_good_series_with_base(self):
        status, out = run("series", "check", str(self.tmp / "v1"), "--base", str(self.moved))
        self.assertEqual(status, 0)
        self.assertIn(f"offset: 1/2 virtio-balloon: change 1: {FILE} hunk 1 at line 10 (offset 3 lines)", out)
        self.assertEqual(out.splitlines()[-1],
                         "verdict: applies — v1, 2 of 2 present; made on another version of 1 file; 2 offset")
        self.assertIn(f"tree: {FILE}: made on version ", out)

    def test_conflict_exits_1(self):
        status, out = run("series", "check", str(self.tmp / "v1"), "--base", str(self.conflict))
        self.assertEqual(status, 1)
        self.assertIn("conflict: 2/2 virtio-balloon: change 2: drivers/virtio/virtio_balloon.c: hunk @@ -17,7 +17,7 @@",
                      out)
        self.assertEqual(out.splitlines()[-1], "verdict: does not apply — v1, 2 of 2 present; made on another "
                                               "version of 1 file; 1 clean, 1 conflict")

    def test_a_series_made_on_a_later_tree_names_its_version_and_applies_on_its_prerequisite(self):
        upstream = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"
        base = self.tmp / "linux-6.1.y"
        (base / FILE).parent.mkdir(parents=True)
        shutil.copy(upstream / "virtio_balloon.c-6.1.y", base / FILE)
        status, out = run("series", "check", str(upstream / "stats-wakeup"), "--base", str(base))
        self.assertEqual(status, 1)
        self.assertIn(f"tree: {FILE}: made on version 1f5b3dd31fcf, this base has e9abd958f69e (no history", out)
        self.assertEqual(out.splitlines()[-1], "verdict: does not apply — v1, 2 of 2 present; made on another "
                                               "version of 1 file; 2 conflict")
        status, out = run("series", "check", str(upstream / "stats-wakeup"), "--base", str(base),
                          "--prerequisite", str(upstream / "stay-awake"))
        self.assertEqual(status, 0)
        self.assertEqual(out.splitlines()[-1], "verdict: applies — v1, 2 of 2 present; 2 offset")

    def test_diff_prints_range_diff(self):
        status, out = run("series", "diff", str(self.tmp / "v1"), str(self.tmp / "v2"), "--base", str(self.base))
        self.assertEqual(status, 0)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^1: +[0-9a-f]+ = 1: +[0-9a-f]+ virtio-balloon: change 1$")
        self.assertRegex(lines[1], r"^2: +[0-9a-f]+ ! 2: +[0-9a-f]+ virtio-balloon: change 2$")
        self.assertIn("    -+\tstat_20 = 0;\n    ++\tstat_20 = stat_19;\n", out)

    def test_diff_of_a_series_that_does_not_apply(self):
        with self.assertRaises(ApplyError) as caught:
            run("series", "diff", str(self.tmp / "v1"), str(self.tmp / "v2"), "--base", str(self.conflict))
        self.assertIn("2/2 virtio-balloon: change 2: conflict", caught.exception.cause)
        self.assertTrue(caught.exception.log.is_file())
        shutil.rmtree(caught.exception.log.parent)


if __name__ == "__main__":
    unittest.main()


class MessageIdTest(unittest.TestCase):
    def test_a_message_id_is_fetched_with_b4_and_says_why_it_cannot_be(self):
        with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, {"PATH": tmp,
                                                                                "BALLOON_HARNESS_CACHE": tmp}):
            with self.assertRaises(SeriesError) as caught:
                run("series", "check", "<20170303054031.GA1@example.org>")
        self.assertIn("cannot fetch 20170303054031.GA1@example.org: the b4 tool is not installed",
                      caught.exception.cause)
        self.assertIsInstance(source(str(SEED)), Path)

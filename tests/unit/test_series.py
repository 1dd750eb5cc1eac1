"""harness.series: the real mangled seed mail, real `git format-patch` output, and each finding made on purpose."""

import email.message
import os
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

from harness.build import kernel
from harness.errors import ConfigError, SeriesError
from harness.intake.apply import check_series
from harness.intake.fetch import fetch_message_id
from harness.intake.series import read_series

SEED = Path(__file__).resolve().parents[2] / "patches" / "virtio-balloon-v7" / "received" / "0001-seed.txt"
SEED_HUNKS = {56: "@@ -103,12 +103,6 @@ static u32 page_to_balloon_pfn(struct page *page)",
              62: "@@ -181,18 +175,16 @@ static unsigned fill_balloon(struct virtio_balloon *vb,",
              80: "@@ -202,6 +194,7 @@ static unsigned leak_balloon(struct virtio_balloon *vb,",
              88: "@@ -215,6 +208,7 @@ static unsigned leak_balloon(struct virtio_balloon *vb,",
              94: "@@ -226,7 +220,7 @@ static unsigned leak_balloon(struct virtio_balloon *vb,"}
FILE = "drivers/virtio/virtio_balloon.c"
BASE = [f"\tstat_{n} = read_stat(vb, {n});" for n in range(1, 41)]
LONG = "\tvb->stats[VIRTIO_BALLOON_S_AVAIL] = cpu_to_virtio64(vb->vdev, si_mem_available() << PAGE_SHIFT);"
SUBJECTS = ["virtio-balloon: batch page frame numbers into ranges before telling the host about inflated pages",
            "virtio-balloon: add a list of deflated pages", "virtio-balloon: use the range array"]


def git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=T Tester", "-c", "user.email=t@example.org", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def codes(series, severity=None):
    return [f.code for f in series.findings if severity in (None, f.severity)]


class SeedTest(unittest.TestCase):
    """The real series as a web archive rendered it: lines lost, headers wrapped, addresses hidden."""

    @classmethod
    def setUpClass(cls):
        start = time.perf_counter()
        cls.series = read_series(SEED)
        cls.elapsed_s = time.perf_counter() - start

    def test_fast(self):
        self.assertLess(self.elapsed_s, 1.0)

    def test_tags_and_headers(self):
        s = self.series
        self.assertEqual((s.version, s.expected, len(s.patches), s.cover), (7, 5, 1, None))
        p = s.patches[0]
        self.assertEqual((p.index, p.total, p.version, p.prefixes), (1, 5, 7, ("kernel",)))
        self.assertEqual(p.subject, "virtio-balloon: rework deflate to add page to a list")
        self.assertEqual(p.author, "Liang Li <address@hidden>")  # the in-body From:, as git am would take it
        self.assertEqual(p.date, "Fri, 3 Mar 2017 13:40:26 +0800")
        self.assertEqual(p.files, (FILE,))
        self.assertTrue(p.label.startswith("1/5 virtio-balloon: rework deflate"))
        self.assertTrue(p.diff.startswith("diff --git a/drivers/virtio/virtio_balloon.c"))

    def test_missing_members(self):
        self.assertEqual(self.series.missing(), (2, 3, 4, 5))
        (missing,) = [f for f in self.series.findings if f.code == "missing-members"]
        self.assertEqual(missing.severity, "error")
        self.assertIn("1 of 5 present; missing 2, 3, 4, 5", missing.message)
        self.assertFalse(self.series.usable)

    def test_every_malformed_hunk_named_with_header_and_line(self):
        self.assertEqual({h.line: h.header for h in self.series.patches[0].hunks}, SEED_HUNKS)
        mismatches = [f for f in self.series.findings if f.code == "hunk-mismatch"]
        self.assertEqual(len(mismatches), 5)
        for finding, (line, header) in zip(mismatches, SEED_HUNKS.items()):
            self.assertIn(f"0001-seed.txt:{line} ", finding.where)
            self.assertTrue(finding.where.endswith(header))
        self.assertIn("says -103,12 +103,6 but the body has 5 old / 3 new lines: lines were lost",
                      mismatches[0].message)

    def test_wrapped_hunk_headers(self):
        wrapped = [f for f in self.series.findings if f.code == "wrapped-line"]
        self.assertEqual([int(f.where.split(":")[1].split()[0]) for f in wrapped], [63, 81, 89, 95])
        self.assertIn("'size_t num)'", wrapped[0].message)

    def test_obfuscated_addresses(self):
        (hidden,) = [f for f in self.series.findings if f.code == "obfuscated-address"]
        self.assertEqual(hidden.severity, "warning")
        self.assertIn("0001-seed.txt:11 ", hidden.where)

    def test_directory_holding_it_reads_the_same(self):
        again = read_series(SEED.parent)
        self.assertEqual((codes(again), again.patches), (codes(self.series), self.series.patches))


class SeriesTest(unittest.TestCase):
    """A real v2 series from `git format-patch`, and each defect made on a copy of it."""

    @classmethod
    def setUpClass(cls):
        cls.made = Path(tempfile.mkdtemp(prefix="test-series-"))
        repo = cls.made / "repo"
        (repo / FILE).parent.mkdir(parents=True)
        lines = list(BASE)
        git(repo, "init", "-q")
        for n, subject in enumerate([None] + SUBJECTS):
            if n:
                lines[n * 10] = LONG if n == 1 else f"\tstat_{n} = 0;"
            (repo / FILE).write_text("\n".join(lines) + "\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", subject or "base")
        cls.repo, cls.base_sha = repo, git(repo, "rev-parse", "HEAD~3").strip()
        git(repo, "format-patch", "-q", "-v2", "--thread", "--cover-letter", f"--base={cls.base_sha}",
            "-o", cls.made / "v2", "HEAD~3")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.made)

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="test-series-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.dir = shutil.copytree(self.made / "v2", self.tmp / "v2")
        self.files = sorted(self.dir.iterdir())  # cover letter, then 1/3, 2/3, 3/3

    def edit(self, n, old, new, count=1):
        text = self.files[n].read_text()
        self.assertIn(old, text)
        self.files[n].write_text(text.replace(old, new, count))

    def test_format_patch_directory(self):
        (self.dir / "series.yaml").write_text("base: v6.1\nnotes: made by the test\n")
        s = read_series(self.dir)
        self.assertEqual((s.version, s.expected, s.missing(), s.findings), (2, 3, (), ()))
        self.assertTrue(s.usable)
        self.assertEqual(s.meta, {"base": "v6.1", "notes": "made by the test"})
        self.assertEqual((s.cover.index, s.cover.base_commit), (0, self.base_sha))
        self.assertEqual([p.subject for p in s.patches], SUBJECTS)  # the folded long Subject: comes back whole
        p = s.patches[0]
        self.assertEqual((p.index, p.total, p.version, p.author), (1, 3, 2, "T Tester <t@example.org>"))
        self.assertTrue(p.message_id)
        numstat = git(self.repo, "diff", "--numstat", "HEAD~3", "HEAD~2").split()
        self.assertEqual(p.diffstat, ((FILE, int(numstat[0]), int(numstat[1])),))
        (hunk,) = p.hunks
        self.assertEqual((hunk.old_start, hunk.old_len, hunk.old_count, hunk.new_count), (8, 7, 7, 7))
        self.assertEqual(self.files[1].read_text().split("\n")[hunk.line - 1], hunk.header)

    def test_mbox_with_line_numbers_across_messages(self):
        mbox = self.tmp / "v2.mbx"
        mbox.write_text(git(self.repo, "format-patch", "--stdout", "-v2", "--cover-letter", "HEAD~3"))
        s = read_series(mbox)
        self.assertEqual(([p.index for p in s.patches], s.findings), ([1, 2, 3], ()))
        lines = mbox.read_text().split("\n")
        for p in s.patches:
            self.assertEqual(lines[p.hunks[0].line - 1], p.hunks[0].header)

    def test_directory_holding_one_mbox(self):
        (self.tmp / "box").mkdir()
        (self.tmp / "box" / "series.mbox").write_text(git(self.repo, "format-patch", "--stdout", "-v2", "HEAD~3"))
        self.assertEqual([p.index for p in read_series(self.tmp / "box").patches], [1, 2, 3])

    def test_plain_diff_without_mail_headers(self):
        diff = self.tmp / "fix.diff"
        diff.write_text(git(self.repo, "diff", "HEAD~1", "HEAD"))
        s = read_series(diff)
        (p,) = s.patches
        self.assertEqual((p.index, p.label, p.files, s.findings), (None, "fix.diff", (FILE,), ()))

    def test_missing_member(self):
        self.files[2].unlink()
        s = read_series(self.dir)
        self.assertEqual((s.missing(), codes(s)), ((2,), ["missing-members"]))

    def test_duplicate_member(self):
        shutil.copy(self.files[2], self.dir / "v2-0002-copy.patch")
        s = read_series(self.dir)
        self.assertEqual(codes(s, "error"), ["duplicate-member"])
        self.assertIn("appears 2 times", s.findings[0].message)

    def test_mixed_versions(self):
        self.edit(3, "[PATCH v2 3/3]", "[PATCH v3 3/3]")
        s = read_series(self.dir)
        self.assertEqual(codes(s), ["mixed-versions"])
        self.assertIn("v2: 0/3, 1/3, 2/3; v3: 3/3", s.findings[0].message)

    def test_lost_line_is_a_hunk_mismatch(self):
        self.edit(2, " \tstat_18 = read_stat(vb, 18);\n", "")
        (finding,) = read_series(self.dir).findings
        self.assertEqual(finding.code, "hunk-mismatch")
        self.assertIn("says -18,7 +18,7 but the body has 6 old / 6 new lines", finding.message)
        self.assertIn("v2-0002-", finding.where)

    def test_wrapped_long_line(self):
        self.edit(1, " << PAGE_SHIFT);", " <<\nPAGE_SHIFT);")
        s = read_series(self.dir)
        self.assertEqual(codes(s), ["wrapped-line"])
        line = self.files[1].read_text().split("\n").index("PAGE_SHIFT);") + 1
        self.assertIn(f"{self.files[1].name}:{line} ", s.findings[0].where)

    def test_crlf_is_a_warning_and_stripped(self):
        lf = read_series(self.files[1]).patches[0]
        self.files[1].write_bytes(self.files[1].read_bytes().replace(b"\n", b"\r\n"))
        s = read_series(self.dir)
        self.assertEqual((codes(s, "warning"), codes(s, "error")), (["crlf"], []))
        self.assertEqual((s.patches[0].diff, s.patches[0].hunks), (lf.diff, lf.hunks))

    def test_undecoded_quoted_printable_escape(self):
        self.edit(2, "+\tstat_2 = 0;", "+\tstat_2 =3D 0;")
        self.assertEqual(codes(read_series(self.dir)), ["undecoded-qp"])

    def test_undecoded_quoted_printable_soft_break(self):
        self.edit(1, "cpu_to_virtio64(vb->vdev, si_mem", "cpu_to_virtio64(vb->vdev, si_mem=\n")
        self.assertIn("undecoded-qp", codes(read_series(self.dir)))

    def test_decoded_quoted_printable_mail_is_clean(self):
        msg = email.message.EmailMessage()
        msg["Subject"], msg["From"] = "[PATCH 1/1] virtio-balloon: qp", "T Tester <t@example.org>"
        msg.set_content("Fix.\n---\n" + git(self.repo, "diff", "HEAD~3", "HEAD~2"), cte="quoted-printable")
        (self.tmp / "qp.eml").write_bytes(bytes(msg))
        self.assertIn(b"=3D", bytes(msg))
        s = read_series(self.tmp / "qp.eml")
        self.assertEqual(s.findings, ())
        self.assertIn("+" + LONG + "\n", s.patches[0].diff)

    def test_what_runs_at_build_time_and_paths_outside_the_tree_are_named(self):
        self.edit(2, f"{FILE}", "drivers/virtio/Makefile", -1)
        self.edit(3, f"a/{FILE}", "a/../../../tmp/x", -1)
        self.edit(3, f"b/{FILE}", "b/../../../tmp/x", -1)
        series = read_series(self.dir)
        found = {(f.severity, f.code): f.message for f in series.findings}
        self.assertEqual(found[("warning", "runs-at-build")],
                         f"{series.patches[1].label} changes drivers/virtio/Makefile: runs at build time")
        self.assertEqual(found[("error", "outside-tree")],
                         f"{series.patches[2].label} names ../../../tmp/x, a path outside the tree")
        self.assertFalse(series.usable)
        tree = self.tmp / "tree"
        (tree / FILE).parent.mkdir(parents=True)
        (tree / FILE).write_text("\n".join(BASE) + "\n")
        (outcome,) = check_series(tree, read_series(self.files[3]))
        self.assertEqual((outcome.status, outcome.detail), ("not-checked", "malformed: outside-tree"))

    def test_mailing_list_tag_dropped_and_prefixes_kept(self):
        self.edit(1, "[PATCH v2 1/3] virtio-balloon:", "[Qemu-devel] [RFC PATCH v2 net-next 1/3] {pfn|len}:")
        p = read_series(self.files[1]).patches[0]
        subject = SUBJECTS[0].replace("virtio-balloon:", "{pfn|len}:")
        self.assertEqual((p.index, p.version, p.prefixes, p.subject), (1, 2, ("RFC", "net-next"), subject))

    def test_only_a_cover_letter(self):
        s = read_series(self.files[0])
        self.assertEqual((s.cover.index, codes(s)), (0, ["no-patches", "missing-members"]))

    def test_mail_without_a_diff(self):
        text = self.files[2].read_text()
        self.files[2].write_text(text[:text.index("---\n")])
        self.assertEqual(codes(read_series(self.dir)), ["no-diff"])

    def test_unreadable_input_raises(self):
        (self.tmp / "empty").mkdir()
        (self.tmp / "notes.txt").write_text("nothing to see here\n")
        (self.dir / "series.yaml").write_text("base: [v6.1\n")
        for path, part in ((self.tmp / "nope", "no such file"), (self.tmp / "empty", "holds no *.patch"),
                           (self.tmp / "notes.txt", "nothing patch-like"), (self.dir, "series.yaml")):
            with self.subTest(path=path), self.assertRaises(SeriesError) as caught:
                read_series(path)
            self.assertIn(str(path), caught.exception.cause)
            self.assertIn(part, caught.exception.cause)


class PrefixTest(unittest.TestCase):
    RANGES = Path(__file__).resolve().parents[2] / "patches" / "ranges" / "v3"

    def test_a_prefix_is_the_first_patches_with_the_cover_and_metadata_kept(self):
        whole = read_series(self.RANGES)
        two = whole.prefix(2)
        self.assertEqual([p.index for p in two.patches], [1, 2])
        self.assertEqual((two.cover, two.meta, two.source, two.expected), (whole.cover, whole.meta, whole.source, 4))
        self.assertEqual(whole.prefix(4), whole)

    def test_a_step_past_the_last_patch_is_named_with_the_count(self):
        with self.assertRaisesRegex(ConfigError, r"patches/ranges/v3: patches: 5 asks for more patches than the "
                                                 r"series has \(4\)"):
            kernel._prefix(read_series(self.RANGES), 5)


class FetchTest(unittest.TestCase):
    """Offline only: b4 absent, and b4 failing (a stand-in script, so nothing tries the network)."""

    def test_without_b4(self):
        with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, {"PATH": tmp}):
            with self.assertRaises(SeriesError) as caught:
                fetch_message_id("20170303054031.GA1@example.org", Path(tmp) / "out")
        self.assertIn("b4 tool is not installed", caught.exception.cause)
        self.assertIn("run `b4 am 20170303054031.GA1@example.org` on a machine with network access",
                      caught.exception.hint)

    def test_b4_fails(self):
        with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, {"PATH": f"{tmp}:/usr/bin:/bin"}):
            b4 = Path(tmp) / "b4"
            b4.write_text("#!/bin/sh\necho 'Grabbing thread: could not connect' >&2\nexit 1\n")
            b4.chmod(0o755)
            with self.assertRaises(SeriesError) as caught:
                fetch_message_id("x@y", Path(tmp) / "out")
        self.assertIn("could not connect", caught.exception.cause)
        self.assertIn("pass the .mbx", caught.exception.hint)


if __name__ == "__main__":
    unittest.main()

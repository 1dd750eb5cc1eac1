"""harness.intake.origin: which version of each file a series was made on, in real git histories."""

import shutil
import tempfile
import unittest
from pathlib import Path

from trees import BASE, FILE, git, write_tree

from harness.intake import origin
from harness.intake.series import read_series


def commit(repo, lines, subject):
    write_tree(repo, lines)
    git(repo, "commit", "-qam", subject)
    return git(repo, "rev-parse", "HEAD").strip()


class OriginTest(unittest.TestCase):
    """v1 (the base) → 'prerequisite' changes line 5, tagged v2 → a series made on v2 changes line 6."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="test-origin-"))
        cls.repo = write_tree(cls.tmp / "repo", BASE)
        git(cls.repo, "init", "-q")
        git(cls.repo, "add", "-A")
        git(cls.repo, "commit", "-qm", "base")
        git(cls.repo, "tag", "v1")
        cls.prerequisite = commit(cls.repo, BASE[:4] + ["\tstat_5 = 5;"] + BASE[5:], "virtio_balloon: prerequisite")
        git(cls.repo, "tag", "v2")
        commit(cls.repo, BASE[:4] + ["\tstat_5 = 5;", "\tstat_6 = 6;"] + BASE[6:], "virtio_balloon: the series")
        git(cls.repo, "format-patch", "-q", "-o", cls.tmp / "series", "HEAD~1")
        cls.series = read_series(cls.tmp / "series")
        cls.plain = write_tree(cls.tmp / "plain", BASE)  # v1's file, no history

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def at(self, ref):
        git(self.repo, "checkout", "-q", ref)
        self.addCleanup(git, self.repo, "checkout", "-q", "master")
        return origin.origins(self.repo, self.series, *origin.history_of(self.repo))

    def test_made_on_this_version(self):
        [found] = self.at("v2")
        self.assertTrue(found.same)
        self.assertIn(f"{FILE}: made on this base's version", found.text())

    def test_a_base_lacking_a_commit_names_it(self):
        [found] = self.at("v1")
        self.assertFalse(found.same)
        self.assertEqual(found.commit, self.prerequisite)
        self.assertEqual(found.name, "v2")
        self.assertEqual(found.lacking, (f"{self.prerequisite[:7]} virtio_balloon: prerequisite",))
        self.assertIn(f"first in {self.prerequisite[:12]} (v2): the base lacks 1 commit(s) touching it: "
                      f"{self.prerequisite[:7]} virtio_balloon: prerequisite", found.text())

    def test_a_base_beyond_the_version_names_its_later_commits(self):
        [found] = self.at("master")
        self.assertFalse(found.same)
        self.assertEqual(found.lacking, ())
        self.assertEqual([c.split(" ", 1)[1] for c in found.newer], ["virtio_balloon: the series"])
        self.assertIn("which the base has, with 1 later commit(s) touching it", found.text())

    def test_a_base_without_history_says_what_would_find_the_commit(self):
        self.assertEqual(origin.history_of(self.plain), (None, None))
        [found] = origin.origins(self.plain, self.series)
        self.assertFalse(found.same)
        self.assertEqual(found.base_blob, git(self.repo, "rev-parse", f"v1:{FILE}").strip())
        self.assertIn("no history to say which commit: give a git base", found.text())
        self.assertTrue(origin.summary([found]).startswith("made on another tree: "))

    def test_a_version_no_commit_holds(self):
        other = self.tmp / "other"
        shutil.copytree(self.repo, other)
        self.addCleanup(shutil.rmtree, other)
        git(other, "checkout", "-q", "v1")
        git(other, "reflog", "expire", "--expire=now", "--all")
        git(other, "tag", "-d", "v2")
        git(other, "branch", "-D", "master")
        git(other, "gc", "-q", "--prune=now")
        [found] = origin.origins(other, self.series, *origin.history_of(other))
        self.assertIsNone(found.commit)
        self.assertIn("no commit of the base's history holds that version", found.text())

    def test_new_files_have_no_pre_image(self):
        repo = self.tmp / "new"
        write_tree(repo, BASE)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        (repo / "drivers" / "virtio" / "new.c").write_text("int x;\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "add a file")
        git(repo, "format-patch", "-q", "-o", self.tmp / "new-series", "HEAD~1")
        self.assertEqual(origin.pre_images(read_series(self.tmp / "new-series")), {})
        self.assertIsNone(origin.summary(origin.origins(repo, read_series(self.tmp / "new-series"))))


if __name__ == "__main__":
    unittest.main()


UPSTREAM = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"


class UpstreamOriginTest(unittest.TestCase):
    """The 2024 stats-wakeup series (made on v6.8's file) against the 6.1.y file, with real upstream versions of
    the file as a history: 6.1.y, then mainline before stay-awake, stay-awake (b12fbc3f787e), v6.8."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="test-origin-upstream-"))
        cls.repo = cls.tmp / "linux"
        (cls.repo / FILE).parent.mkdir(parents=True)
        git(cls.tmp, "init", "-q", cls.repo)
        cls.commits = {}
        for name, subject, tag in (("6.1.y", "the stable base", "v6.1.192"),
                                   ("b12fbc3f787e-preimage", "mainline before stay-awake", None),
                                   ("b12fbc3f787e", "virtio_balloon: stay awake while adjusting balloon", "v6.8-rc1"),
                                   ("810d831bbbf3-preimage", "mm, treewide: Rename MAX_ORDER to MAX_PAGE_ORDER",
                                    "v6.8")):
            shutil.copy(UPSTREAM / f"virtio_balloon.c-{name}", cls.repo / FILE)
            git(cls.repo, "add", "-A")
            git(cls.repo, "commit", "-qm", subject)
            cls.commits[name] = git(cls.repo, "rev-parse", "HEAD").strip()
            if tag:
                git(cls.repo, "tag", tag)
        git(cls.repo, "checkout", "-q", "v6.1.192")
        cls.series = read_series(UPSTREAM / "stats-wakeup")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_the_series_names_v6_8_and_the_commits_the_base_lacks(self):
        [found] = origin.origins(self.repo, self.series, *origin.history_of(self.repo))
        self.assertEqual(found.made_on, "1f5b3dd31fcfc9988282c9c65cee7a6d95475b9e")
        self.assertEqual(found.base_blob, "e9abd958f69e3e65b3cb0fc3e804e9f9a3c07c15")
        self.assertEqual((found.commit, found.name), (self.commits["810d831bbbf3-preimage"], "v6.8"))
        self.assertEqual([c.split(" ", 1)[1] for c in found.lacking],
                         ["mainline before stay-awake", "virtio_balloon: stay awake while adjusting balloon",
                          "mm, treewide: Rename MAX_ORDER to MAX_PAGE_ORDER"])

    def test_stay_awake_was_made_on_the_file_before_it(self):
        [found] = origin.origins(self.repo, read_series(UPSTREAM / "stay-awake"), *origin.history_of(self.repo))
        self.assertEqual(found.commit, self.commits["b12fbc3f787e-preimage"])
        self.assertIn("the base lacks 1 commit(s) touching it", found.text())

    def test_the_debian_base_says_the_file_differs(self):
        plain = self.tmp / "plain"
        (plain / FILE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(UPSTREAM / "virtio_balloon.c-6.1.y", plain / FILE)
        [found] = origin.origins(plain, self.series)
        self.assertEqual(found.text(), f"{FILE}: made on version 1f5b3dd31fcf, this base "
                                       "has e9abd958f69e (no history to say which commit: give a git base, base: "
                                       "{git: TREE, ref: REF})")

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness.errors import ConfigError, PrerequisiteError
from harness.intake import tree


class TreeTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.pristine = self.dir / "pristine"
        (self.pristine / "drivers").mkdir(parents=True)
        (self.pristine / "Makefile").write_text("all:\n")
        (self.pristine / "drivers" / "b.c").write_text("int b;\n")
        os.symlink("b.c", self.pristine / "drivers" / "link.c")

    def test_built_tree_copy_shares_sources_and_copies_output_with_timestamps(self):
        built = tree.link_source(self.pristine, self.dir / "built")
        (built / "drivers" / "b.o").write_text("object")
        os.utime(built / "drivers" / "b.o", (1000, 1000))
        copy = tree.link_copy(built, self.dir / "copy")
        self.assertEqual((copy / "drivers" / "b.c").stat().st_ino, (self.pristine / "drivers" / "b.c").stat().st_ino)
        self.assertNotEqual((copy / "drivers" / "b.o").stat().st_ino, (built / "drivers" / "b.o").stat().st_ino)
        self.assertEqual((copy / "drivers" / "b.o").stat().st_mtime, 1000)
        self.assertEqual(os.readlink(copy / "drivers" / "link.c"), "b.c")

    def test_unshare_keeps_the_pristine_source_untouched_by_a_patch(self):
        work = tree.link_source(self.pristine, self.dir / "work")
        tree.unshare(work, ["drivers/b.c", "drivers/new.c"])
        with open(work / "drivers" / "b.c", "a") as f:   # an in-place write, the worst case
            f.write("int c;\n")
        self.assertEqual((self.pristine / "drivers" / "b.c").read_text(), "int b;\n")
        self.assertEqual((work / "Makefile").stat().st_ino, (self.pristine / "Makefile").stat().st_ino)

    def test_missing_debian_source_package_is_a_prerequisite_with_install_hint(self):
        with self.assertRaises(PrerequisiteError) as cm:
            tree.resolve({"debian": "linux-source-0.01"})
        self.assertIn("apt-get install linux-source-0.01", str(cm.exception))

    def test_git_base_resolves_a_ref_and_rejects_an_unknown_one(self):
        repo = self.dir / "linux"
        subprocess.run(["cp", "-r", self.pristine, repo], check=True)
        git = ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run(git + ["init", "-q"], check=True)
        subprocess.run(git + ["add", "."], check=True)
        subprocess.run(git + ["commit", "-qm", "base"], check=True)
        subprocess.run(git + ["tag", "v6.1"], check=True)
        base = tree.resolve({"git": str(repo), "ref": "v6.1"})
        self.assertTrue(base.identity.startswith("git:"))
        src = tree.pristine(base, self.dir / "cache")
        self.assertEqual((src / "drivers" / "b.c").read_text(), "int b;\n")
        with self.assertRaises(ConfigError) as cm:
            tree.resolve({"git": str(repo), "ref": "v9.9"})
        self.assertIn("'v9.9' is not a commit", str(cm.exception))


if __name__ == "__main__":
    unittest.main()

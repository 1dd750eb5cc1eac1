"""What the list's robots say first, built for real on the 6.1 base: a patch that adds a variable set but never
used is one new W=1 warning named with its line and patch; a patch that only moves code (on top of that
warning, as its prerequisite) adds none; a missing Signed-off-by is checkpatch's error; and a one-round job keeps
it all in results.json."""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from harness.build import warnings
from harness.intake import tree

from . import avocado_job
from .common import ROOT, base_build

CLI = Path(sys.executable).with_name("balloon-harness")
FILE = "drivers/virtio/virtio_balloon.c"
UNUSED = ("\tLIST_HEAD(pages);\n\n\t/* We can only do one array", "\tLIST_HEAD(pages);\n\tint unused;\n\n\tunused = 1;\n"
          "\t/* We can only do one array")
ACK = "static void balloon_ack(struct virtqueue *vq)\n{\n\tstruct virtio_balloon *vb = vq->vdev->priv;\n\n" \
      "\twake_up(&vb->acked);\n}\n\n"
MOVE_ACK = [(ACK, ""), ("static int init_vqs(", ACK + "static int init_vqs(")]  # next to its only user


def series(root, name, text, edits, signed=True):
    """A one-patch series on ``text`` (the file's content) making ``edits`` (old, new) in turn."""
    repo = root / name
    (repo / FILE).parent.mkdir(parents=True)
    (repo / FILE).write_text(text)
    git = ["git", "-c", "user.name=T Tester", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (repo / FILE).write_text(text)
    subprocess.run([*git, "commit", "-qam", f"virtio_balloon: {name}\n\nThe {name} fixture of the static checks.",
                    *(["-s"] if signed else [])], cwd=repo, check=True)
    subprocess.run([*git, "format-patch", "-q", "-o", root / f"{name}-series", "HEAD~1"], cwd=repo, check=True)
    return root / f"{name}-series", text


class StaticChecksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.job, _, _, cls.cache_dir = base_build()
        cls.tmp = Path(tempfile.mkdtemp(prefix="bh-static-"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp)
        base = (tree.pristine(tree.resolve(cls.job.base), cls.cache_dir) / FILE).read_text()
        cls.unused, with_unused = series(cls.tmp, "unused", base, [UNUSED], signed=False)
        cls.moved, _ = series(cls.tmp, "moved", with_unused, MOVE_ACK)
        kernels = cls.cache_dir / "kernels"
        cls.before = set(kernels.iterdir())
        cls.addClassCleanup(lambda: [shutil.rmtree(k, ignore_errors=True) for k in set(kernels.iterdir()) - cls.before])

    def check(self, *argv):
        proc = subprocess.run([str(CLI), "series", "check", *map(str, argv), "--build", "configs/check.yaml"],
                              cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return proc.stdout

    def test_a_variable_set_but_never_used_is_one_new_w1_warning_named_with_its_patch(self):
        out = self.check(self.unused)
        levels = ", ".join(name for name, _ in warnings.levels())
        self.assertRegex(out, rf"warnings: 1 new warning \({re.escape(levels)}\): {FILE}:\d+: warning: variable "
                              r"'unused' set but not used \[-Wunused-but-set-variable\] \(virtio_balloon: unused\)")
        self.assertIn("checkpatch: 1 error in the patch", out)
        self.assertIn("ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)", out)

    def test_code_that_only_moves_adds_no_warning(self):
        out = self.check(self.moved, "--prerequisite", self.unused)
        self.assertRegex(out, r"warnings: no new warnings \(default, W=1")
        self.assertIn("checkpatch: clean", out)

    def test_a_one_round_job_keeps_the_records(self):
        text = avocado_job.job_yaml("unused", series=self.unused)
        _, tests, job_dir = avocado_job.run(text, cleanup=self.addCleanup)
        [variant] = json.loads((job_dir / "balloon" / "results.json").read_text())["variants"]
        new = variant["kernel"]["warnings"]["new"]
        self.assertEqual([(w["level"], w["file"], w["patch"]) for w in new], [("W=1", FILE, "virtio_balloon: unused")])
        self.assertEqual(variant["kernel"]["checkpatch"]["errors"], 1)


if __name__ == "__main__":
    unittest.main()

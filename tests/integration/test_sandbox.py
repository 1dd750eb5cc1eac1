"""A hostile series built for real: its Makefile tries to write into a directory of root's it can see, the harness
checkout, the home directory and /tmp, to read a root-only file, and to connect to a listener on 127.0.0.1 — the
build names what it could not do, and nothing outside the build tree changed."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness.build import kernel
from harness.config import specs
from harness.intake import tree

from .common import ROOT, base_build

MAKEFILE = "drivers/virtio/Makefile"


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=A Hostile", "-c", "user.email=hostile@example.org", *args], cwd=cwd,
                   check=True, capture_output=True)


class HostileSeriesTest(unittest.TestCase):
    def test_a_hostile_makefile_is_refused_and_named(self):
        job, _, _, cache_dir = base_build()
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="bh-hostile-")))
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        listener.settimeout(0.5)
        pid, port = os.getpid(), listener.getsockname()[1]
        planted = Path("/var/lib") / f"bh-hostile-{pid}"  # root's, where the build can see it
        planted.mkdir(mode=0o755)
        self.addCleanup(shutil.rmtree, planted)
        secret = planted / "secret"  # root-only
        secret.write_text("the planted secret\n")
        secret.chmod(0o600)
        marks = [planted / "escape", ROOT / f"hostile-checkout-{pid}", Path.home() / f"hostile-home-{pid}",
                 Path(f"/tmp/hostile-tmp-{pid}")]
        repo = tmp / "linux"
        (repo / MAKEFILE).parent.mkdir(parents=True)
        shutil.copy(tree.pristine(tree.resolve(job.base), cache_dir) / MAKEFILE, repo / MAKEFILE)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        with open(repo / MAKEFILE, "a") as out:
            out.write("# what a Makefile from the list can run while the kernel builds\n"
                      + "".join(f"$(shell touch {m})\n" for m in marks)
                      + f"$(shell cat {secret})\n"
                      + f"$(shell python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 3)\")\n")
        git(repo, "commit", "-qam", "virtio: build the balloon faster")
        git(repo, "format-patch", "-q", "-o", tmp / "series", "HEAD~1")
        said = []
        build = kernel.build(job, specs.Variant("hostile", series=tmp / "series"), cache_dir, progress=said.append)
        self.addCleanup(shutil.rmtree, cache_dir / "kernels" / build.key)  # a key of its own on every run
        self.assertTrue(build.bzimage.is_file())
        self.assertEqual(build.runs_at_build, ("virtio: build the balloon faster changes drivers/virtio/Makefile: "
                                               "runs at build time",))
        refused = set(build.refused)
        self.assertIn(f"the build was refused {marks[0]}: outside its tree", refused)
        self.assertIn(f"the build was refused {secret}: outside its tree", refused)
        self.assertIn("the build tried to reach the network: it has none", refused)
        self.assertTrue(any("(refused)" in line for line in said), said)
        for mark in marks:  # the checkout, home and /tmp: refused, or absent in the sandbox
            self.assertFalse(mark.exists(), mark)
        self.assertNotIn("the planted secret", build.build_log.read_text())
        with self.assertRaises(socket.timeout):
            listener.accept()


if __name__ == "__main__":
    unittest.main()

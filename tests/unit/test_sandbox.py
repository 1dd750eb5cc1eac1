"""build/sandbox.py for real: a command in the sandbox runs as the build user, writes only its tree, reaches no
network and sees no home, cache or /tmp of the host (tests/integration/test_sandbox.py builds a hostile kernel
series in it)."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import privilege
from harness.build import sandbox

ROOT = Path(__file__).resolve().parents[2]


class SandboxTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="test-sandbox-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.tree = self.tmp / "tree"
        (self.tree / "sub").mkdir(parents=True)
        (self.tree / "out.o").write_text("old output\n")
        (self.tmp / "pristine.c").write_text("int x;\n")
        os.link(self.tmp / "pristine.c", self.tree / "shared.c")  # a source shared with the pristine base
        sandbox.own(self.tree)

    def run_in(self, script, **env):
        return subprocess.run(sandbox.argv(self.tree, ["sh", "-c", script], env), capture_output=True, text=True,
                              timeout=60, check=False)

    def test_the_build_user_writes_its_tree_and_nothing_else(self):
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        planted = Path("/var/lib") / f"bh-sandbox-test-{os.getpid()}"  # root's, where the build can see it
        planted.mkdir(mode=0o755)
        self.addCleanup(shutil.rmtree, planted)
        secret = planted / "secret"
        secret.write_text("the root-only secret\n")
        secret.chmod(0o600)
        marks = [planted / "escape", ROOT / f"sandbox-escape-{os.getpid()}", Path.home() / "sandbox-escape",
                 Path(tempfile.gettempdir()) / f"sandbox-escape-{os.getpid()}"]
        proc = self.run_in(
            "id -un; echo new > sub/new.o && echo ok > out.o && echo wrote-tree; echo x >> shared.c; "
            + "".join(f"touch {m}; " for m in marks) + f"cat {secret}; echo $KBUILD_X $HOME; "
            f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\"",
            KBUILD_X="kept")
        said = proc.stdout + proc.stderr
        expected = privilege.BUILD_USER if privilege.dropping() else subprocess.run(
            ["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.assertEqual(proc.stdout.splitlines()[:3], [expected, "wrote-tree", "kept /nonexistent"], said)
        self.assertEqual((self.tree / "sub" / "new.o").read_text(), "new\n")
        self.assertEqual((self.tmp / "pristine.c").read_text(), "int x;\n")  # shared sources stay the base's
        for mark in marks:  # the checkout, home and /tmp: refused, or absent in the sandbox
            self.assertFalse(mark.exists(), mark)
        self.assertNotIn("the root-only secret", said)
        with self.assertRaises(socket.timeout):
            listener.accept()
        refused = sandbox.refusals(said, self.tree)
        self.assertIn("the build tried to reach the network: it has none", refused)
        self.assertIn(f"the build was refused {marks[0]}: outside its tree", refused)
        self.assertIn(f"the build was refused {secret}: outside its tree", refused)
        self.assertFalse([r for r in refused if str(self.tree) in r], refused)  # its own shared source: not named

    def test_refusals_are_read_from_a_builds_output(self):
        text = ("touch: cannot touch '/work/x': Permission denied\nsh: 1: cannot create /usr/y: Read-only file "
                "system\ncp: cannot create regular file '/t/tree/a': Permission denied\nOSError: [Errno 101] "
                "Network is unreachable\ntouch: cannot touch '/work/x': Permission denied\n")
        self.assertEqual(sandbox.refusals(text, Path("/t/tree")), [
            "the build was refused /work/x: outside its tree", "the build tried to write /usr/y: outside its tree",
            "the build tried to reach the network: it has none"])


if __name__ == "__main__":
    unittest.main()

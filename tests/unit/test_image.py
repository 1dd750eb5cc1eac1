"""Guest image staging without building an image: the applet links a recipe asks for."""

import os
import tempfile
import unittest
from pathlib import Path

from harness.build import image
from harness.errors import BuildError


class AppletLinksTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.root = self.dir / "root"
        (self.root / "bin").mkdir(parents=True)

    def tool(self, script):
        path = self.dir / "multicall"
        path.write_text("#!/bin/sh\n" + script)
        os.chmod(path, 0o755)
        return path

    def test_every_listed_applet_links_to_the_binary_and_existing_files_are_kept(self):
        (self.root / "bin" / "dropbear").write_text("real")
        image._link_applets(self.root, "/bin/busybox", self.tool("printf 'bin/sh\\nsbin/ip\\nlinuxrc\\nbin/dropbear\\n'"))
        for rel in ("bin/sh", "sbin/ip", "linuxrc"):
            self.assertEqual(os.readlink(self.root / rel), "/bin/busybox", rel)
        self.assertEqual((self.root / "bin" / "dropbear").read_text(), "real")

    def test_a_binary_that_lists_no_applets_is_a_build_error(self):
        with self.assertRaises(BuildError):
            image._link_applets(self.root, "/bin/busybox", self.tool("exit 1\n"))


if __name__ == "__main__":
    unittest.main()

import tempfile
import unittest
from pathlib import Path

from harness import qemu_build

DEB822 = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://example.org/already-src
Suites: x
Components: main
"""


class DebSrcTest(unittest.TestCase):
    def test_deb_entries_become_deb_src_and_nothing_else_is_taken(self):
        apt = Path(tempfile.mkdtemp())
        (apt / "sources.list.d").mkdir()
        (apt / "sources.list").write_text("# comment\ndeb http://deb.debian.org/debian bookworm main\n"
                                          "deb-src http://x y z\n")
        (apt / "sources.list.d" / "debian.sources").write_text(DEB822)
        (apt / "sources.list.d" / "cloud.list.disabled-by-farm").write_text("deb https://elsewhere a b\n")
        out = qemu_build.deb_src_sources(apt)
        self.assertEqual(set(out), {"sources.list", "debian.sources"})
        self.assertEqual(out["sources.list"], "deb-src http://deb.debian.org/debian bookworm main\n")
        self.assertTrue(out["debian.sources"].startswith("Types: deb-src\nURIs: http://deb.debian.org/debian\n"))
        self.assertNotIn("already-src", out["debian.sources"])  # only deb stanzas are mirrored
        self.assertNotIn("elsewhere", "".join(out.values()))


if __name__ == "__main__":
    unittest.main()

import tempfile
import unittest
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from unittest import mock

from harness import command
from harness.build import qemu_build
from harness.errors import PrerequisiteError

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


class FakeHost:
    """An SSH test host whose ``ldd`` reports ``missing``; other commands run here (the firmware check's shell).
    tests/integration/test_lab_hosts.py ships a built QEMU to a real lab host."""

    name, local = "lab9", False

    def __init__(self, missing=()):
        self.missing, self.argvs = missing, []

    def put(self, path):
        return PurePosixPath(f"/cache/0123-{path.name}")

    def run(self, argv, check=True):
        self.argvs.append(argv)
        if argv[0] == "ldd":
            return SimpleNamespace(rc=0, stdout="".join(f"\t{lib} => not found\n" for lib in self.missing)
                                   + "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n")
        return command.run(argv, check=check) if argv[0] == "sh" else SimpleNamespace(rc=0, stdout="")


class ShipTest(unittest.TestCase):
    BUILT = qemu_build.QemuBuild("/cache/qemu/ab/qemu-system-x86_64", "7.2.22 (balloon-harness)", "qemu 7.2",
                                 ("virtio-balloon: ranges",))

    @unittest.skipUnless(all(any(Path(d, f).exists() for d in qemu_build.FIRMWARE_DIRS) for f in qemu_build.FIRMWARE),
                         "the system's QEMU firmware (qemu-system-x86) is not installed")
    def test_a_build_runs_on_the_host_from_its_copy_there(self):
        host = FakeHost()
        shipped = qemu_build.ship(self.BUILT, host)
        self.assertEqual(shipped.binary, "/cache/0123-qemu-system-x86_64")
        self.assertEqual((shipped.version, shipped.series), (self.BUILT.version, self.BUILT.series))
        self.assertIn(["chmod", "0755", "/cache/0123-qemu-system-x86_64"], host.argvs)

    def test_missing_libraries_and_firmware_are_all_named_with_the_host(self):
        with mock.patch.object(qemu_build, "FIRMWARE", qemu_build.FIRMWARE + ("no-such-option.rom",)), \
                self.assertRaises(PrerequisiteError) as cm:
            qemu_build.ship(self.BUILT, FakeHost(missing=("libslirp.so.0", "libfdt.so.1")))
        text = str(cm.exception)
        self.assertIn("lab9: the QEMU built on the controller cannot run there: missing libraries libslirp.so.0, "
                      "libfdt.so.1 (ldd /cache/0123-qemu-system-x86_64); firmware no-such-option.rom (in none of "
                      "/usr/share/qemu, /usr/share/seabios, /usr/lib/ipxe/qemu)", text)


if __name__ == "__main__":
    unittest.main()

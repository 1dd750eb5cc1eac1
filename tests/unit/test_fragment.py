"""Fragmenting the guest's free memory before the cycles (a fake SSH; the real counterpart is
configs/ranges-fragmented.yaml's benchmark, docs in patches/ranges/README.md)."""

import unittest

from harness.command import CommandResult
from harness.errors import GuestError
from harness.run import fragment


class FakeSSH:
    def __init__(self, rc=0, out=""):
        self.rc, self.out, self.commands = rc, out, []

    def run(self, argv, check=True, timeout=None):
        self.commands.append((argv, timeout))
        if argv == ["cat", "/proc/meminfo"]:
            return CommandResult(tuple(argv), 0, "MemTotal: 2000000 kB\nMemFree: 1900000 kB\n", "", 0.1)
        return CommandResult(tuple(argv), self.rc, self.out, "", 0.1)


class FragmentTest(unittest.TestCase):
    def test_all_but_the_kept_memory_goes_into_one_file_then_single_pages(self):
        ssh = FakeSSH()
        self.assertEqual(fragment.fragment(ssh), 1855 - fragment.KEEP_MIB)
        (argv, timeout), = ssh.commands[1:]
        self.assertEqual(argv, ["sh", "-c", fragment.SCRIPT, "fragment", fragment.MOUNT, "1155", "100000"])
        self.assertEqual(timeout, fragment.TIMEOUT_S)

    def test_a_failure_names_the_sizes_the_exit_and_the_guests_words(self):
        with self.assertRaisesRegex(GuestError, r"fragmenting .* \(1155 MiB file, 100000 one-page files\) failed "
                                                r"\(exit 1\): dd: error writing"):
            fragment.fragment(FakeSSH(rc=1, out="dd: error writing '/run/bh-fragment/big': No space left on device"))


if __name__ == "__main__":
    unittest.main()

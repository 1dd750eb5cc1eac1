"""Populating the guest's memory before an inflate, and the check that the inflate gave it back (fakes; the real
counterpart is tests/integration/test_guest.py's test_boot_balloon_and_measure)."""

import unittest

from harness.command import CommandResult
from harness.errors import GuestError
from harness.run import fill, workload

MEMINFO = "MemTotal:        2040000 kB\nMemFree:         1900000 kB\nMemAvailable:    1950000 kB\n"


class FakeSSH:
    def __init__(self, rc=0, out=""):
        self.rc, self.out, self.commands = rc, out, []

    def run(self, argv, check=True, timeout=None):
        self.commands.append((argv, timeout))
        stdout = MEMINFO if argv == ["cat", "/proc/meminfo"] else self.out
        return CommandResult(tuple(argv), 0 if argv[0] == "cat" else self.rc, stdout, "", 0.1)


class FillTest(unittest.TestCase):
    def test_the_free_memory_less_a_margin_is_written(self):
        self.assertEqual(fill.amount_mib(1900000), 1855 - 64)  # 1855 MiB free, a 64 MiB margin
        self.assertEqual(fill.amount_mib(8_000_000), 7812 - 234)  # 3 % of 7812 MiB is above 64 MiB
        self.assertEqual(fill.amount_mib(32 << 10), 0)

    def test_fill_writes_that_much_into_its_own_tmpfs_and_unmounts_it(self):
        ssh = FakeSSH()
        self.assertEqual(fill.fill(ssh), 1791)
        (argv, timeout), = ssh.commands[1:]
        self.assertEqual(argv, ["sh", "-c", fill.SCRIPT, "fill", fill.MOUNT, "1791", "110"])  # a block + 110 copies
        self.assertEqual(timeout, fill.TIMEOUT_S)

    def test_less_than_two_blocks_free_is_not_written(self):
        ssh = FakeSSH()
        ssh.run = lambda argv, check=True, timeout=None: CommandResult(tuple(argv), 0, "MemFree: 90000 kB\n", "", 0)
        self.assertEqual(fill.fill(ssh), 0)

    def test_a_failed_fill_names_the_amount_the_exit_and_dds_words(self):
        with self.assertRaisesRegex(GuestError, r"filling 1791 MiB .* failed \(exit 1\): dd: .*No space left"):
            fill.fill(FakeSSH(rc=1, out="dd: error writing '/run/bh-fill/fill': No space left on device\n"))


class ReturnedTest(unittest.TestCase):
    def test_an_inflate_that_gives_back_what_the_balloon_took_passes(self):
        workload.check_returned("inflate in cycle 1", 1536 << 10, 2_000_000, 2_000_000 - (1536 << 10))
        workload.check_returned("deflate in cycle 1", -(1536 << 10), 500_000, 500_000)  # deflates are not checked

    def test_an_inflate_that_returns_nothing_fails_with_both_rss_figures(self):
        with self.assertRaisesRegex(GuestError, r"inflate in cycle 2: the balloon took 1536 MiB of populated guest "
                                                r"memory but QEMU's RSS fell by 2 MiB \(2000000 -> 1997952 kB\)"):
            workload.check_returned("inflate in cycle 2", 1536 << 10, 2_000_000, 1_997_952)


if __name__ == "__main__":
    unittest.main()

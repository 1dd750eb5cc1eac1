import unittest

from harness.errors import HarnessError
from harness.run import accounting

# Golden lines taken from a real QEMU and a real guest.
QEMU_STAT = ("3030 (qemu-system-x86) S 1 3030 3030 0 -1 4194560 21373 0 0 0 412 96 0 0 20 0 5 0 "
             "123 2500000000 60000 18446744073709551615 1 1 0 0 0 0 0 4096 16963 0 0 0 17 1 0 0 0 0 0")
THREAD_STAT = "3033 (CPU 0/TCG) R 1 3030 3030 0 -1 4194368 0 0 0 0 300 20 0 0 20 0 5 0 123 0 0"
GUEST = """cpu  120 0 340 98000 12 0 7 0 0 0
cpu0 120 0 340 98000 12 0 7 0 0 0
intr 1
MemTotal:        2055964 kB
MemFree:         2036628 kB
"""


class MetricsTest(unittest.TestCase):
    def test_parse_stat_sums_utime_and_stime(self):
        s = accounting.parse_stat(QEMU_STAT)
        self.assertEqual((s.pid, s.comm, s.ticks), (3030, "qemu-system-x86", 508))

    def test_parse_stat_handles_spaces_and_parentheses_in_names(self):
        s = accounting.parse_stat(THREAD_STAT)
        self.assertEqual((s.comm, s.ticks), ("CPU 0/TCG", 320))
        self.assertEqual(accounting.parse_stat("7 (a) b) S" + " 0" * 10 + " 5 6 0").comm, "a) b")

    def test_parse_stat_rejects_garbage(self):
        with self.assertRaises(HarnessError):
            accounting.parse_stat("not a stat line")

    def test_parse_guest(self):
        g = accounting.parse_guest(GUEST)
        self.assertEqual(g.memtotal_kb, 2055964)
        self.assertAlmostEqual(g.busy_s, (120 + 340 + 7) / 100)
        with self.assertRaises(HarnessError):
            accounting.parse_guest("cpu  1 2 3 4 5 6 7 8\n")

    def test_cpu_snapshot_difference(self):
        a = accounting.CpuSnapshot(1.0, {"CPU 0/TCG": 0.5, "worker": 0.1})
        b = accounting.CpuSnapshot(1.5, {"CPU 0/TCG": 0.8, "qemu-system-x86": 0.2})
        d = b.since(a)
        self.assertAlmostEqual(d.total_s, 0.5)
        self.assertEqual(d.threads_s, {"CPU 0/TCG": 0.3, "worker": -0.1, "qemu-system-x86": 0.2})


if __name__ == "__main__":
    unittest.main()


class HostStatTest(unittest.TestCase):
    def test_busy_steal_and_running_from_proc_stat(self):
        text = ("cpu  100 5 50 9000 20 3 2 7 0 0\ncpu0 50 2 25 4500 10 1 1 3 0 0\nintr 1\nctxt 9\n"
                "procs_running 3\nprocs_blocked 0\n")
        h = accounting.parse_host_stat(text, 100)
        self.assertEqual((h.busy_s, h.steal_s, h.running), (1.6, 0.07, 3))
        with self.assertRaises(HarnessError):
            accounting.parse_host_stat("cpu  1 2 3 4\n", 100)

"""The migration benchmark's scenario on a fake guest (the real counterpart: tests/integration/test_migration.py)."""

import unittest

from harness.command import CommandResult
from harness.config.specs import WorkloadSpec
from harness.errors import GuestError
from harness.run import migration, migration_workload

GUEST_TEXT = "cpu  {busy} 0 0 100 0 0 0 0 0 0\nMemTotal: {memtotal} kB\nMemFree: 1800000 kB\n"
HOST_STAT = "cpu  {busy} 0 0 1000 0 0 0 {steal} 0 0\nprocs_running 2\n"


class FakeHost:
    local = False  # the harness's own CPU is not subtracted: figures are exact

    def __init__(self):
        self.busy = 1000

    def clk_tck(self):
        return 100

    def read_text(self, path):
        assert path == "/proc/stat", path
        return HOST_STAT.format(busy=self.busy, steal=5)


class FakeSSH:
    def __init__(self, guest):
        self.guest = guest

    def run(self, argv, check=True, timeout=None):
        text = GUEST_TEXT.format(busy=self.guest.guest_busy, memtotal=self.guest.memtotal)
        if argv[:2] == ["sh", "-c"]:  # the fill
            self.guest.fills += 1
            text = ""
        return CommandResult(tuple(argv), 0, text, "", 0.01)


class FakeGuest:
    def __init__(self, arrive_at=None):
        self.host, self.ssh = FakeHost(), FakeSSH(self)
        self.actual, self.memtotal, self.guest_busy, self.fills = 2048 << 20, 2000000, 500, 0
        self.arrive_at, self.asked, self.consoles = arrive_at, [], []

    def qmp(self, name, **args):
        assert name == "query-balloon", name
        return {"actual": self.actual}

    def migrate(self, parameters=None):
        self.asked.append(parameters)
        self.host.busy += 150  # 1.5 s of host CPU
        self.guest_busy += 10
        if self.arrive_at is not None:
            self.actual = self.arrive_at
        return migration.Migration({}, parameters, 400, 90, 12, 62 << 20, 509721, 2000, 0.5)

    def check_console(self, when):
        self.consoles.append(when)


class MigrationWorkloadTest(unittest.TestCase):
    def test_each_cycle_migrates_at_the_jobs_bandwidth_and_records_qemus_figures(self):
        g = FakeGuest()
        samples, traces = migration_workload.run(g, WorkloadSpec(migrate=True, warmup=1, cycles=2, populate=True),
                                                 "base", 3, progress=lambda m: None)
        self.assertEqual(traces, [])
        self.assertEqual(g.fills, 3)
        self.assertEqual(g.asked, [{"max-bandwidth": 1_250_000_000}] * 3)  # 10 Gbit/s
        self.assertEqual([(s.op, s.cycle, s.warmup) for s in samples],
                         [("migrate", 1, True), ("migrate", 2, False), ("migrate", 3, False)])
        s = samples[-1]
        self.assertEqual((s.wall_s, s.downtime_s, s.setup_s, s.transferred_mib, s.zero_pages, s.normal_pages),
                         (0.4, 0.09, 0.012, 62.0, 509721, 2000))
        self.assertEqual((s.qemu_cpu_s, s.guest_cpu_s, s.from_bytes, s.to_bytes), (1.5, 0.1, 2048 << 20, 2048 << 20))
        self.assertEqual(g.consoles, ["after 3 migrations"])

    def test_no_limit_sets_the_bandwidth_out_of_reach(self):
        self.assertEqual(migration_workload.parameters(WorkloadSpec(bandwidth_mbps=0)),
                         {"max-bandwidth": migration_workload.UNLIMITED})

    def test_a_guest_that_arrives_with_another_balloon_fails_naming_both(self):
        with self.assertRaisesRegex(GuestError, r"migration in cycle 1: the guest left with the balloon's actual at "
                                                r"2048 MiB and MemTotal 2000000 kB, and arrived with 1024 MiB"):
            migration_workload.run(FakeGuest(arrive_at=1024 << 20), WorkloadSpec(migrate=True, warmup=0, cycles=1),
                                   "base", 1, progress=lambda m: None)


if __name__ == "__main__":
    unittest.main()

"""The functional checks' building blocks without a guest; tests/balloon/functional.py runs each on real QEMU."""

import itertools
import unittest
from types import SimpleNamespace

from harness.config.specs import GuestSpec
from harness.errors import GuestError, HarnessError, QMPError
from harness.run import accounting, balloon, console, functional
from harness.run.qemu_argv import SANDBOX, command_line

# A /proc/meminfo and the head of a /proc/vmstat from the minimal guest (6.1, 2048 MiB), as `cat` prints them
MEMINFO = """MemTotal:        2031240 kB
MemFree:         1990316 kB
MemAvailable:    1962020 kB
Buffers:               0 kB
Cached:             9744 kB
SwapCached:            0 kB
Active:             2212 kB
"""
VMSTAT = """nr_free_pages 497579
nr_zone_inactive_anon 432
pgfault 41234
pgmajfault 0
"""
# qom-get guest-stats as QEMU 7.2 returns it (unreported statistics are 2**64-1)
STATS = {"stats": {"stat-htlb-pgfail": 18446744073709551615, "stat-available-memory": 2009108480,
                   "stat-free-memory": 2038083584, "stat-minor-faults": 40000, "stat-major-faults": 0,
                   "stat-total-memory": 2080002048, "stat-swap-in": 0, "stat-swap-out": 0,
                   "stat-disk-caches": 9977856, "stat-htlb-pgalloc": 18446744073709551615},
         "last-update": 1764230000}


class PlanTest(unittest.TestCase):
    def test_same_seed_same_plan_and_another_seed_another(self):
        a = functional.plan("evict", 2048, 512, seed=1234)
        self.assertEqual(a, functional.plan("evict", 2048, 512, seed=1234))
        self.assertNotEqual(a.steps, functional.plan("evict", 2048, 512, seed=1235).steps)
        self.assertEqual(a.record()["seed"], 1234)

    def test_evict_goes_down_then_back_to_full(self):
        for seed in range(50):
            targets = [mib for _, mib in functional.plan("evict", 2048, 512, seed).steps]
            self.assertEqual(targets[-1], 2048)
            self.assertEqual(targets[:-1], sorted(targets[:-1], reverse=True))
            self.assertTrue(all(512 <= t < 2048 for t in targets[:-1]))

    def test_enlarge_starts_at_the_floor_and_goes_up(self):
        for seed in range(50):
            targets = [mib for _, mib in functional.plan("enlarge", 2048, 600, seed).steps]
            self.assertEqual(targets[0], 600)
            self.assertEqual(targets, sorted(targets))
            self.assertEqual(len(set(targets)), len(targets))
            self.assertEqual(targets[-1], 2048)

    def test_evict_enlarge_alternates(self):
        for seed in range(50):
            targets = [2048] + [mib for _, mib in functional.plan("evict-enlarge", 2048, 512, seed).steps]
            moves = [b - a for a, b in itertools.pairwise(targets)]
            self.assertTrue(all(m < 0 for m in moves[0:6:2]), targets)
            self.assertTrue(all(m > 0 for m in moves[1:6:2]), targets)
            self.assertTrue(all(512 <= t <= 2048 for t in targets))

    def test_ratios_are_fixed(self):
        p = functional.plan("ratios", 2048, 512, seed=7)
        self.assertEqual([mib for _, mib in p.steps], [1024, 1536, 1638, 2048])
        with self.assertRaises(HarnessError):
            functional.plan("ratios", 2048, 1100, seed=7)

    def test_unknown_kind_and_floor(self):
        with self.assertRaises(HarnessError):
            functional.plan("shrink", 2048, 512, 1)
        self.assertEqual(functional.floor_mib(2048, 2031240, 1962020), 512)        # uses 68 MiB
        self.assertEqual(functional.floor_mib(2048, 2031240, 2031240 - 400 * 1024), 656)
        with self.assertRaises(HarnessError):
            functional.floor_mib(256, 200000, 10000)


class GuestViewTest(unittest.TestCase):
    def test_meminfo_and_vmstat(self):
        mem = functional.parse_meminfo(MEMINFO + VMSTAT)   # one `cat /proc/meminfo /proc/vmstat`
        self.assertEqual((mem["MemTotal"], mem["Cached"]), (2031240, 9744))
        self.assertNotIn("pgfault", mem)
        vm = functional.parse_vmstat(MEMINFO + VMSTAT)
        self.assertEqual(vm["pgfault"], 41234)
        self.assertNotIn("MemTotal:", vm)
        with self.assertRaises(HarnessError):
            functional.parse_meminfo("MemTotal: 1 kB\n")

    def test_memtotal_must_move_with_the_balloon(self):
        full = 2048 << 20
        self.assertEqual(functional.expect_memtotal("x", 2031240, 2031240 - (1024 << 10), full, 1024 << 20), 0)
        self.assertEqual(functional.expect_memtotal("x", 2031240, 2031240 - (1024 << 10) + 1000, full, 1024 << 20),
                         -1000)
        with self.assertRaises(GuestError) as cm:   # the demo bug: half the pages left the guest
            functional.expect_memtotal("evict 1", 2031240, 2031240 - (512 << 10), full, 1024 << 20)
        self.assertIn("evict 1: the balloon holds 1048576 kB but the guest's MemTotal is down 524288 kB",
                      str(cm.exception))


class GuestStatsTest(unittest.TestCase):
    def test_parse(self):
        s = functional.parse_guest_stats(STATS)
        self.assertEqual(s.last_update, 1764230000)
        self.assertEqual(s.kb("stat-total-memory"), 2031252)
        self.assertEqual(s.stats["stat-swap-in"], 0)
        self.assertNotIn("stat-htlb-pgfail", s.stats)

    def test_unreported_statistic_is_none(self):
        reply = {**STATS, "stats": {**STATS["stats"], "stat-major-faults": functional.STAT_UNSET}}
        self.assertIsNone(functional.parse_guest_stats(reply).stats["stat-major-faults"])

    def test_malformed_replies(self):
        for bad in ({}, {"stats": {}, "last-update": 0}, {"stats": STATS["stats"]},
                    {"stats": {**STATS["stats"], "stat-free-memory": "1"}, "last-update": 1}):
            with self.assertRaises(QMPError):
                functional.parse_guest_stats(bad)

    def test_compare_within_and_beyond_tolerance(self):
        mem, vm = functional.parse_meminfo(MEMINFO), functional.parse_vmstat(VMSTAT)
        rows = functional.compare_stats(functional.parse_guest_stats(STATS), mem, vm)
        self.assertEqual([r.stat for r in rows], ["stat-total-memory", "stat-free-memory", "stat-available-memory",
                                                  "stat-disk-caches", "stat-minor-faults", "stat-major-faults"])
        self.assertTrue(all(r.ok for r in rows), [r.line() for r in rows if not r.ok])
        self.assertEqual(rows[1].tolerance, int(0.02 * 2031240))
        off = {**STATS, "stats": {**STATS["stats"], "stat-total-memory": (2031240 - 2048) << 10,
                                  "stat-minor-faults": 50000}}
        rows = {r.stat: r for r in functional.compare_stats(functional.parse_guest_stats(off), mem, vm)}
        self.assertFalse(rows["stat-total-memory"].ok)
        self.assertFalse(rows["stat-minor-faults"].ok)   # a statistic sampled earlier cannot be ahead of vmstat
        self.assertIn("MISMATCH", rows["stat-total-memory"].line())

    def test_missing_fault_counters_fail(self):
        mem = functional.parse_meminfo(MEMINFO)
        with self.assertRaises(GuestError):
            functional.compare_stats(functional.parse_guest_stats(STATS), mem, {})


class FakeQOM:
    """Answers qom-get/qom-set/qom-list on /machine/peripheral like QEMU."""

    def __init__(self):
        self.props, self.devices = {"guest-stats": STATS}, ["balloon0", "net0"]

    def qmp(self, name, **args):
        if name == "qom-list":
            return [{"name": d, "type": "child<virtio-balloon-pci>"} for d in self.devices]
        if args.get("path") != balloon.BALLOON_QOM:
            raise QMPError(f"Device '{args.get('path')}' not found")
        if name == "qom-set":
            self.props[args["property"]] = args["value"]
            return {}
        return self.props[args["property"]]


class BalloonQOMTest(unittest.TestCase):
    def test_get_set_and_presence(self):
        g = FakeQOM()
        balloon.qom_set(g, "guest-stats-polling-interval", 2)
        self.assertEqual(balloon.qom_get(g, "guest-stats-polling-interval"), 2)
        self.assertEqual(functional.parse_guest_stats(balloon.qom_get(g, "guest-stats")).last_update, 1764230000)
        self.assertTrue(balloon.present(g))
        g.devices.remove("balloon0")
        self.assertFalse(balloon.present(g))


class GuestCommandLineTest(unittest.TestCase):
    """Balloon properties and the q35 hotplug port on the command line (real: test_hotplug, test_deflate_on_oom)."""

    def argv(self, spec=GuestSpec(), **kw):
        return command_line("qemu", SimpleNamespace(bzimage="bz"), SimpleNamespace(initrd="rd"), spec, "tcg", "/run",
                            "/log", 2222, **kw)

    def devices(self, argv):
        return [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]

    def test_default_is_pc_with_a_plain_balloon(self):
        argv = self.argv()
        self.assertIn("pc,accel=tcg", argv)
        self.assertIn("virtio-balloon-pci,id=balloon0", self.devices(argv))

    def test_qemu_runs_in_its_sandbox_under_its_own_name(self):
        """Real: test_qemu_runs_as_the_qemu_user_in_its_sandbox_and_is_owned_by_the_harness."""
        argv = self.argv()
        self.assertEqual(argv[:3], ["qemu", "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
                                                        "resourcecontrol=deny"])
        self.assertEqual(argv[argv.index("-name") + 1], "balloon-harness,process=qemu,debug-threads=on")
        self.assertNotIn("-sandbox", self.argv(sandbox=False))
        by_fd = command_line("/cache/qemu/k/qemu-system-x86_64", SimpleNamespace(bzimage="/proc/self/fd/3"),
                             SimpleNamespace(initrd="/proc/self/fd/4"), GuestSpec(), "tcg", "/run", "/log", 2222,
                             exe="/proc/self/fd/5")
        self.assertEqual(by_fd[:3], ["/proc/self/fd/5", "-sandbox", SANDBOX])
        self.assertIn("balloon-harness,process=qemu-system-x86_64,debug-threads=on", by_fd)
        self.assertEqual(by_fd[by_fd.index("-kernel") + 1], "/proc/self/fd/3")

    def test_qemu_traces_the_balloon_with_timestamps_into_the_log_dir(self):
        argv = self.argv()
        self.assertEqual(argv[argv.index("-D") + 1], "/log/trace.log")
        self.assertEqual(argv[argv.index("-msg") + 1], "timestamp=on")
        traced = lambda argv: [argv[i + 1] for i, a in enumerate(argv) if a == "-trace"]  # noqa: E731
        self.assertEqual(traced(argv), ["virtio_balloon_to_target", "virtio_balloon_set_config", "virtio_queue_notify",
                                        "virtio_notify"])
        counting = traced(self.argv(spec=GuestSpec(count_discards=True)))
        self.assertEqual(counting[4:], ["virtio_balloon_handle_range", "ram_block_discard_range"])

    def test_the_vcpu_seeds_the_kernels_crng_and_the_job_cmdline_comes_last(self):
        argv = self.argv(cmdline="init_on_alloc=1")
        self.assertEqual(argv[argv.index("-cpu") + 1], "qemu64,+rdrand")
        self.assertEqual(argv[argv.index("-append") + 1],
                         "console=ttyS0 panic=-1 random.trust_cpu=on no_timer_check init_on_alloc=1")

    def test_guest_setup_options(self):
        """TCG's options move the accelerator to -accel; a memfd backend replaces the anonymous RAM (real:
        benchmarks/noise.py with configs/noise.yaml)."""
        argv = self.argv(GuestSpec(tcg_thread="single", tcg_tb_mib=256, backend="memfd", prealloc=True))
        self.assertEqual(argv[argv.index("-accel") + 1], "tcg,thread=single,tb-size=256")
        self.assertIn("pc", argv)
        self.assertNotIn("pc,accel=tcg", argv)
        self.assertIn("memory-backend-memfd,id=ram,size=2048M,prealloc=on", argv)
        self.assertIn("memory-backend=ram", argv)
        self.assertIn("-mem-prealloc", self.argv(GuestSpec(prealloc=True)))
        self.assertNotIn("-accel", self.argv())

    def test_balloon_props_are_appended(self):
        argv = self.argv(balloon_props=(("deflate-on-oom", "on"), ("free-page-reporting", "on")))
        self.assertIn("virtio-balloon-pci,id=balloon0,deflate-on-oom=on,free-page-reporting=on", self.devices(argv))

    def test_q35_puts_the_balloon_in_a_hotpluggable_root_port(self):
        argv = self.argv(machine="q35")
        self.assertIn("q35,accel=tcg", argv)
        self.assertIn("ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off", argv)
        devices = self.devices(argv)
        self.assertLess(devices.index("pcie-root-port,id=rp0,chassis=1"),
                        devices.index("virtio-balloon-pci,id=balloon0,bus=rp0"))
        with self.assertRaises(HarnessError):
            self.argv(machine="virt")


class HostAndLogTest(unittest.TestCase):
    def test_vmrss(self):
        self.assertEqual(accounting.parse_vmrss("Name:\tqemu-system-x86\nVmHWM:\t 999 kB\nVmRSS:\t  345672 kB\n"),
                         345672)
        with self.assertRaises(HarnessError):
            accounting.parse_vmrss("Name:\tqemu\nState:\tZ (zombie)\n")

    def test_dmesg_scan(self):
        clean = "virtio_balloon virtio1: ...\nFreeing unused kernel image memory: 1000K\n"
        self.assertEqual(console.trouble(clean), [])
        functional.expect_clean("dmesg", clean)
        dirty = clean + ("------------[ cut here ]------------\nWARNING: CPU: 0 PID: 5 at mm/page_alloc.c:5 x\n"
                         "Call Trace:\nsh invoked oom-killer: gfp_mask=0x100cca\n"
                         "Out of memory: Killed process 77 (dd)\n")
        self.assertEqual(len(console.trouble(dirty)), 4)
        with self.assertRaises(GuestError) as cm:
            functional.expect_clean("dmesg", dirty, log="/x/console.log")
        self.assertIn("WARNING: CPU: 0", str(cm.exception))
        self.assertEqual(cm.exception.log, "/x/console.log")


if __name__ == "__main__":
    unittest.main()

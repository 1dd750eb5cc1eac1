"""Functional balloon checks: does the patched driver still behave?  (tp-qemu's balloon_check, on our guests.)

One test per check, each on its own freshly booted guest, for every variant of the job (the YAML's mux):
evict, enlarge, evict-then-enlarge and fixed ratios with seeded random targets; guest statistics against
/proc/meminfo; deflate-on-oom; free page reporting; ballooning under load; hot-unplug/plug; reboot; balloon page
migration by compaction; live migration of a ballooned guest, and (tagged ``migration-cases``, which make check
leaves out: ``make migration`` runs them) with free page hints, with deflate-on-oom, and while an inflate runs.
Every check ends with the guest's dmesg and console free of warnings, bugs, oopses and OOM kills.  Each test logs
what it checked with which tolerance, and writes ``functional.json`` (seed, targets, findings, duration) in its
outputdir.  A kernel that fails a check FAILs naming it; harness or environment faults ERROR.

Run: ``avocado run --max-parallel-tasks 1 tests/balloon/functional.py -m configs/check.yaml``.  Seeds are fresh
per test and logged; ``BALLOON_HARNESS_SEED=N`` replays one.
"""

import contextlib
import os
import random
import time
from pathlib import Path

from harness import wait
from harness.avocado.base import BalloonTest
from harness.errors import GuestError, HarnessError, QMPError, WaitTimeout
from harness.results import contract
from harness.run import balloon, functional
from harness.run.accounting import process_rss_kb
from harness.run.console import TROUBLE
from harness.run.qemu_argv import HOTPLUG_PORT
from harness.units import MIB

STATS_INTERVAL_S = 2            # guest-stats-polling-interval (seconds)
OOM_EXCESS_MIB = 256            # the deflate-on-oom workload wants this much more than the guest has available
FPR_TOUCH_MIB = 1024            # free page reporting: memory the guest touches, then frees
FPR_RETURNED_FRACTION = 0.5     # ... of which QEMU's RSS must give back at least this much
FPR_WAIT_S = 60.0               # ... within this time
MIGRATIONS = {"idle": {}, "free-page-hint": {"free-page-hint": "on", "iothread": "balloon-io"},  # the migration
              "deflate-on-oom": {"deflate-on-oom": "on"}, "during-inflate": {}}  # checks' balloons' properties
MIGRATED_INFLATE_S = 120.0      # an inflate the migration interrupted reaches its target on the destination by then
UNPLUG_WAIT_S = 60.0            # pciehp waits 5 s after the attention button before it powers the slot off
STRESS_LOAD = (("i=0; while :; do dd if=/dev/zero of=/dev/null bs=64M count=4 2>/dev/null; i=$((i+1)); "
                "echo $i > /tmp/stress.cpu; done"),
               ("mkdir -p /mnt/churn; mount -t tmpfs -o size=256m tmpfs /mnt/churn; i=0; while :; do "
                "dd if=/dev/zero of=/mnt/churn/f bs=1M count=128 2>/dev/null; rm -f /mnt/churn/f; i=$((i+1)); "
                "echo $i > /tmp/stress.mem; done"))


class Functional(BalloonTest):
    """The functional checks; each test method boots the variant's kernel once.

    :avocado: enable
    """

    # set-up and records --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def check(self, name):
        """Run one check: map errors to results, and write functional.json whatever the outcome."""
        self.record = {"check": name, "variant": self.variant.name, "tolerances": {
            "memtotal_kb": functional.MEMTOTAL_TOLERANCE_KB, "stats_total_kb": functional.STATS_TOTAL_TOLERANCE_KB,
            "stats_free_kb": f"max({functional.STATS_FREE_TOLERANCE_KB}, "
                             f"{functional.STATS_FREE_TOLERANCE_FRACTION} x MemTotal)"}, "steps": []}
        start = time.perf_counter()
        try:
            with self.outcome():
                yield
            self.record["outcome"] = "pass"
        except BaseException as exc:
            self.record["outcome"] = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.record["duration_s"] = round(time.perf_counter() - start, 2)
            contract.write_json(Path(self.outputdir) / "functional.json", self.record)
            self.log.info("%s: %s in %.1f s", name, self.record["outcome"], self.record["duration_s"])

    def seed(self):
        seed = int(os.environ.get("BALLOON_HARNESS_SEED") or functional.new_seed())
        self.record["seed"] = seed
        self.log.info("seed %d (replay: BALLOON_HARNESS_SEED=%d)", seed, seed)
        return seed

    def boot(self, name="guest", **kw):
        build = self.kernels()
        self.record["kernel"] = build.identity()
        return self.guest(build, self.image(), name, **kw)

    def full_bytes(self, g):
        return g.spec.memory_mib * MIB

    def start_state(self, g):
        """The full-RAM baseline: actual equals all the guest's RAM; return its /proc/meminfo."""
        now = balloon.actual(g)
        if now != self.full_bytes(g):
            raise GuestError(f"after boot, actual is {now >> 20} MiB, not the guest's {g.spec.memory_mib} MiB")
        mem = functional.meminfo(g)
        self.record["baseline_memtotal_kb"] = mem["MemTotal"]
        self.log.info("baseline: actual %d MiB, guest MemTotal %d kB, MemAvailable %d kB",
                      now >> 20, mem["MemTotal"], mem["MemAvailable"])
        return mem

    # shared steps --------------------------------------------------------------------------------------------
    def step(self, g, label, target_bytes, baseline_kb, timeout_s=120.0, shrinks=True):
        """Balloon to ``target_bytes``; QMP actual must equal it exactly, MemTotal must move by as much (or, where the
        driver keeps MemTotal, ``shrinks`` False as with deflate-on-oom, stay at ``baseline_kb``)."""
        trace = balloon.drive(g, target_bytes, self.job.workload.poll_interval_s, timeout_s,
                              self.job.workload.stall_s)
        now = balloon.actual(g)
        if now != target_bytes:
            raise GuestError(f"{label}: actual {now} B after reaching the target {target_bytes} B (it moved on)")
        mem = functional.meminfo(g)
        held = now if shrinks else self.full_bytes(g)  # what MemTotal must be down by: the balloon, or nothing
        off_kb = functional.expect_memtotal(label, baseline_kb, mem["MemTotal"], self.full_bytes(g), held)
        self.record["steps"].append({"label": label, "target_bytes": target_bytes, "actual_bytes": now,
                                     "memtotal_kb": mem["MemTotal"], "memtotal_off_kb": off_kb,
                                     "wall_s": round(trace.wall_s, 3)})
        self.log.info("%s: target %d MiB: actual == request exactly; MemTotal %d kB is %+d kB off the expected "
                      "%d kB (tolerance %d kB); %.2f s", label, target_bytes >> 20, mem["MemTotal"], off_kb,
                      baseline_kb - ((self.full_bytes(g) - held) >> 10), functional.MEMTOTAL_TOLERANCE_KB,
                      trace.wall_s)
        return mem

    def expect_clean(self, g):
        """dmesg over SSH and the serial console: no WARNING, BUG, Oops, panic, OOM kill or lockup."""
        functional.expect_clean("dmesg over SSH", g.ssh_run(["dmesg"]).stdout)
        functional.expect_clean("serial console", g.console_text(), log=str(g.console_log))
        self.log.info("dmesg and console clean (no %s)", TROUBLE.pattern.replace("|", ", "))

    def run_plan(self, kind):
        with self.check(kind), self.boot() as g:
            mem = self.start_state(g)
            floor = functional.floor_mib(g.spec.memory_mib, mem["MemTotal"], mem["MemAvailable"])
            p = functional.plan(kind, g.spec.memory_mib, floor, self.seed())
            self.record["plan"] = p.record()
            self.log.info("%s plan (floor %d MiB): %s", kind, floor,
                          ", ".join(f"{label} -> {mib} MiB" for label, mib in p.steps))
            for label, mib in p.steps:
                self.step(g, label, mib * MIB, mem["MemTotal"])
            self.expect_clean(g)

    # the checks ----------------------------------------------------------------------------------------------
    def test_evict(self):
        """Inflate to three seeded random targets, each lower, then back to full."""
        self.run_plan("evict")

    def test_enlarge(self):
        """Inflate to the floor, deflate to three seeded random targets, each higher, then to full."""
        self.run_plan("enlarge")

    def test_evict_enlarge(self):
        """Alternate seeded random inflates and deflates, three of each, then back to full."""
        self.run_plan("evict-enlarge")

    def test_ratios(self):
        """Leave the guest 0.5, 0.75 and 0.8 of its RAM, then all of it."""
        self.run_plan("ratios")

    def test_guest_stats(self):
        """qom-set guest-stats-polling-interval, then guest-stats against /proc/meminfo, before and after inflating."""
        with self.check("guest-stats"), self.boot() as g:
            mem = self.start_state(g)
            balloon.qom_set(g, "guest-stats-polling-interval", STATS_INTERVAL_S)
            self.log.info("guest-stats-polling-interval set to %d s on %s", STATS_INTERVAL_S, balloon.BALLOON_QOM)
            first = self.next_stats(g, 0)
            before = self.compare_stats(g, first, "full")
            rng = random.Random(self.seed())
            floor = functional.floor_mib(g.spec.memory_mib, mem["MemTotal"], mem["MemAvailable"])
            target = rng.randrange(floor, g.spec.memory_mib) * MIB
            self.step(g, "inflate", target, mem["MemTotal"])
            after = self.compare_stats(g, before, "inflated")
            moved_kb = before.kb("stat-total-memory") - after.kb("stat-total-memory")
            want_kb = (self.full_bytes(g) - target) >> 10
            self.log.info("stat-total-memory down %d kB, the balloon holds %d kB (tolerance %d kB)",
                          moved_kb, want_kb, functional.STATS_TOTAL_TOLERANCE_KB)
            if abs(moved_kb - want_kb) > functional.STATS_TOTAL_TOLERANCE_KB:
                raise GuestError(f"stat-total-memory moved {moved_kb} kB, the balloon holds {want_kb} kB")
            self.step(g, "reset to full", self.full_bytes(g), mem["MemTotal"])
            self.expect_clean(g)

    def next_stats(self, g, after, timeout_s=3 * STATS_INTERVAL_S + 10):
        """Poll guest-stats until its last-update is later than ``after``; FAIL if it does not advance."""
        seen = []

        def fresh():
            seen.append(functional.parse_guest_stats(balloon.qom_get(g, "guest-stats")))
            return seen[-1] if seen[-1].last_update > after else None

        try:
            return wait.until(fresh, timeout_s, "a fresh guest-stats report", poll_s=0.1)
        except WaitTimeout:
            raise GuestError(f"guest-stats last-update stayed at {seen[-1].last_update} for {timeout_s} s with a "
                             f"polling interval of {STATS_INTERVAL_S} s: the guest stopped reporting") from None

    def compare_stats(self, g, previous, when):
        """Wait for a fresh report (last-update advancing), then compare it with the guest's own /proc."""
        stats = self.next_stats(g, previous.last_update if isinstance(previous, functional.GuestStats) else 0)
        text = g.ssh_run(["cat", "/proc/meminfo", "/proc/vmstat"]).stdout
        rows = functional.compare_stats(stats, functional.parse_meminfo(text), functional.parse_vmstat(text))
        advanced = stats.last_update - previous.last_update if isinstance(previous, functional.GuestStats) else None
        self.log.info("guest-stats (%s): last-update %d%s", when, stats.last_update,
                      f", advanced {advanced} s" if advanced is not None else "")
        for row in rows:
            self.log.info("  %s", row.line())
        self.record["steps"].append({"label": f"guest-stats {when}", "last_update": stats.last_update,
                                     "stats": stats.stats, "comparisons": [vars(r) for r in rows]})
        bad = [r.line() for r in rows if not r.ok]
        if bad:
            raise GuestError(f"guest-stats ({when}) disagree with the guest: {'; '.join(bad)}")
        return stats

    def test_deflate_on_oom(self):
        """deflate-on-oom=on: a workload needing more than is left deflates the balloon; no OOM kill."""
        with self.check("deflate-on-oom"), self.boot(balloon_props={"deflate-on-oom": "on"}) as g:
            mem0 = self.start_state(g)
            rng = random.Random(self.seed())
            floor = functional.floor_mib(g.spec.memory_mib, mem0["MemTotal"], mem0["MemAvailable"])
            target = rng.randrange(floor, floor + 128) * MIB
            trace = balloon.drive(g, target, self.job.workload.poll_interval_s, stall_s=self.job.workload.stall_s)
            mem1 = functional.meminfo(g)
            held_kb = (self.full_bytes(g) - target) >> 10
            drop_kb = mem0["MemAvailable"] - mem1["MemAvailable"]
            tol = functional.stats_tolerance_kb(mem0["MemTotal"])
            self.log.info("inflated to %d MiB in %.2f s: MemTotal %d -> %d kB (deflate-on-oom keeps it; tolerance "
                          "%d kB); MemAvailable down %d kB, the balloon holds %d kB (tolerance %d kB)", target >> 20,
                          trace.wall_s, mem0["MemTotal"], mem1["MemTotal"], functional.MEMTOTAL_TOLERANCE_KB,
                          drop_kb, held_kb, tol)
            if abs(mem1["MemTotal"] - mem0["MemTotal"]) > functional.MEMTOTAL_TOLERANCE_KB:
                raise GuestError(f"with deflate-on-oom, MemTotal moved {mem0['MemTotal']} -> {mem1['MemTotal']} kB")
            if abs(drop_kb - held_kb) > tol:
                raise GuestError(f"inflate with deflate-on-oom: the balloon holds {held_kb} kB but the guest's "
                                 f"MemAvailable is down {drop_kb} kB (tolerance {tol} kB)")
            need_mib = mem1["MemAvailable"] // 1024 + OOM_EXCESS_MIB
            self.log.info("filling a tmpfs with %d MiB (%d MiB more than MemAvailable)", need_mib, OOM_EXCESS_MIB)
            start = time.perf_counter()
            script = (f"mkdir -p /mnt/oom && mount -t tmpfs -o size={need_mib + 64}m tmpfs /mnt/oom && "
                      f"dd if=/dev/zero of=/mnt/oom/fill bs=1M count={need_mib} 2>&1")
            fill = g.ssh.run(["sh", "-c", script], check=False, timeout=600)
            fill_s = time.perf_counter() - start
            rose = balloon.actual(g) - target
            self.record["steps"].append({"label": "oom fill", "target_bytes": target, "fill_mib": need_mib,
                                         "fill_rc": fill.rc, "actual_rise_bytes": rose, "fill_s": round(fill_s, 2)})
            self.log.info("fill exited %d in %.1f s; actual rose %d MiB above the target", fill.rc, fill_s, rose >> 20)
            functional.expect_clean("serial console", g.console_text(), log=str(g.console_log))
            if fill.rc != 0:
                raise GuestError(f"the fill workload failed (rc {fill.rc}): {fill.stdout.strip()[-200:]}")
            least = (need_mib << 10) - mem1["MemAvailable"] - tol
            if rose >> 10 < least:
                raise GuestError(f"the guest got {need_mib} MiB with {mem1['MemAvailable']} kB available, but the "
                                 f"balloon gave back only {rose >> 10} kB (expected at least {least} kB)")
            self.log.info("balloon deflated by %d kB on OOM (at least %d kB expected); no OOM kill", rose >> 10, least)
            g.ssh_run(["sh", "-c", "rm -f /mnt/oom/fill && umount /mnt/oom"])
            self.step(g, "reset to full", self.full_bytes(g), mem0["MemTotal"])
            self.expect_clean(g)

    def test_free_page_reporting(self):
        """free-page-reporting=on: memory the guest touched and freed leaves QEMU's RSS."""
        with self.check("free-page-reporting"), self.boot(balloon_props={"free-page-reporting": "on"}) as g:
            mem = self.start_state(g)
            touch_mib = min(FPR_TOUCH_MIB, mem["MemAvailable"] // 1024 - 256)
            rss0 = process_rss_kb(g.host, g.pid)
            g.ssh_run(["sh", "-c", (f"mkdir -p /mnt/fpr && mount -t tmpfs -o size={touch_mib + 16}m tmpfs /mnt/fpr "
                                    f"&& dd if=/dev/zero of=/mnt/fpr/f bs=1M count={touch_mib} 2>/dev/null")])
            rss1 = process_rss_kb(g.host, g.pid)
            self.log.info("guest touched %d MiB: QEMU VmRSS %d -> %d kB", touch_mib, rss0, rss1)
            if rss1 - rss0 < (touch_mib << 10) // 2:
                raise HarnessError(f"QEMU's RSS grew only {rss1 - rss0} kB when the guest touched {touch_mib} MiB: "
                                   f"cannot see memory being returned on this host")
            g.ssh_run(["sh", "-c", "rm -f /mnt/fpr/f && umount /mnt/fpr"])
            want_kb = rss1 - int(FPR_RETURNED_FRACTION * (touch_mib << 10))
            start = time.perf_counter()
            trace = []
            while True:
                rss = process_rss_kb(g.host, g.pid)
                waited = time.perf_counter() - start
                trace.append((round(waited, 2), rss))
                if rss <= want_kb or waited > FPR_WAIT_S:
                    break
                time.sleep(0.5)
            self.record["steps"].append({"label": "free page reporting", "touch_mib": touch_mib, "rss_before_kb": rss0,
                                         "rss_touched_kb": rss1, "rss_trace_kb": trace})
            self.log.info("guest freed it: VmRSS %d kB after %.1f s (needs <= %d kB: at least %d %% of %d MiB "
                          "returned within %.0f s)", rss, waited, want_kb, FPR_RETURNED_FRACTION * 100, touch_mib,
                          FPR_WAIT_S)
            if rss > want_kb:
                raise GuestError(f"free page reporting returned only {rss1 - rss} kB of the {touch_mib << 10} kB the "
                                 f"guest freed within {FPR_WAIT_S:.0f} s (QEMU VmRSS {rss1} -> {rss} kB)")
            self.expect_clean(g)

    def test_stress(self):
        """Seeded random inflates and deflates while a CPU+memory load (dd buffers, tmpfs churn) runs in the guest."""
        with self.check("stress"), self.boot() as g:
            mem = self.start_state(g)
            pids = [g.ssh_run(["sh", "-c", f"({load}) </dev/null >/dev/null 2>&1 & echo $!"]).stdout.strip()
                    for load in STRESS_LOAD]
            self.log.info("load running in the guest: 4 x 64 MiB dd buffers in a loop, 128 MiB tmpfs churn "
                          "(pids %s)", ", ".join(pids))
            self.wait_loaded(g)
            loaded = functional.meminfo(g)
            floor = functional.floor_mib(g.spec.memory_mib, loaded["MemTotal"], loaded["MemAvailable"])
            p = functional.plan("evict-enlarge", g.spec.memory_mib, floor, self.seed())
            self.record["plan"] = p.record()
            self.log.info("plan under load (floor %d MiB): %s", floor,
                          ", ".join(f"{label} -> {mib} MiB" for label, mib in p.steps))
            for label, mib in p.steps:
                self.step(g, f"{label} under load", mib * MIB, mem["MemTotal"], timeout_s=300)
            counts = g.ssh_run(["sh", "-c", "cat /tmp/stress.cpu /tmp/stress.mem; kill " + " ".join(pids)]).stdout
            self.log.info("load iterations while ballooning (cpu, mem): %s", ", ".join(counts.split()))
            self.record["load_iterations"] = counts.split()
            if len(counts.split()) != 2:
                raise HarnessError(f"the guest load did not run: {counts!r}")
            self.expect_clean(g)

    def wait_loaded(self, g, timeout_s=60.0):
        """Wait until both loads have finished a first iteration (their counters exist), so the plan is drawn from
        the loaded guest's MemAvailable."""
        try:
            wait.until(lambda: g.ssh.run(["sh", "-c", "test -s /tmp/stress.cpu && test -s /tmp/stress.mem"],
                                         check=False).rc == 0, timeout_s, "the guest load's first iteration", 0.1)
        except WaitTimeout:
            raise GuestError(f"the guest load did not complete an iteration within {timeout_s:.0f} s") from None

    def test_hotplug(self):
        """device_del / device_add of the balloon (q35, native PCIe hotplug), then the balloon still works."""
        with self.check("hotplug"), self.boot(machine="q35") as g:
            mem = self.start_state(g)
            rng = random.Random(self.seed())
            floor = functional.floor_mib(g.spec.memory_mib, mem["MemTotal"], mem["MemAvailable"])
            self.step(g, "inflate before unplug", rng.randrange(floor, g.spec.memory_mib) * MIB, mem["MemTotal"])
            start = time.perf_counter()
            g.qmp("device_del", id="balloon0")
            try:
                wait.until(lambda: not balloon.present(g), UNPLUG_WAIT_S, "the balloon's release", poll_s=0.2)
            except WaitTimeout:
                raise GuestError(f"the guest did not release the balloon within {UNPLUG_WAIT_S:.0f} s of "
                                 f"device_del (pciehp)") from None
            unplug_s = time.perf_counter() - start
            gone = functional.meminfo(g)
            functional.expect_memtotal("after unplug", mem["MemTotal"], gone["MemTotal"], self.full_bytes(g),
                                       self.full_bytes(g))
            try:
                balloon.actual(g)
                raise HarnessError("query-balloon still answers after the balloon was unplugged")
            except QMPError:
                pass
            self.log.info("unplugged in %.1f s: the driver returned every page (MemTotal %d kB, tolerance %d kB); "
                          "query-balloon refuses without a balloon", unplug_s, gone["MemTotal"],
                          functional.MEMTOTAL_TOLERANCE_KB)
            start = time.perf_counter()
            g.qmp("device_add", driver="virtio-balloon-pci", id="balloon0", bus=HOTPLUG_PORT)
            self.wait_bound(g)
            plug_s = time.perf_counter() - start
            self.log.info("plugged back in and bound by virtio_balloon in %.1f s", plug_s)
            self.record["unplug_s"], self.record["plug_s"] = round(unplug_s, 2), round(plug_s, 2)
            self.step(g, "inflate after plug", rng.randrange(floor, g.spec.memory_mib) * MIB, mem["MemTotal"])
            self.step(g, "reset to full", self.full_bytes(g), mem["MemTotal"])
            self.expect_clean(g)

    def wait_bound(self, g, timeout_s=60.0):
        """Wait until the guest's virtio_balloon driver has bound a device (and QEMU has a balloon again)."""
        def bound():
            driver = g.ssh.run(["sh", "-c", "ls -d /sys/bus/virtio/drivers/virtio_balloon/virtio*"], check=False)
            return driver.rc == 0 and balloon.actual(g) == self.full_bytes(g)

        try:
            wait.until(bound, timeout_s, "the plugged balloon's binding", poll_s=0.2)
        except WaitTimeout:
            raise GuestError(f"the guest did not bind the plugged balloon within {timeout_s:.0f} s") from None

    def test_reboot(self):
        """system_reset with a ballooned guest: the new boot re-inflates to the host's target; the balloon works."""
        with self.check("reboot"), self.boot() as g:
            mem = self.start_state(g)
            rng = random.Random(self.seed())
            floor = functional.floor_mib(g.spec.memory_mib, mem["MemTotal"], mem["MemAvailable"])
            target = rng.randrange(floor, g.spec.memory_mib) * MIB
            self.step(g, "inflate before reset", target, mem["MemTotal"])
            g.qmp("set-action", reboot="reset")   # the guest runs with -no-reboot: a reset would end QEMU
            boots = g.console_text().count(g.image.ready)
            start = time.perf_counter()
            g.qmp("system_reset")

            def back():
                g.check_console("during the reboot")
                return g.console_text().count(g.image.ready) > boots

            try:
                wait.until(back, g.spec.boot_timeout_s, "the ready line after system_reset", poll_s=0.1)
            except WaitTimeout:
                raise GuestError(f"the guest did not come back within {g.spec.boot_timeout_s:.0f} s of "
                                 f"system_reset", log=str(g.console_log)) from None
            g.ssh.close()
            g.ssh.wait_ready(30.0)
            up_s = time.perf_counter() - start
            seen = {}

            def reinflated():  # the new boot's driver reads the host's target and inflates again
                seen["actual"], again = balloon.actual(g), functional.meminfo(g)
                try:
                    seen["off"] = functional.expect_memtotal("after reset", mem["MemTotal"], again["MemTotal"],
                                                             self.full_bytes(g), target)
                    seen.pop("wrong", None)
                except GuestError as exc:
                    seen["wrong"] = exc
                return seen["actual"] == target and "wrong" not in seen

            try:
                wait.until(reinflated, 120, "the re-inflate to the host's target", poll_s=0.2)
            except WaitTimeout:
                raise seen.get("wrong") or GuestError(f"after the reset actual stayed at {seen['actual'] // MIB} MiB, "
                                                      f"not the host's target {target // MIB} MiB") from None
            off = seen["off"]
            self.log.info("guest back %.1f s after system_reset and re-inflated to the target %d MiB in %.1f s; "
                          "MemTotal %+d kB off (tolerance %d kB)", up_s, target // MIB,
                          time.perf_counter() - start, off, functional.MEMTOTAL_TOLERANCE_KB)
            self.record["reboot_s"] = round(up_s, 2)
            self.step(g, "inflate after reset", rng.randrange(floor, g.spec.memory_mib) * MIB, mem["MemTotal"])
            self.step(g, "reset to full", self.full_bytes(g), mem["MemTotal"])
            self.expect_clean(g)

    def test_compaction(self):
        """Inflate to half the guest's RAM and compact it (/proc/sys/vm/compact_memory): balloon pages migrate
        (vmstat balloon_migrate rises; the driver tells the host of each new page and each old one), ``actual``
        stays, and the balloon still deflates to full."""
        with self.check("compaction"), self.boot() as g:
            mem = self.start_state(g)
            half = self.full_bytes(g) // 2
            self.step(g, "inflate to half", half, mem["MemTotal"])
            before = functional.parse_vmstat(g.ssh_run(["cat", "/proc/vmstat"]).stdout)
            g.ssh_run(["sh", "-c", "echo 1 > /proc/sys/vm/compact_memory"])
            after = functional.parse_vmstat(g.ssh_run(["cat", "/proc/vmstat"]).stdout)
            migrated = after.get("balloon_migrate", 0) - before.get("balloon_migrate", 0)
            self.record["balloon_migrate"] = migrated
            self.log.info("compaction migrated %d balloon page(s) (vmstat balloon_migrate %d -> %d)", migrated,
                          before.get("balloon_migrate", 0), after.get("balloon_migrate", 0))
            if "balloon_migrate" not in after:
                raise GuestError("/proc/vmstat has no balloon_migrate: the kernel lacks CONFIG_BALLOON_COMPACTION")
            if migrated <= 0:
                raise GuestError(f"compaction migrated no balloon page (vmstat balloon_migrate stayed at "
                                 f"{after['balloon_migrate']})")
            if (now := balloon.actual(g)) != half:
                raise GuestError(f"after compaction actual is {now >> 20} MiB, not {half >> 20} MiB")
            self.step(g, "reset to full", self.full_bytes(g), mem["MemTotal"])
            self.expect_clean(g)

    # live migration -------------------------------------------------------------------------------------------
    def test_migration(self):
        """Inflate to a seeded random target, migrate: on the destination ``actual`` is the target, MemTotal as before,
        guest-stats agree with the guest; then full and another inflate with the per-step assertions."""
        self.run_migration("idle")

    def test_migration_free_page_hint(self):
        """The same with ``free-page-hint=on`` (in an iothread).

        :avocado: tags=migration-cases
        """
        self.run_migration("free-page-hint")

    def test_migration_deflate_on_oom(self):
        """The same with ``deflate-on-oom=on``: MemTotal stays at its baseline throughout.

        :avocado: tags=migration-cases
        """
        self.run_migration("deflate-on-oom")

    def test_migration_during_inflate(self):
        """The migration starts while an inflate to the floor still runs, which ends on the destination.

        :avocado: tags=migration-cases
        """
        self.run_migration("during-inflate")

    def run_migration(self, case):
        balloon_props = MIGRATIONS[case]
        with self.check(f"migration ({case})"), self.boot(balloon_props=balloon_props) as g:
            mem = self.start_state(g)
            shrinks = balloon_props.get("deflate-on-oom") != "on"  # else the driver leaves MemTotal be
            rng = random.Random(self.seed())
            floor = functional.floor_mib(g.spec.memory_mib, mem["MemTotal"], mem["MemAvailable"])
            target = (floor if case == "during-inflate" else rng.randrange(floor, g.spec.memory_mib)) * MIB
            if case == "during-inflate":
                self.start_inflate(g, target)
            else:
                self.step(g, "inflate", target, mem["MemTotal"], shrinks=shrinks)
            before = functional.meminfo(g)
            self.migrate(g, target)
            if case == "during-inflate":
                self.finish_inflate(g, target)
            self.expect_migrated(g, target, mem["MemTotal"], before["MemTotal"], shrinks)
            balloon.qom_set(g, "guest-stats-polling-interval", STATS_INTERVAL_S)
            held = self.next_stats(g, 0)  # the buffer the guest last filled (at boot), re-read by the destination
            self.compare_stats(g, held, "after the migration")
            self.step(g, "deflate to full", self.full_bytes(g), mem["MemTotal"], shrinks=shrinks)
            self.step(g, "inflate again", rng.randrange(floor, g.spec.memory_mib) * MIB, mem["MemTotal"],
                      shrinks=shrinks)
            self.step(g, "reset to full", self.full_bytes(g), mem["MemTotal"], shrinks=shrinks)
            self.expect_clean(g)

    def start_inflate(self, g, target):
        """Set the target and wait until the guest has begun inflating towards it."""
        g.qmp("balloon", value=target)
        full = self.full_bytes(g)
        try:
            wait.until(lambda: balloon.actual(g) < full, 30, "the inflate to begin", poll_s=0.01)
        except WaitTimeout:
            raise GuestError(f"the guest did not begin inflating to {target >> 20} MiB within 30 s") from None

    def migrate(self, g, target):
        """Migrate the guest (``Guest.migrate``: a failure names the side) and record what QEMU said; ``actual``
        when it began says whether an inflate was still running."""
        began = balloon.actual(g)
        done = g.migrate()
        self.record["migration"] = {**done.record(), "actual_at_start_bytes": began, "target_bytes": target}
        self.log.info("migrated with actual at %d MiB (target %d MiB): %s; %.2f s from migrate to the destination "
                      "running; capabilities %s, parameters %s", began >> 20, target >> 20, done.line(), done.wall_s,
                      done.capabilities, done.parameters)

    def finish_inflate(self, g, target):
        """The inflate the migration interrupted goes on to its target on the destination."""
        if self.record["migration"]["actual_at_start_bytes"] == target:
            raise HarnessError("the inflate had finished before the migration began: nothing was checked")
        try:
            wait.until(lambda: balloon.actual(g) == target, MIGRATED_INFLATE_S, "the inflate on the destination",
                       poll_s=0.05)
        except WaitTimeout:
            raise GuestError(f"after the migration the inflate stayed at {balloon.actual(g) >> 20} MiB, short of "
                             f"{target >> 20} MiB, for {MIGRATED_INFLATE_S:.0f} s") from None

    def expect_migrated(self, g, target, baseline_kb, before_kb, shrinks):
        """On the destination: ``actual`` is the target, MemTotal what it was before the migration (and what the
        balloon holds, where the driver moves it)."""
        now, mem = balloon.actual(g), functional.meminfo(g)
        if now != target:
            raise GuestError(f"after the migration actual is {now} B, not the target {target} B")
        functional.expect_memtotal("after the migration", baseline_kb, mem["MemTotal"], self.full_bytes(g),
                                   target if shrinks else self.full_bytes(g))
        self.record["steps"].append({"label": "after the migration", "actual_bytes": now,
                                     "memtotal_before_kb": before_kb, "memtotal_kb": mem["MemTotal"]})
        self.log.info("on the destination: actual == target %d MiB exactly; MemTotal %d kB (before the migration "
                      "%d kB)", now >> 20, mem["MemTotal"], before_kb)

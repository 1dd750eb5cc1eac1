"""The benchmark scenario: warm-up and measured inflate/deflate cycles on one booted guest.

Each cycle, for each (from, to) pair of the workload's ``targets`` (by default the guest's RAM down to
``target_mib``), inflates the balloon from ``from`` to ``to`` MiB left to the guest and deflates it back; with
several pairs the op names carry the sizes (``inflate 8192→1024 MiB``). Around every operation the guest's CPU and
MemTotal are read over SSH, and QEMU's CPU and the whole host's through its host (what else ran:
``host_other_cpu_s``, stolen time), outside the timed window; the guest must see the change (MemTotal moves by what
the balloon took) and its console must stay free of panics and warnings; ``outside_s`` is how long that work
around the timed window took.  QEMU's RSS before and after gives ``host_returned_mib``; with ``populate`` the guest
first uses its free memory (harness/run/fill.py) and an inflate must give the host back ``RETURNED_FLOOR`` of what
the balloon took, or it fails.  With ``fragment`` the guest cuts its free memory into single pages once, before the
first cycle (harness/run/fragment.py).  An operation that follows another starts from its snapshot (one SSH round
trip an operation, not two), so the guest CPU of that snapshot's own command falls into the next operation, alike
for every variant. Cycles after boot are numbered from 1; the first ``warmup`` are kept but marked. ``soak`` repeats
plain cycles to show that MemTotal comes back and QEMU's memory stays flat.
Where the guest's instructions are counted (``Guest.insns``, under TCG) a sample has them (``guest_insns``: from the
command to the target, ``balloon.drive``) and the host's speed: the instructions counted over the CPU window, per
second of its vCPU threads' CPU time (``host_speed``).
"""

import re
import time
from dataclasses import asdict

from harness.errors import GuestError
from harness.results.contract import Sample
from harness.run.accounting import guest_snapshot, host_cpu, process_cpu, process_rss_kb
from harness.run.balloon import actual, drive
from harness.run.fill import fill
from harness.run.fragment import fragment
from harness.units import MIB

MEMTOTAL_TOLERANCE = 0.01  # fraction of the ballooned amount MemTotal may miss by
RETURNED_FLOOR = 0.9  # with ``populate``, the share of what the balloon took that QEMU's RSS must give back
TRACE_POINTS = 100  # points of ``actual`` kept per operation for the report's plot
VCPU_THREAD = re.compile(r"(CPU \d+|ALL CPUs)/TCG")  # QEMU's vCPU threads under TCG (debug-threads=on): one per
#                                                     vCPU, or one for all (tcg thread=single, -icount)


def run(guest, workload, variant, boot, progress=print):
    """Run the scenario on ``guest``; return (samples, traces)."""
    clk_tck = guest.host.clk_tck()
    samples, traces = [], []
    pairs = workload.pairs(guest.spec.memory_mib)
    snapshot = None  # the guest as the last operation left it: the next one starts from there
    if workload.fragment:
        fragment(guest.ssh)
    for cycle in range(1, workload.warmup + workload.cycles + 1):
        for start, end in pairs:
            if actual(guest) != start * MIB:  # the pair starts elsewhere: get there, untimed
                _drive(guest, workload, start * MIB)
                snapshot = None
            if workload.populate:
                fill(guest.ssh)
                snapshot = None  # the fill's guest CPU is not the inflate's
            for op, target in (("inflate", end * MIB), ("deflate", start * MIB)):
                name = op if len(pairs) == 1 else f"{op} {start}→{end} MiB"
                sample, trace, snapshot = _measure(guest, workload, variant, boot, cycle, name, target, clk_tck,
                                                   snapshot)
                samples.append(sample)
                traces.append({"variant": variant, "boot": boot, "cycle": cycle, "op": name,
                               "points": [[round(t, 5), a] for t, a in _thin(trace.points)]})
            progress(f"{variant} boot {boot} cycle {cycle} {start}→{end} MiB: inflate {samples[-2].wall_s:.3f} s, "
                     f"deflate {samples[-1].wall_s:.3f} s{' (warm-up)' if cycle <= workload.warmup else ''}")
        guest.check_console(f"in cycle {cycle}")
    if actual(guest) != guest.spec.memory_mib * MIB:
        _drive(guest, workload, guest.spec.memory_mib * MIB)
    return samples, traces


def soak(guest, workload, cycles, progress=print):
    """Inflate and deflate ``cycles`` times; after each cycle record the guest's MemTotal and QEMU's RSS."""
    full = guest.spec.memory_mib * MIB
    rows = []
    for cycle in range(1, cycles + 1):
        for target in (workload.target_mib * MIB, full):
            _drive(guest, workload, target)
        rows.append({"cycle": cycle, "memtotal_kb": guest_snapshot(guest.ssh).memtotal_kb,
                     "qemu_rss_kb": process_rss_kb(guest.host, guest.pid)})
        if cycle % 50 == 0:
            guest.check_console(f"in soak cycle {cycle}")
            progress(f"soak cycle {cycle}: MemTotal {rows[-1]['memtotal_kb']} kB, "
                     f"QEMU RSS {rows[-1]['qemu_rss_kb']} kB")
    guest.check_console(f"after {cycles} soak cycles")
    return rows


def _measure(guest, workload, variant, boot, cycle, op, target, clk_tck, before=None):
    """Time one operation; ``before`` is the guest's snapshot where the previous operation ended (else taken here).
    Return the sample, the trace and the guest's snapshot after it."""
    start = time.perf_counter()
    before = before or guest_snapshot(guest.ssh)
    counted = guest.insns()
    rss0 = process_rss_kb(guest.host, guest.pid)
    cpu0 = process_cpu(guest.host, guest.pid, clk_tck)
    host0 = host_cpu(guest.host, clk_tck)
    trace = _drive(guest, workload, target)
    host1 = host_cpu(guest.host, clk_tck)
    cpu = process_cpu(guest.host, guest.pid, clk_tck).since(cpu0)
    rss1 = process_rss_kb(guest.host, guest.pid)
    insns = None if counted is None else guest.insns() - counted
    after = guest_snapshot(guest.ssh)
    outside_s = time.perf_counter() - start - trace.wall_s
    moved_kb = (trace.from_bytes - trace.to_bytes) >> 10
    seen_kb = before.memtotal_kb - after.memtotal_kb
    if abs(seen_kb - moved_kb) > MEMTOTAL_TOLERANCE * abs(moved_kb):
        raise GuestError(f"{op} in cycle {cycle}: the balloon moved {moved_kb} kB but the guest's MemTotal moved "
                         f"{seen_kb} kB ({before.memtotal_kb} -> {after.memtotal_kb} kB)")
    if workload.populate:
        check_returned(f"{op} in cycle {cycle}", moved_kb, rss0, rss1)
    return Sample(variant=variant, boot=boot, cycle=cycle, op=op, warmup=cycle <= workload.warmup,
                  from_bytes=trace.from_bytes, to_bytes=trace.to_bytes, wall_s=round(trace.wall_s, 6),
                  t50_s=round(trace.time_to(0.5), 6), t90_s=round(trace.time_to(0.9), 6),
                  qemu_cpu_s=round(cpu.total_s, 4), qemu_threads_cpu_s=cpu.threads_s,
                  guest_cpu_s=round(after.busy_s - before.busy_s, 4),
                  guest_memtotal_before_kb=before.memtotal_kb, guest_memtotal_after_kb=after.memtotal_kb,
                  host_other_cpu_s=round(max(0.0, host1.busy_s - host0.busy_s - cpu.total_s), 4),
                  host_steal_s=round(host1.steal_s - host0.steal_s, 4), host_running=host1.running,
                  outside_s=round(outside_s, 4), host_returned_mib=round((rss0 - rss1) / 1024, 1),
                  guest_insns=trace.insns, host_speed=_host_speed(insns, cpu.threads_s),
                  **(asdict(trace.phases) if trace.phases else {})), trace, after


def check_returned(what, moved_kb, rss0_kb, rss1_kb):
    """Raise GuestError where an inflate of populated memory (``moved_kb`` > 0) gave the host back, as QEMU's RSS
    fell from ``rss0_kb`` to ``rss1_kb``, less than ``RETURNED_FLOOR`` of what the balloon took."""
    if moved_kb > 0 and rss0_kb - rss1_kb < RETURNED_FLOOR * moved_kb:
        raise GuestError(f"{what}: the balloon took {moved_kb >> 10} MiB of populated guest memory but QEMU's RSS "
                         f"fell by {(rss0_kb - rss1_kb) >> 10} MiB ({rss0_kb} -> {rss1_kb} kB): the host got back "
                         f"less than {RETURNED_FLOOR:.0%} of it")


def _host_speed(insns, threads_s):
    """Guest instructions per second of the vCPU threads' CPU time (``VCPU_THREAD``); None where not counted or the
    threads used no CPU time."""
    vcpu_s = sum(s for name, s in threads_s.items() if VCPU_THREAD.fullmatch(name))
    return None if insns is None or vcpu_s <= 0 else round(insns / vcpu_s)


def _drive(guest, workload, target):
    return drive(guest, target, workload.poll_interval_s, workload.op_timeout_s, workload.stall_s)


def _thin(points, keep=TRACE_POINTS):
    """At most about ``keep`` evenly spaced points of a trace (QEMU traces every 1 MiB), always the first and last."""
    step = max(1, len(points) // keep)
    return [*points[:-1:step], points[-1]]

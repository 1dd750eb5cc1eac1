"""The migration benchmark's scenario: measured live migrations of one booted guest (``workload.migrate``).

With ``inflated`` the balloon first takes the guest down to ``target_mib`` and holds it there; each cycle then
(with ``populate``, after the guest has used its free memory: the thread's "after a memory-hungry workload")
migrates the guest to a new QEMU on the same host (``Guest.migrate``: harness/run/migration.py) at the job's
bandwidth.  A sample's op is ``migrate``: its ``wall_s`` is QEMU's total time, beside the downtime, the setup time,
the RAM transferred and the pages sent as zero pages or whole (counts the host's speed cannot move), the host CPU
both QEMUs used (the host's busy time over the migration, less the harness's own where it runs there) and the
guest's.  On the destination the balloon must hold the same ``actual`` and the guest the same MemTotal, or the cycle
fails.
"""

import resource

from harness.errors import GuestError
from harness.results.contract import Sample
from harness.run import migration
from harness.run.accounting import guest_snapshot, host_cpu
from harness.run.balloon import actual, drive
from harness.run.fill import fill
from harness.units import MIB

MBPS = 10**6 // 8  # bytes a second in a Mbit/s
UNLIMITED = 2**63 - 1  # ``bandwidth_mbps: 0``: QEMU's max-bandwidth set out of reach
OP = "migrate"


def parameters(workload):
    """The migration parameters a job sets beside migration.PARAMETERS: its bandwidth limit."""
    mbps = workload.bandwidth_mbps
    return {"max-bandwidth": mbps * MBPS if mbps else UNLIMITED}


def settings(workload):
    """The capabilities and parameters every migration of the job runs with, as a test records them."""
    return {"capabilities": dict(migration.CAPABILITIES),
            "parameters": {**migration.PARAMETERS, **parameters(workload)}}


def run(guest, workload, variant, boot, progress=print):
    """Run the scenario on ``guest``; return (samples, traces) — no traces: a migration has no ``actual`` curve."""
    clk_tck = guest.host.clk_tck()
    if workload.inflated:
        drive(guest, workload.target_mib * MIB, workload.poll_interval_s, workload.op_timeout_s, workload.stall_s)
    samples = []
    for cycle in range(1, workload.warmup + workload.cycles + 1):
        if workload.populate:
            fill(guest.ssh)
        samples.append(_measure(guest, workload, variant, boot, cycle, clk_tck))
        s = samples[-1]
        progress(f"{variant} boot {boot} cycle {cycle}: migrated in {s.wall_s:.3f} s, downtime {s.downtime_s:.3f} s, "
                 f"{s.transferred_mib:.1f} MiB{' (warm-up)' if cycle <= workload.warmup else ''}")
    guest.check_console(f"after {len(samples)} migrations")
    return samples, []


def _measure(guest, workload, variant, boot, cycle, clk_tck):
    """One migration, and the checks that the guest arrived as it left."""
    before = guest_snapshot(guest.ssh)
    held = actual(guest)
    host0, own0 = host_cpu(guest.host, clk_tck), _own_cpu_s(guest.host)
    done = guest.migrate(parameters=parameters(workload))
    host1, own1 = host_cpu(guest.host, clk_tck), _own_cpu_s(guest.host)
    after = guest_snapshot(guest.ssh)
    now = actual(guest)
    if now != held or after.memtotal_kb != before.memtotal_kb:
        raise GuestError(f"migration in cycle {cycle}: the guest left with the balloon's actual at {held // MIB} MiB "
                         f"and MemTotal {before.memtotal_kb} kB, and arrived with {now // MIB} MiB and "
                         f"{after.memtotal_kb} kB")
    return Sample(variant=variant, boot=boot, cycle=cycle, op=OP, warmup=cycle <= workload.warmup,
                  from_bytes=held, to_bytes=now, wall_s=done.total_ms / 1000, t50_s=None, t90_s=None,
                  qemu_cpu_s=round(max(0.0, host1.busy_s - host0.busy_s - (own1 - own0)), 4),
                  qemu_threads_cpu_s={}, guest_cpu_s=round(after.busy_s - before.busy_s, 4),
                  guest_memtotal_before_kb=before.memtotal_kb, guest_memtotal_after_kb=after.memtotal_kb,
                  host_steal_s=round(host1.steal_s - host0.steal_s, 4), host_running=host1.running,
                  downtime_s=done.downtime_ms / 1000, setup_s=done.setup_ms / 1000,
                  transferred_mib=round(done.transferred_bytes / MIB, 3), zero_pages=done.zero_pages,
                  normal_pages=done.normal_pages)


def _own_cpu_s(host):
    """The harness's own CPU time so far (every thread) where it shares the QEMUs' host, else 0."""
    if not host.local:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

"""CPU and memory accounting from /proc, on the host and in the guest.

Host side, read through a ``Host`` (local or SSH), in clock ticks divided by that host's ``CLK_TCK``: QEMU's
``/proc/PID/stat`` and ``/proc/PID/task/*/stat`` (per thread name), its resident memory from ``/proc/PID/status``,
and the whole host's ``/proc/stat`` (busy and stolen time, runnable tasks: what else ran beside QEMU).  Guest
side: ``/proc/stat`` and ``/proc/meminfo`` read over SSH in one command.  Every text is parsed into a small record
that raises on a missing field.
"""

from collections import Counter
from dataclasses import dataclass

from harness.errors import HarnessError

GUEST_USER_HZ = 100  # /proc/stat is always in USER_HZ


@dataclass(frozen=True)
class ProcStat:
    pid: int
    comm: str
    ticks: int      # utime + stime


def parse_stat(text):
    """Parse one ``/proc/PID/stat`` line (the command name may hold spaces and parentheses)."""
    try:
        head, _, rest = text.strip().rpartition(")")
        pid, _, comm = head.partition(" (")
        fields = rest.split()
        return ProcStat(int(pid), comm, int(fields[11]) + int(fields[12]))
    except (ValueError, IndexError) as exc:
        raise HarnessError(f"unreadable /proc stat line: {text[:80]!r}") from exc


@dataclass(frozen=True)
class CpuSnapshot:
    """A process's CPU time so far: in total, and per thread name."""

    total_s: float
    threads_s: dict

    def since(self, earlier):
        names = set(self.threads_s) | set(earlier.threads_s)
        return CpuSnapshot(self.total_s - earlier.total_s,
                           {n: round(self.threads_s.get(n, 0) - earlier.threads_s.get(n, 0), 4) for n in names})


def process_cpu(host, pid, clk_tck):
    """CPU of process ``pid`` on ``host``, with its threads grouped by name."""
    total = parse_stat(host.read_text(f"/proc/{int(pid)}/stat")).ticks
    threads = Counter()
    lines = host.run(["sh", "-c", f"cat /proc/{int(pid)}/task/*/stat"]).stdout
    for line in lines.splitlines():
        stat = parse_stat(line)
        threads[stat.comm] += stat.ticks
    return CpuSnapshot(total / clk_tck, {n: t / clk_tck for n, t in threads.items()})


@dataclass(frozen=True)
class HostCpu:
    """The host's CPU time so far over all its CPUs (``/proc/stat``): busy (user, nice, system, irq, softirq) and
    stolen by a hypervisor, in seconds; and the runnable tasks now."""

    busy_s: float
    steal_s: float
    running: int


def parse_host_stat(text, clk_tck):
    """``HostCpu`` from the text of ``/proc/stat``."""
    busy = steal = running = None
    for line in text.splitlines():
        if line.startswith("cpu ") and len(line.split()) > 8:
            v = [int(x) for x in line.split()[1:]]
            busy, steal = v[0] + v[1] + v[2] + v[5] + v[6], v[7]
        elif line.startswith("procs_running "):
            running = int(line.split()[1])
    if busy is None or running is None:
        raise HarnessError("host /proc/stat lacks the 'cpu' or 'procs_running' line")
    return HostCpu(busy / clk_tck, steal / clk_tck, running)


def host_cpu(host, clk_tck):
    """The CPU time of ``host`` as a whole (``HostCpu``)."""
    return parse_host_stat(host.read_text("/proc/stat"), clk_tck)


def parse_vmrss(status_text):
    """VmRSS in kB from a ``/proc/PID/status`` text."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise HarnessError("/proc/PID/status has no VmRSS line (is the process a zombie?)")


def process_rss_kb(host, pid):
    """Resident memory of process ``pid`` on ``host`` in kB."""
    return parse_vmrss(host.read_text(f"/proc/{int(pid)}/status"))


@dataclass(frozen=True)
class GuestSnapshot:
    busy_s: float
    memtotal_kb: int


def guest_snapshot(ssh):
    """The guest's busy CPU time (all CPUs) and MemTotal, read in one SSH command."""
    text = ssh.run(["cat", "/proc/stat", "/proc/meminfo"]).stdout
    return parse_guest(text)


def parse_guest(text):
    cpu = memtotal = None
    for line in text.splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            cpu = sum(v[:8]) - v[3] - v[4]   # all but idle and iowait
        elif line.startswith("MemTotal:"):
            memtotal = int(line.split()[1])
    if cpu is None or memtotal is None:
        raise HarnessError("guest /proc/stat or /proc/meminfo lacks the 'cpu' or 'MemTotal' line")
    return GuestSnapshot(cpu / GUEST_USER_HZ, memtotal)

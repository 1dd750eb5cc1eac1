"""Balloon operations over QMP: set a target and time the guest's way to it.

An operation is timed by QEMU itself: its trace (``virtio_balloon_to_target`` when the ``balloon`` command sets the
target, ``virtio_balloon_set_config`` each time the guest writes ``actual``; microsecond timestamps) gives the time
from the target being set to the guest confirming it, and the ``actual`` curve in between.  The same trace splits
the time (``Phases``): each request is the guest's kick of the balloon's inflate or deflate queue
(``virtio_queue_notify``) up to QEMU's interrupt back (``virtio_notify``) — the host's handling —; before the first
request the guest is still noticing the target (waiting); the rest is the guest's own work. Polling ``query-balloon``
would measure the monitor instead: under TCG the main loop waits for the vCPU thread's lock, and answers come in
bursts ~0.13 s apart. ``query-balloon`` is polled every ``poll_s`` only to know when the target is reached
(``BALLOON_CHANGE`` events are throttled to one a second) and to see a balloon that stalls; one that stops short is
reported with what it reached. Where the guest's instructions are counted (``Guest.insns``, under TCG) the counter
is read right before the ``balloon`` command and right after ``query-balloon`` first shows the target. The balloon
device's QOM properties (guest statistics and their polling interval) are read and set on its path,
``/machine/peripheral/balloon0``.
"""

import re
import time
from dataclasses import dataclass, replace

from harness.errors import GuestError, QMPError
from harness.units import MIB


@dataclass(frozen=True)
class Phases:
    """Where one operation's time went, from QEMU's trace: ``requests`` the guest sent, ``host_s`` QEMU spent on
    them (kick to interrupt), ``wait_s`` before the first; with the extra events traced (``guest.count_discards``),
    the guest-physical ``ranges`` the ranges device took and the ``discards`` QEMU made (else None)."""

    requests: int
    host_s: float
    wait_s: float
    ranges: int | None = None
    discards: int | None = None


@dataclass(frozen=True)
class Trace:
    """``actual`` over one operation: ``points`` are (seconds since the command, bytes) at every change."""

    from_bytes: int
    to_bytes: int
    points: tuple
    wall_s: float
    phases: Phases | None = None  # None where the QEMU traced no request of the balloon (another device model)
    insns: int | None = None  # guest instructions from the command to query-balloon showing the target (Guest.insns)

    def time_to(self, fraction):
        """Seconds until ``fraction`` of the change was done (None if it never was)."""
        span = self.to_bytes - self.from_bytes
        for t, actual in self.points:
            if span == 0 or (actual - self.from_bytes) / span >= fraction:
                return t
        return None


def actual(guest):
    """The balloon's current ``actual`` (bytes of RAM the guest has), validated."""
    reply = guest.qmp("query-balloon")
    value = reply.get("actual") if isinstance(reply, dict) else None
    if not isinstance(value, int):
        raise QMPError(f"query-balloon returned no integer 'actual': {reply!r}")
    return value


def drive(guest, target_bytes, poll_s=0.01, timeout_s=120.0, stall_s=10.0):
    """Set the balloon so the guest has ``target_bytes``, wait until it has, and return QEMU's trace of the way
    with the guest's instructions from the command to ``query-balloon`` showing the target (where counted).

    A balloon whose ``actual`` does not move for ``stall_s`` has stalled, and one that has not arrived after
    ``timeout_s`` is too slow: both raise GuestError at once, with where it stopped and QEMU's trace so far."""
    start_bytes = actual(guest)
    guest.trace_lines()  # what came before this operation
    counted = guest.insns()
    t0 = moved = time.perf_counter()
    last = start_bytes
    guest.qmp("balloon", value=target_bytes)
    while (now := actual(guest)) != target_bytes:
        clock = time.perf_counter()
        if now != last:
            last, moved = now, clock
        if clock - moved > stall_s or clock - t0 > timeout_s:
            why = (f"stalled: actual stayed at {now // MIB} MiB for {clock - moved:.1f} s" if clock - moved > stall_s
                   else f"did not arrive within {timeout_s:.0f} s: actual is {now // MIB} MiB")
            raise GuestError(f"balloon {why} (from {start_bytes // MIB} MiB towards {target_bytes // MIB} MiB); "
                             f"QEMU's trace: {_story(guest.trace_lines(), guest.spec.memory_mib * MIB, start_bytes)}")
        time.sleep(poll_s)
    insns = None if counted is None else guest.insns() - counted
    return replace(from_trace(guest.trace_lines(), guest.spec.memory_mib * MIB, start_bytes, target_bytes,
                              guest.spec.count_discards), insns=insns)


def _story(lines, ram_bytes, start_bytes, keep=5):
    """QEMU's trace of an operation that went wrong, told once per distinct point: when the target was set and
    the last ``keep`` values ``actual`` took, each with the time it was first reached."""
    start, events = operation(lines)
    if start is None:
        return "no virtio_balloon_to_target event (QEMU never passed the target to the device)"
    points = _points(events, ram_bytes, start_bytes)
    distinct = [p for i, p in enumerate(points) if i == 0 or p[1] != points[i - 1][1]]
    told = ", ".join(f"{b // MIB} MiB at {t:.2f} s" for t, b in distinct[-keep:])
    changes = len(distinct) - 1
    return f"target set at 0.00 s; {changes} change(s) of actual" + (f", the last: {told}" if changes else "")


TRACE_LINE = re.compile(r"^\d+@(?P<t>\d+\.\d+):(?P<event>\w+) (?P<args>.*)$")
ARGS = re.compile(r"(\w+):? (\S+)")  # "actual: 131072 oldactual: 0", "vdev 0x55d4 n 0 vq 0x55e0"
QUEUES = {"inflate": 0, "deflate": 1}  # the balloon's virtqueues by index (the virtio spec's inflateq, deflateq)


def operation(lines):
    """(the time the last ``virtio_balloon_to_target`` was traced, [(seconds since, event, its arguments), ...]
    after it) from QEMU's trace lines; (None, []) without one."""
    start, events = None, []
    for line in lines:
        m = TRACE_LINE.match(line)
        if not m:
            continue
        if m["event"] == "virtio_balloon_to_target":
            start, events = float(m["t"]), []
        elif start is not None:
            events.append((round(float(m["t"]) - start, 6), m["event"], m["args"]))
    return start, events


def from_trace(lines, ram_bytes, start_bytes, target_bytes, counted=False):
    """The ``Trace`` of one operation from QEMU's trace lines: from the target being set to the guest writing the
    ``actual`` that meets it (balloon pages are 4 KiB; the guest has RAM minus the balloon)."""
    start, events = operation(lines)
    if start is None:
        raise QMPError("QEMU's trace has no virtio_balloon_to_target event for the balloon command",
                       hint="the QEMU binary needs the 'log' trace backend (qemu-system-x86_64 -trace help)")
    points = _points(events, ram_bytes, start_bytes)
    done = next((t for t, b in points if b == target_bytes), 0.0 if start_bytes == target_bytes else None)
    if done is None:
        raise QMPError(f"QEMU's trace never shows actual at {target_bytes // MIB} MiB although query-balloon did",
                       hint="a trace line may have been lost; see the QEMU log directory")
    return Trace(start_bytes, target_bytes, tuple(p for p in points if p[0] <= done), done,
                 phases(events, "inflate" if target_bytes < start_bytes else "deflate", done, counted))


def phases(events, op, done_s, counted=False):
    """The ``Phases`` of one operation (``op``: inflate or deflate) that took ``done_s`` from the target being set,
    from its events (``operation``; ``counted``: with ranges and discards traced); None without requests.  The
    balloon is the device that kicked ``op``'s queue most often (another device's queue of that index may too)."""
    events = [(t, e, a) for t, e, a in events if t <= done_s]
    kicks = [(t, dict(ARGS.findall(a))) for t, e, a in events if e == "virtio_queue_notify"]
    kicks = [(t, a) for t, a in kicks if a.get("n") == str(QUEUES[op])]
    if not kicks:
        return None
    vdev = max({a["vdev"] for _, a in kicks}, key=lambda d: sum(a["vdev"] == d for _, a in kicks))
    kicks = [(t, a["vq"]) for t, a in kicks if a["vdev"] == vdev]
    answers = sorted(t for t, e, a in events if e == "virtio_notify" and dict(ARGS.findall(a)).get("vq") == kicks[0][1])
    host, i = 0.0, 0
    for t, _ in kicks:
        while i < len(answers) and answers[i] < t:
            i += 1
        if i < len(answers):
            host, i = host + answers[i] - t, i + 1
    count = lambda event: sum(e == event for _, e, _ in events) if counted else None  # noqa: E731
    return Phases(len(kicks), round(host, 6), round(kicks[0][0], 6), count("virtio_balloon_handle_range"),
                  count("ram_block_discard_range"))


def _points(events, ram_bytes, start_bytes):
    """[(seconds since the target was set, bytes the guest has), ...] from an operation's events."""
    return [(0.0, start_bytes)] + [(t, ram_bytes - (int(dict(ARGS.findall(a))["actual"]) << 12))
                                   for t, e, a in events if e == "virtio_balloon_set_config"]


BALLOON_QOM = "/machine/peripheral/balloon0"  # the guest's ``-device virtio-balloon-pci,id=balloon0``


def qom_get(guest, prop, path=BALLOON_QOM):
    """Read property ``prop`` of the balloon device (e.g. ``guest-stats``) over QMP ``qom-get``."""
    return guest.qmp("qom-get", path=path, property=prop)


def qom_set(guest, prop, value, path=BALLOON_QOM):
    """Set property ``prop`` of the balloon device (e.g. ``guest-stats-polling-interval``, in seconds)."""
    guest.qmp("qom-set", path=path, property=prop, value=value)


def present(guest, device_id="balloon0"):
    """Whether QEMU has a device ``device_id`` (``qom-list /machine/peripheral``: hot-unplug removes it)."""
    return any(p.get("name") == device_id for p in guest.qmp("qom-list", path="/machine/peripheral"))

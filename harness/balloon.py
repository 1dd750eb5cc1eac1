"""Balloon operations over QMP: set a target and time the guest's way to it.

QEMU throttles ``BALLOON_CHANGE`` to one event a second, so an operation is timed by polling ``query-balloon``
every ``poll_s`` from the moment the ``balloon`` command is sent until ``actual`` equals the target exactly.
The trace of ``actual`` over time is kept (every change seen), so 50 %/90 % times and plots come from it, and a
balloon that stops short is reported with the trace so far.  The balloon device's QOM properties (guest
statistics and their polling interval) are read and set on its path, ``/machine/peripheral/balloon0``.
"""

import time
from dataclasses import dataclass

from .errors import GuestError, QMPError


@dataclass(frozen=True)
class Trace:
    """``actual`` over one operation: ``points`` are (seconds since the command, bytes) at every change."""

    from_bytes: int
    to_bytes: int
    points: tuple
    wall_s: float

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


def drive(guest, target_bytes, poll_s=0.002, timeout_s=120.0):
    """Set the balloon so the guest has ``target_bytes`` and wait until it has; return the trace."""
    start_bytes = actual(guest)
    points = [(0.0, start_bytes)]
    t0 = time.perf_counter()
    guest.qmp("balloon", value=target_bytes)
    while True:
        now = actual(guest)
        elapsed = time.perf_counter() - t0
        if now != points[-1][1]:
            points.append((elapsed, now))
        if now == target_bytes:
            return Trace(start_bytes, target_bytes, tuple(points), elapsed)
        if elapsed > timeout_s:
            seen = ", ".join(f"{t:.2f}s:{a >> 20}MiB" for t, a in points[-5:])
            raise GuestError(f"balloon did not reach {target_bytes >> 20} MiB within {timeout_s:.0f} s; "
                             f"actual trace (last changes): {seen}")
        time.sleep(poll_s)


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

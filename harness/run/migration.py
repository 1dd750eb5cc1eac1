"""Live migration of a running guest over QMP, and what QEMU said about it.

``run`` sets the migration's capabilities and parameters on both QEMUs (explicitly, so figures are comparable: by
default no auto-converge, no XBZRLE, 10 Gbit/s, QEMU's 300 ms downtime limit), sends ``migrate`` on the source and
follows ``query-migrate`` to completion with a deadline and stall detection (RAM transferred not growing for
``stall_s``), then waits for the destination to run.  Every failure is a ``QMPError`` naming the side (source or
destination) and the cause; a migration that stalls or runs out of time is cancelled first.  ``Migration`` records
QEMU's own figures: total time, downtime, setup time, bytes of RAM transferred, and the pages sent as zero pages
(``ram.duplicate``: scanned, found zero, sent as a flag).  QEMU 7.2 counts no pages skipped as free: pages a free
page hint excused are never scanned, so they show as fewer zero pages and fewer bytes.
"""

import contextlib
import dataclasses
import time

from qemu.qmp import ExecuteError, QMPError as _QMPLibError

from harness import wait
from harness.errors import QMPError, WaitTimeout, reason

SOCKET = "migrate.sock"  # the destination's -incoming unix socket, in its run directory
CAPABILITIES = {"auto-converge": False, "xbzrle": False}
PARAMETERS = {"max-bandwidth": 10_000_000_000 // 8, "downtime-limit": 300}  # bytes/s (10 Gbit/s), ms
TIMEOUT_S = 120.0  # from migrate to completion
STALL_S = 10.0     # RAM transferred not growing this long is a stall
RUNNING_S = 10.0   # from completion to the destination running
REFUSED_S = 5.0    # from the source's failure to the end of a destination that refused the stream
POLL_S = 0.02
DONE = "completed"
FAILED = ("failed", "cancelled")


@dataclasses.dataclass(frozen=True)
class Migration:
    """One completed migration: what was set, and what ``query-migrate`` reported at its end (ms, bytes, pages)."""

    capabilities: dict
    parameters: dict
    total_ms: int
    downtime_ms: int
    setup_ms: int
    transferred_bytes: int
    zero_pages: int
    normal_pages: int
    wall_s: float  # from ``migrate`` to the destination running, on the harness's clock

    def record(self):
        return dataclasses.asdict(self)

    def line(self):
        return (f"{self.total_ms} ms total, {self.downtime_ms} ms downtime, {self.setup_ms} ms setup, "
                f"{self.transferred_bytes / 2**20:.1f} MiB transferred, {self.zero_pages} zero pages, "
                f"{self.normal_pages} pages sent whole")


def ask(side, monitor, name, **args):
    """One QMP command to the ``side`` ("source" or "destination") QEMU; a failure is a QMPError naming the side."""
    try:
        return monitor.cmd(name, **args)
    except ExecuteError as exc:
        raise QMPError(f"migration: {side}: QMP {name} refused: {exc}") from exc
    except (_QMPLibError, OSError, EOFError) as exc:
        raise QMPError(f"migration: {side}: QMP {name} failed: {reason(exc)}") from exc


def run(source, destination, uri, destination_exited, capabilities=None, parameters=None, timeout_s=TIMEOUT_S,
        stall_s=STALL_S, poll_s=POLL_S):
    """Migrate from the ``source`` monitor to the ``destination`` monitor (a QEMU listening with ``-incoming uri``) and
    return the ``Migration``.  ``destination_exited()`` is None while the destination's QEMU runs, else why it
    ended (its status and log): a destination that ended is named as the side that refused."""
    capabilities = {**CAPABILITIES, **(capabilities or {})}
    parameters = {**PARAMETERS, **(parameters or {})}
    states = [{"capability": k, "state": v} for k, v in capabilities.items()]
    ask("source", source, "migrate-set-capabilities", capabilities=states)
    ask("source", source, "migrate-set-parameters", **parameters)
    ask("destination", destination, "migrate-set-capabilities", capabilities=states)
    start = time.perf_counter()
    ask("source", source, "migrate", uri=uri)
    info = _follow(source, destination_exited, timeout_s, stall_s, poll_s)
    _running(destination, destination_exited, poll_s)
    ram = info.get("ram", {})
    return Migration(capabilities, parameters, info.get("total-time", 0), info.get("downtime", 0),
                     info.get("setup-time", 0), ram.get("transferred", 0), ram.get("duplicate", 0),
                     ram.get("normal", 0), round(time.perf_counter() - start, 3))


def _follow(source, destination_exited, timeout_s, stall_s, poll_s):
    """``query-migrate`` on the source until completed; raise on failure, a stall, the deadline, or a destination
    that ended."""
    last = {"info": {}, "bytes": -1, "moved": time.monotonic()}

    def done():
        info = last["info"] = ask("source", source, "query-migrate")
        status = info.get("status")
        if status == DONE:
            return info
        if status in FAILED:
            _failed(info, destination_exited, poll_s)
        exited = destination_exited()
        if exited:
            raise QMPError(f"migration: destination: QEMU ended during the migration: {exited}")
        sent = info.get("ram", {}).get("transferred", 0)
        if sent != last["bytes"]:
            last["bytes"], last["moved"] = sent, time.monotonic()
        elif time.monotonic() - last["moved"] > stall_s:
            _cancel(source, f"stalled: {status}, RAM transferred stayed at {sent} bytes for {stall_s:g} s")
        return None

    try:
        return wait.until(done, timeout_s, "the migration to complete", poll_s=poll_s)
    except WaitTimeout:
        info = last["info"]
        _cancel(source, f"not completed within {timeout_s:g} s: {info.get('status')}, "
                        f"{info.get('ram', {}).get('transferred', 0)} bytes of RAM transferred")


def _failed(info, destination_exited, poll_s):
    """Raise for a failed migration: the destination's end where it ends within ``REFUSED_S``, else the source's
    error.  A destination that refuses the stream closes the socket and then exits, so the source may see the
    broken pipe before the destination has ended."""
    try:
        exited = wait.until(destination_exited, REFUSED_S, "the destination to end", poll_s=poll_s)
    except WaitTimeout:
        raise QMPError(f"migration: source: {info.get('status')}: "
                       f"{info.get('error-desc', 'QEMU gave no reason')}") from None
    raise QMPError(f"migration: destination refused the stream: {exited}")


def _cancel(source, why):
    """Cancel the migration on the source and raise saying ``why``."""
    with contextlib.suppress(QMPError):  # a source that cannot cancel either: the stall is still the cause
        ask("source", source, "migrate_cancel")
    raise QMPError(f"migration: source: {why}")


def _running(destination, destination_exited, poll_s):
    """Wait until the destination's guest runs (it starts by itself once the stream has been loaded)."""
    state = {}

    def running():
        exited = destination_exited()
        if exited:
            raise QMPError(f"migration: destination: QEMU ended after the stream was sent: {exited}")
        state.update(ask("destination", destination, "query-status"))
        return state.get("status") == "running"

    try:
        wait.until(running, RUNNING_S, "the destination to run the guest", poll_s=poll_s)
    except WaitTimeout:
        raise QMPError(f"migration: destination: the guest is {state.get('status')}, not running, "
                       f"{RUNNING_S:g} s after the migration completed") from None

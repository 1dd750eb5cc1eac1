"""The connection to a guest's QEMU monitor (QMP): made once a just-started QEMU listens — on a unix socket in its
private run directory here, on its host's loopback (TCP, reached through ``host.forward``) on an SSH host — and
closed whether or not QEMU is still there.
"""

import time

from qemu.qmp import QMPError as _QMPLibError
from qemu.qmp.legacy import QEMUMonitorProtocol

from harness import wait
from harness.errors import BootError, QMPError, SSHError, WaitTimeout
from harness.run.ssh import as_socket

CONNECT_S = 10  # from the call: the socket bound and the connection negotiated, both waits together
REMOTE_QMP_TIMEOUT_S = 30.0  # a QMP reply over SSH that takes longer means the host is gone


def connect(host, run_dir, qmp_port, check_alive, qemu_log):
    """A connected ``QEMUMonitorProtocol``: to ``run_dir``'s ``qmp.sock`` (``qmp_port`` None), else to ``host``'s
    127.0.0.1:``qmp_port``.  ``check_alive(when)`` raises once QEMU has exited; ``qemu_log`` is named in errors."""
    start = time.monotonic()
    qmp_address = f"{host.name} 127.0.0.1:{qmp_port}" if qmp_port else run_dir / "qmp.sock"

    def bound():
        if qmp_address.exists() if host.local else qmp_port in host.ports(listening=True):
            return True
        check_alive("before its QMP socket appeared")
        return False

    monitor = failure = None

    def connected():  # the socket file appears at bind(); connections are refused until QEMU listens
        nonlocal monitor, failure
        try:
            monitor = QEMUMonitorProtocol(as_socket(host.forward(qmp_port)) if qmp_port else str(qmp_address))
            monitor.connect()
            if qmp_port:
                monitor.settimeout(REMOTE_QMP_TIMEOUT_S)
            return True
        except (_QMPLibError, OSError, SSHError) as exc:
            if monitor:
                monitor.close()
            monitor = None
            check_alive("during QMP negotiation")
            failure = exc
            return False

    try:
        wait.until(bound, CONNECT_S, f"QMP socket {qmp_address}", poll_s=0.02)
    except WaitTimeout:
        raise BootError(f"QEMU did not create its QMP socket ({qmp_address}) within {CONNECT_S} s",
                        log=qemu_log) from None
    try:
        wait.until(connected, CONNECT_S - (time.monotonic() - start), f"QMP connection to {qmp_address}", poll_s=0.02)
    except WaitTimeout:
        raise QMPError(f"QMP connection to {qmp_address} failed: {failure}", log=qemu_log) from failure
    return monitor


def close(monitor):
    """Close a connection from ``connect``, QEMU at its other end or not."""
    try:
        monitor.close()
    except (_QMPLibError, OSError, EOFError):  # the peer already went away
        pass

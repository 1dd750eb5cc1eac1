"""What a guest's QEMU reads and writes on its host: its run directory, the files handed to it as inherited
descriptors, and the logs it writes, mirrored into the log directory.

QEMU runs as the host's QEMU user (harness/run/host.py): here, where the harness is root, the unprivileged
``privilege.QEMU_USER``, started through setpriv (``prefix``) in a run directory it owns, where it also writes the
console and trace logs.  The kernel, initrd, plugin (and a binary it cannot reach by its path) are opened here and
inherited: QEMU names them ``/proc/self/fd/N``.  On an SSH host the console and QEMU logs live in the run directory
there.  Either way (``mirrored``) a log is copied into ``log_dir`` when read, and a last time when the guest stops;
the run directory, read here as root, is never read through a symbolic link.
"""

import contextlib
import os
from pathlib import Path

from harness.errors import CommandError, PrerequisiteError, SSHError
from harness.run import qemu_argv


class QemuFiles:
    """The files of one guest's QEMU on ``host``, as a context manager: entered, the run directory is made; left, it
    goes with the descriptors handed over, and the logs are no longer mirrored."""

    def __init__(self, host, log_dir):
        self.host = host
        self.log_dir = Path(log_dir)
        self.prefix = []       # what starts QEMU as its user (setpriv), where that is not the harness's
        self.run_dir = None    # on the host: the QMP socket (local), the logs, the trace, the counter
        self.logs = None       # where QEMU writes its logs on its host: log_dir, or the run directory
        self.fds = []          # the files QEMU inherits, open here
        self.closed = False
        self._trace_offset = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        self.prefix = self.host.as_qemu()
        self.run_dir = self._stack.enter_context(self.host.qemu_dir())
        self.logs = self.log_dir if self.host.local and not self.prefix else self.run_dir
        return self

    def __exit__(self, *exc):
        self.closed = True
        self._stack.close()

    @property
    def mirrored(self):
        """Whether QEMU's logs are written elsewhere (an SSH host, or a run directory QEMU's user owns)."""
        return self.logs is not None and self.logs != self.log_dir

    def handed(self, path):
        """``path`` as QEMU names it: itself, or where QEMU runs as another user here (it cannot enter the cache),
        ``/proc/self/fd/N`` of the file opened here and inherited."""
        if not self.prefix:
            return path
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # spawn's pass_fds clears O_CLOEXEC in QEMU's copy
        self._stack.callback(os.close, fd)
        self.fds.append(fd)
        return f"/proc/self/fd/{fd}"

    def executable(self, qemu):
        """How the binary ``qemu`` is executed: by its path or name, or (a QEMU built in the cache, which QEMU's user
        cannot enter) by the descriptor opened here."""
        if not self.prefix or "/" not in qemu or self.host.qemu_can_read(qemu):
            return qemu
        if not os.path.exists(qemu):
            raise PrerequisiteError(f"QEMU binary {qemu} not found", hint="apt-get install qemu-system-x86")
        return self.handed(qemu)

    def new_boot(self):
        """A boot's fresh logs: the console's copy emptied, the trace read from its start."""
        (self.log_dir / "console.log").write_bytes(b"")
        self._trace_offset = 0

    def trace_lines(self):
        """The lines QEMU added to its trace log since the last call."""
        data = self._read_bytes(self.logs / qemu_argv.TRACE_LOG, self._trace_offset)
        end = data.rfind(b"\n") + 1  # a line QEMU is still writing waits for the next call
        self._trace_offset += end
        return data[:end].decode(errors="replace").splitlines()

    def host_log(self, name):
        """Text of QEMU's log ``name`` (console.log, qemu.log); where ``mirrored`` it is first copied to log_dir
        (once closed, the last copy)."""
        if self.mirrored and not self.closed:
            if self.host.local:
                with contextlib.suppress(FileNotFoundError):
                    (self.log_dir / name).write_bytes(self._read_bytes(self.logs / name))
            else:
                text = self.host.run(["cat", self.run_dir / name], check=False).stdout
                (self.log_dir / name).write_text(text)
        return (self.log_dir / name).read_text(errors="replace")

    def last_copies(self):
        """Mirror the logs a last time, QEMU's trace too where it is here (staying with the test's logs, as when QEMU
        wrote it there); an unreachable host leaves the copies made before."""
        if not self.mirrored:
            return
        with contextlib.suppress(SSHError, CommandError, OSError):
            self.host_log("console.log")
            self.host_log("qemu.log")
            if self.host.local:
                (self.log_dir / qemu_argv.TRACE_LOG).write_bytes(self._read_bytes(self.logs / qemu_argv.TRACE_LOG))

    def _read_bytes(self, path, offset=0):
        """The bytes of QEMU's file ``path`` from ``offset`` on; here never through a symbolic link (the run
        directory is QEMU's user's, and the harness reads it as root)."""
        if not self.host.local:
            return self.host.read_bytes(path, offset)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as f:
            f.seek(offset)
            return f.read()

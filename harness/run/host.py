"""Where commands and QEMU run: the ``Host`` interface, and this machine as a host (``LocalHost``).

A ``Host`` runs argument lists and returns ``CommandResult``s; reading a file, the clock tick and the prerequisite
check (``check``) are built on ``run``, so the local and the SSH implementations (harness/run/ssh.py) cannot drift
apart.  Each host also spawns a long-lived process (``spawn``: a handle with ``pid``, ``poll()``, ``stop()``), makes a
private directory (``tempdir``: 0700, removed on every exit path), copies artefacts in (``put``) and reaches a port on
its loopback (``forward``).

QEMU runs on a host as ``qemu_user()``: on this machine, when the harness is root, the unprivileged
``privilege.QEMU_USER``, started through ``as_qemu()`` (setpriv: no capabilities, no_new_privs) in a run directory
it owns (``qemu_dir``), given the files it cannot reach (the cache is under root's 0700 home) open, as inherited
descriptors (``spawn(..., pass_fds)``; it names them /proc/self/fd/N).  Elsewhere (the harness not root, or an SSH
host) QEMU runs as the harness's login.  ``kvm_trouble`` says why QEMU's user cannot use /dev/kvm, and ``check`` names
what that user lacks.
"""

import contextlib
import os
import pwd
import shutil
import socket
import tempfile
from pathlib import Path

from harness import command, privilege
from harness.command import Process
from harness.errors import PrerequisiteError
from harness.run.procfs import cpu_model, mem_available_mib, ports_in_use


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Host:
    """Common operations on top of ``run(argv)``."""

    name = "host"
    local = False

    def run(self, argv, check=True, timeout=None):
        raise NotImplementedError

    def read_text(self, path):
        return self.run(["cat", str(path)]).stdout

    def read_bytes(self, path, offset=0):
        """The bytes of ``path`` from ``offset`` on."""
        return self.run(["tail", "-c", f"+{offset + 1}", path]).stdout.encode()

    def clk_tck(self):
        return int(self.run(["getconf", "CLK_TCK"]).stdout)

    def qemu_user(self):
        """The user QEMU runs as on this host: the login."""
        return self.run(["id", "-un"], check=False).stdout.strip() or "QEMU's user"

    def as_qemu(self):
        """The argv prefix that runs a program as ``qemu_user()``: none, QEMU runs as the login."""
        return []

    def qemu_dirs(self):
        """The directories QEMU's user must enter (where its run directory is made), beyond those it owns."""
        return []

    @contextlib.contextmanager
    def qemu_dir(self):
        """QEMU's private run directory (QMP socket, logs, trace, instruction counter), owned by QEMU's user."""
        with self.tempdir() as path:
            yield path

    def kvm_trouble(self):
        """Why QEMU's user on this host cannot use /dev/kvm, or None."""
        if self.run(["test", "-e", "/dev/kvm"], check=False).rc != 0:
            return "no /dev/kvm"
        if self.run([*self.as_qemu(), "test", "-r", "/dev/kvm", "-a", "-w", "/dev/kvm"], check=False).rc != 0:
            mode = self.run(["stat", "-c", "%A %U:%G", "/dev/kvm"], check=False).stdout.strip()
            return f"{self.qemu_user()} cannot open /dev/kvm" + f" ({mode})" * bool(mode)
        return None

    def kvm_usable(self):
        return self.kvm_trouble() is None

    def cores(self):
        """The number of CPUs online on the host."""
        return int(self.run(["getconf", "_NPROCESSORS_ONLN"]).stdout)

    def pin(self, pids, cores, every_thread=False):
        """Restrict ``pids`` (threads; with ``every_thread`` every thread of each process) to the CPU list
        ``cores`` (e.g. ``0-2``)."""
        for pid in pids:
            self.run(["taskset", *(["-a"] if every_thread else []), "-p", "-c", cores, str(pid)])

    def ports(self, listening=False):
        """The TCP ports in use on the host (only those listening, with ``listening``)."""
        return ports_in_use(self.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], check=False).stdout, listening)

    def qemu_version(self, qemu):
        """QEMU's version (``7.2.22 (Debian ...)``), or None when ``qemu`` does not run here."""
        try:
            result = self.run([qemu, "--version"], check=False)
        except FileNotFoundError:
            return None
        first = result.stdout.splitlines()[:1] if result.rc == 0 else []
        return first[0].replace("QEMU emulator version ", "") if first else None

    def close(self):
        """Release the connection, if any."""

    def check(self, qemu, memory_mib, accel="auto"):
        """The prerequisites for one guest: raise PrerequisiteError naming the host and all that is missing, else return
        the host's facts (CPU model, kernel release, QEMU version, CPU governor where readable)."""
        version = self.qemu_version(qemu)
        try:
            user, trouble = self.qemu_user(), self.kvm_trouble()
            closed = [d for d in self.qemu_dirs()
                      if self.run([*self.as_qemu(), "test", "-x", d], check=False).rc != 0]
        except PrerequisiteError as exc:  # QEMU's user does not exist
            user, trouble, closed = None, exc.cause, []
        free = mem_available_mib(self.read_text("/proc/meminfo"))
        cpu = cpu_model(self.read_text("/proc/cpuinfo"))
        missing = [what for what, lacking in (
            (f"QEMU ({qemu} not found or not runnable)", version is None),
            (f"the user QEMU runs as ({trouble})", user is None),
            (f"a /dev/kvm QEMU can use ({trouble}; the job asks for accel: kvm)", user and accel == "kvm" and trouble),
            *((f"a way in to {d} for {user} (its run directory is made there)", True) for d in closed),
            (f"{memory_mib} MiB of free RAM for the guest (MemAvailable: {free} MiB)", free < memory_mib),
            ("a CPU model in /proc/cpuinfo", cpu is None)) if lacking]
        if missing:
            hints = ["apt-get install qemu-system-x86, free memory, or use another host"]
            if user is None:
                hints.append("run `make deps` (it creates the user)")
            elif accel == "kvm" and trouble and "cannot open" in trouble:
                hints.append(f"give {user} access to /dev/kvm (the group kvm; `make deps` adds it where the group "
                             f"exists), or use accel: auto or tcg")
            if closed:
                hints.append("set TMPDIR to a directory every user can enter (e.g. /tmp)")
            raise PrerequisiteError(f"{self.name}: missing {'; '.join(missing)}", hint="; ".join(hints))
        kvm = trouble is None
        governor = self.run(["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"], check=False)
        return {"cpu_model": cpu, "kernel": self.run(["uname", "-r"]).stdout.strip(), "qemu_version": version,
                "governor": governor.stdout.strip() if governor.rc == 0 else None, "kvm": kvm,
                "mem_available_mib": free}


class LocalHost(Host):
    """The controller itself."""

    local = True

    def __init__(self, name="localhost"):
        self.name = name
        self._account = None

    def run(self, argv, check=True, timeout=None):
        return command.run(argv, check=check, timeout=timeout)

    def qemu_account(self):
        """The ``privilege.Account`` QEMU runs as where the harness is root (PrerequisiteError if it does not
        exist), else None: QEMU runs as the harness's user."""
        if not privilege.dropping():
            return None
        if self._account is None:
            self._account = privilege.account(privilege.QEMU_USER)
        return self._account

    def qemu_user(self):
        account = self.qemu_account()
        return account.name if account else pwd.getpwuid(os.geteuid()).pw_name

    def as_qemu(self):
        """setpriv as QEMU's user where the harness is root; ``--pdeathsig keep`` restores the parent-death signal
        (``command.die_with_parent``) that the change of user clears."""
        account = self.qemu_account()
        return [*account.argv(), "--pdeathsig=keep"] if account else []

    def qemu_dirs(self):
        return [self._qemu_parent()] if self.qemu_account() else []

    def _qemu_parent(self):
        """Where QEMU's run directory is made: $TMPDIR, or /tmp where QEMU's user cannot enter $TMPDIR (make check's
        is a 0700 directory of root's)."""
        here = tempfile.gettempdir()
        if not self.qemu_account() or self.run([*self.as_qemu(), "test", "-x", here], check=False).rc == 0:
            return here
        return "/tmp"

    @contextlib.contextmanager
    def qemu_dir(self):
        """A 0700 directory, handed to QEMU's user where that is not the harness's (root still reads it)."""
        with self.tempdir(self._qemu_parent()) as path:
            account = self.qemu_account()
            if account:
                os.chown(path, account.uid, account.gid)
            yield path

    def qemu_can_read(self, path):
        """Whether QEMU's user can reach and read ``path`` by its name (not through root's 0700 home, say)."""
        return self.run([*self.as_qemu(), "test", "-r", path], check=False).rc == 0

    def read_text(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def read_bytes(self, path, offset=0):
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()

    def kvm_trouble(self):
        if self.qemu_account():
            return super().kvm_trouble()  # asked as QEMU's user
        if not os.path.exists("/dev/kvm"):
            return "no /dev/kvm"
        return None if os.access("/dev/kvm", os.R_OK | os.W_OK) else f"{self.qemu_user()} cannot open /dev/kvm"

    def free_port(self, exclude=()):
        return next(p for p in iter(free_port, None) if p not in exclude)

    def put(self, path):
        return Path(path)

    def forward(self, port):
        return socket.create_connection(("127.0.0.1", port))

    def spawn(self, argv, log_path, pass_fds=()):
        """Start ``argv`` with its output appended to ``log_path`` and the descriptors ``pass_fds`` inherited; a
        ``command.Process`` (ended by pid group)."""
        with open(log_path, "ab") as log:
            return Process(argv, stdout=log, stderr=log, pass_fds=pass_fds).start()

    @contextlib.contextmanager
    def tempdir(self, parent=None):
        path = Path(tempfile.mkdtemp(prefix="bh-", dir=parent))  # 0700; short: unix sockets take 108 bytes
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

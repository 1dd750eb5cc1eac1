"""Where commands and QEMU run: the ``Host`` interface, and this machine as a host (``LocalHost``).

A ``Host`` runs argument lists and returns ``CommandResult``s; reading a file, the clock tick and the prerequisite
check (``check``) are built on ``run``, so the local and the SSH implementations (harness/run/ssh.py) cannot drift
apart.  Each host also spawns a long-lived process (``spawn``: a handle with ``pid``, ``poll()``, ``stop()``), makes a
private directory (``tempdir``: 0700, removed on every exit path), copies artefacts in (``put``) and reaches a port on
its loopback (``forward``).
"""

import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

from harness import command
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

    def kvm_usable(self):
        return self.run(["test", "-r", "/dev/kvm", "-a", "-w", "/dev/kvm"], check=False).rc == 0

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
        kvm = self.kvm_usable()
        free = mem_available_mib(self.read_text("/proc/meminfo"))
        cpu = cpu_model(self.read_text("/proc/cpuinfo"))
        missing = [what for what, lacking in (
            (f"QEMU ({qemu} not found or not runnable)", version is None),
            ("a usable /dev/kvm (the job asks for accel: kvm)", accel == "kvm" and not kvm),
            (f"{memory_mib} MiB of free RAM for the guest (MemAvailable: {free} MiB)", free < memory_mib),
            ("a CPU model in /proc/cpuinfo", cpu is None)) if lacking]
        if missing:
            raise PrerequisiteError(f"{self.name}: missing {'; '.join(missing)}",
                                        hint="apt-get install qemu-system-x86, free memory, or use another host")
        governor = self.run(["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"], check=False)
        return {"cpu_model": cpu, "kernel": self.run(["uname", "-r"]).stdout.strip(), "qemu_version": version,
                "governor": governor.stdout.strip() if governor.rc == 0 else None, "kvm": kvm,
                "mem_available_mib": free}


class LocalHost(Host):
    """The controller itself."""

    local = True

    def __init__(self, name="localhost"):
        self.name = name

    def run(self, argv, check=True, timeout=None):
        return command.run(argv, check=check, timeout=timeout)

    def read_text(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def read_bytes(self, path, offset=0):
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()

    def kvm_usable(self):
        return os.access("/dev/kvm", os.R_OK | os.W_OK)

    def free_port(self, exclude=()):
        return next(p for p in iter(free_port, None) if p not in exclude)

    def put(self, path):
        return Path(path)

    def forward(self, port):
        return socket.create_connection(("127.0.0.1", port))

    def spawn(self, argv, log_path):
        """Start ``argv`` with its output appended to ``log_path``; a ``command.Process`` (ended by pid group)."""
        with open(log_path, "ab") as log:
            return Process(argv, stdout=log, stderr=log).start()

    @contextlib.contextmanager
    def tempdir(self):
        path = Path(tempfile.mkdtemp(prefix="bh-"))  # 0700; short: unix socket paths are limited to 108 bytes
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

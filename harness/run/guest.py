"""One QEMU guest as a context manager: boot, console log, readiness, QMP, SSH, placement, the instruction counter.

Each boot writes QEMU's command line (harness/run/qemu_argv.py) to qemu-command.txt, under the accelerator
harness/run/accel.py chooses (with ``accel: auto`` a silent KVM guest is ended and the boot retried under TCG).  The
guest is ready when the image's readiness line is on the console and SSH logs in with the pinned host key.  QEMU runs
on ``host`` (default: this machine), is started through ``host.spawn`` and ended by pid on every exit path.  On an SSH
host the kernel and initrd are copied into its cache, the console and QEMU logs live in a private directory there
(mirrored into ``log_dir`` when read), QMP listens on the host's loopback (TCP), and QMP and the guest's SSH are
reached through ``host.forward``.  Where a boot counts the guest's instructions (harness/run/counter.py) ``insns``
reads the counter and ``counting`` says how it counts, or why not.

QEMU runs in its seccomp sandbox (``sandboxed``; a binary built without it runs unsandboxed, and the guest says so)
and as the host's QEMU user (harness/run/host.py), in a run directory it owns, given the files it cannot reach as
inherited descriptors (harness/run/qemu_files.py).  The harness still owns the process by its pid and reads its /proc
as root.
"""

import contextlib
import dataclasses
import enum
import os
import shutil
import time
from pathlib import Path

from qemu.qmp import ExecuteError, QMPError as _QMPLibError

from harness import wait
from harness.errors import (BootError, GuestError, HarnessError, HostError, PrerequisiteError, QMPError, SSHError,
                            WaitTimeout, reason)
from harness.run import accel, console, migration, monitor, placement, qemu_argv
from harness.run.counter import Counter
from harness.run.host import LocalHost
from harness.run.qemu_files import QemuFiles
from harness.run.ssh import SSHHost

CONSOLE_POLL_S = 0.01  # how often the console is read for the readiness line or the end of a report
REMOTE_CONSOLE_POLL_S = 0.05  # the same, when the console is read over SSH
SSH_AFTER_MIGRATION_S = 30.0  # from the destination running to the guest's SSH login


class State(enum.Enum):
    CREATED = "created"
    BOOTING = "booting"
    READY = "ready"
    STOPPED = "stopped"


class Guest:
    """A booted guest: ``qmp(cmd, **args)``, ``ssh`` (an SSHHost), ``pid`` and ``host`` for QEMU's /proc."""

    def __init__(self, kernel, image, spec, log_dir, cache_dir, cmdline="", progress=print, machine="pc",
                 balloon_props=(), host=None, qemu=None):
        self.kernel, self.image, self.spec = kernel, image, spec
        self.qemu = str(qemu or spec.qemu)  # the binary: a built QEMU's path, else the job's
        self.machine = machine
        self.balloon_props = tuple(dict(balloon_props).items())  # e.g. {"deflate-on-oom": "on"}
        self.log_dir = Path(log_dir)
        self.cache_dir = Path(cache_dir)
        self.cmdline, self.progress = cmdline, progress
        self.host = host or LocalHost()
        self.state = State.CREATED
        self.accel = None
        self.boot_s = self.ready_s = None
        self.ssh = self.placed = None
        self._affinity = None  # the harness thread's CPUs before ``place`` narrowed them
        self._proc = None
        self._qmp = self._qmp_port = None
        self._run_dir = None   # on the host: the QMP socket (local), the console and QEMU logs (SSH host)
        self._private = None   # on the controller: the guest's pinned known_hosts
        self._artefacts = None  # (kernel, image) with their paths on the host
        self.sandboxed = None   # whether QEMU runs in its seccomp sandbox (qemu_argv.SANDBOX)
        self._exe = None        # how QEMU's binary is executed: its path, or /proc/self/fd/N
        self._qemu_files = QemuFiles(self.host, self.log_dir)
        self._counter = Counter(self._qemu_files, spec, self.cache_dir, progress)
        self._files = contextlib.ExitStack()
        self._files.callback(self._counter.close)

    # lifecycle -----------------------------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        self._require(State.READY)
        return self._proc.pid

    def start(self):
        self._require(State.CREATED)
        self.state = State.BOOTING
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_host()
        chosen = accel.choose(self.spec, self.host, self.cache_dir, self.qemu, self.progress)
        if self.spec.accel == "auto" and chosen == "kvm":
            trouble = accel.kvm_trouble(self._boot, self.console_text, lambda: self._proc.poll())
            accel.remember(self.host, self.cache_dir, self.qemu, "tcg" if trouble else "kvm")
            if trouble:
                self.progress(f"KVM unusable here ({trouble}); retrying under TCG")
                self._end_qemu()
                chosen = "tcg"
        if self._proc is None:
            self._boot(chosen)
        self._await_ready()
        self.state = State.READY
        self.placed = self.place()
        self.progress(f"guest up under {chosen.upper()}: SSH ready {self.boot_s:.2f} s after QEMU started")

    def place(self):
        """Where QEMU's threads run, by the job's ``guest.placement`` (harness/run/placement.py; the vCPU threads from
        QMP ``query-cpus-fast``).  Returns ``{"vcpus": cores, "rest": cores}``, or None for shared."""
        if self.spec.placement == "shared":
            return None
        placed, self._affinity = placement.split(self.host, self._proc.pid,
                                                 lambda: [c["thread-id"] for c in self.qmp("query-cpus-fast")])
        return placed

    def migrate(self, capabilities=None, parameters=None, timeout_s=migration.TIMEOUT_S, stall_s=migration.STALL_S):
        """Live-migrate the guest to a new QEMU of the same command line on the same host (harness/run/migration.py:
        ``capabilities`` and ``parameters`` beside its defaults) and carry it on there: QMP, the console and QEMU's
        logs (in ``log_dir``/destination), SSH with the same pinned host key on a new forwarded port (the source's
        forward holds the old one until the source ends, and a QEMU binds its forwards at start).  The source is
        ended, and on any failure the destination too.  The destination loads no counting plugin and its threads are
        not placed.  Returns the ``migration.Migration``."""
        self._require(State.READY)
        self.check_console("before the migration")
        source = (self._proc, self._qmp, self._qemu_files, self.ssh)
        self._proc = self._qmp = self.ssh = None
        self.log_dir = self.log_dir / "destination"
        self._qemu_files = QemuFiles(self.host, self.log_dir)
        self._counter = Counter(self._qemu_files, self.spec, self.cache_dir, self.progress)
        self._counter.counting = "not counted: the guest migrated to a QEMU without the plugin"
        try:
            try:
                uri = self._start_destination()
                done = migration.run(source[1], self._qmp, uri, self._exited, capabilities, parameters, timeout_s,
                                     stall_s)
            finally:
                self._end_source(*source)
            try:
                self._connect_ssh(SSH_AFTER_MIGRATION_S)
            except HarnessError as exc:
                self.check_console("after the migration")  # the kernel's own report, where it has one
                raise GuestError(f"migration: destination: the guest does not answer SSH after the migration: "
                                 f"{exc.cause}", log=str(self.console_log)) from exc
            self.check_console("after the migration")
        except BaseException:
            self.stop()
            raise
        self.progress(f"guest migrated in {done.wall_s:.2f} s: {done.line()}")
        return done

    def _start_destination(self):
        """Start the migration's destination QEMU, listening on its run directory's unix socket; return that URI."""
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._prepare_host()
            uri = f"unix:{self._run_dir}/{migration.SOCKET}"
            self._boot(self.accel, ("-incoming", uri))
        except HarnessError as exc:
            raise HostError(f"migration: destination: QEMU did not start: {exc.cause}", hint=exc.hint,
                            log=exc.log) from exc
        return uri

    @staticmethod
    def _end_source(proc, qmp, files, ssh):
        """End a migration's source QEMU (its SSH client, QMP, process), its logs mirrored a last time."""
        if ssh:
            ssh.close()
        monitor.close(qmp)
        proc.stop()
        files.last_copies()
        files.__exit__(None, None, None)

    def stop(self):
        if self.state is State.STOPPED:
            return
        try:
            if self.ssh:
                self.ssh.close()
            self._end_qemu()
            self._qemu_files.last_copies()
        finally:
            if self._affinity:
                os.sched_setaffinity(0, self._affinity)
            self._files.close()
            self.state = State.STOPPED

    def _prepare_host(self):
        """Private directories (QEMU's run directory on its host, the controller's own where QEMU does not own it),
        how QEMU is started and whether in its sandbox, and the kernel and initrd on the host."""
        files = self._files.enter_context(self._qemu_files)
        self._run_dir = files.run_dir
        self._private = self._run_dir if not files.mirrored else self._files.enter_context(LocalHost().tempdir())
        self._exe = files.executable(self.qemu)
        self.sandboxed = self._sandbox()
        if not self.sandboxed:
            self.progress(f"{self.qemu} has no -sandbox (built without seccomp): QEMU runs unsandboxed on "
                          f"{self.host.name}, as {self.host.qemu_user()}")
        self._artefacts = (dataclasses.replace(self.kernel, bzimage=files.handed(self.host.put(self.kernel.bzimage))),
                           dataclasses.replace(self.image, initrd=files.handed(self.host.put(self.image.initrd))))

    def _sandbox(self):
        """Whether the binary has QEMU's seccomp sandbox (asked with ``-sandbox ... -version``)."""
        try:
            return self.host.run([self.qemu, "-sandbox", qemu_argv.SANDBOX, "-version"], check=False).rc == 0
        except FileNotFoundError as exc:
            raise PrerequisiteError(f"QEMU binary {self.qemu} not found",
                                    hint="apt-get install qemu-system-x86") from exc

    def _require(self, state):
        if self.state is not state:
            raise HarnessError(f"guest is {self.state.value}; the operation needs it {state.value}")

    # booting -------------------------------------------------------------------------------------------------
    def _boot(self, chosen, incoming=()):
        """Start QEMU under the accelerator ``chosen`` (``incoming``: the ``-incoming`` arguments of a migration's
        destination, which loads no plugin) and connect to its QMP socket."""
        self.port = self.host.free_port()
        self._qmp_port = None if self.host.local else self.host.free_port(exclude={self.port})
        self.accel = chosen
        files = self._qemu_files
        qemu_log = (self.log_dir if self.host.local else self._run_dir) / "qemu.log"  # here, opened by the harness
        argv = [*files.prefix, *qemu_argv.command_line(
            self.qemu, *self._artefacts, self.spec, chosen, self._run_dir, files.logs, self.port, self.cmdline,
            self.machine, self.balloon_props, self._qmp_port, None if incoming else self._counter.plugin_for(chosen),
            self.sandboxed, self._exe), *incoming]
        (self.log_dir / "qemu-command.txt").write_text(" ".join(str(a) for a in argv) + "\n")
        files.new_boot()
        self._started = time.perf_counter()
        try:
            self._proc = self.host.spawn(argv, qemu_log, files.fds)
        except FileNotFoundError as exc:
            if files.prefix and not shutil.which(argv[0]):
                raise PrerequisiteError(f"{argv[0]} not found: QEMU is started with it as {self.host.qemu_user()}",
                                        hint="apt-get install util-linux") from exc
            raise PrerequisiteError(f"QEMU binary {self.qemu} not found",
                                    hint="apt-get install qemu-system-x86") from exc
        self._qmp = monitor.connect(self.host, self._run_dir, self._qmp_port, self._check_alive,
                                    str(self.log_dir / "qemu.log"))

    def _await_ready(self):
        text = ""

        def ready():
            nonlocal text
            text = self.console_text()
            if self.image.ready in text:
                return True
            self.check_console("during boot", text, BootError)
            self._check_alive("during boot")
            return False

        deadline = self._started + self.spec.boot_timeout_s  # on the boot's own clock, as ready_s and boot_s are
        try:
            wait.until(ready, deadline - time.perf_counter(), f"the ready line {self.image.ready!r}",
                       poll_s=self._console_poll_s())
        except WaitTimeout:
            if not text:
                raise HostError(f"guest printed nothing in {self.spec.boot_timeout_s:.0f} s under "
                                f"{self.accel.upper()}: the accelerator does not run guests on this host",
                                hint="use accel: tcg or auto (nested or paravirtual KVM hangs silently)",
                                log=str(self.console_log)) from None
            raise BootError(f"guest not ready within {self.spec.boot_timeout_s:.0f} s under {self.accel.upper()}; "
                            f"console ends: {self._console_tail()}", log=str(self.console_log)) from None
        self.ready_s = time.perf_counter() - self._started  # the ready line seen; SSH login follows
        self._connect_ssh(max(1.0, deadline - time.perf_counter()))
        self.boot_s = time.perf_counter() - self._started

    def _connect_ssh(self, timeout_s):
        """SSH to the guest through QEMU's forward of ``port``, its host key pinned."""
        known_hosts = self._private / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{self.port} {self.image.host_key}\n")
        self.ssh = SSHHost("127.0.0.1", self.port, self.image.user, self.image.client_key, known_hosts,
                           name=f"guest {self.kernel.variant}" + ("" if self.host.local else f" on {self.host.name}"),
                           opener=None if self.host.local else lambda: self.host.forward(self.port))
        self.ssh.wait_ready(timeout_s, is_alive=lambda: self._proc.poll() is None)

    def _check_alive(self, when):
        rc = self._proc.poll()
        if rc is not None:
            raise BootError(f"QEMU exited with status {rc} {when}: {self._last_words()}",
                            hint=f"command line in {self.log_dir / 'qemu-command.txt'}",
                            log=str(self.log_dir / "qemu.log"))

    def _last_words(self):
        """The last lines of QEMU's log, else of the console."""
        return " | ".join(self._qemu_files.host_log("qemu.log").strip().splitlines()[-3:]) or self._console_tail()

    def _exited(self):
        """None while QEMU runs, else its exit status and last words."""
        rc = self._proc.poll()
        return None if rc is None else f"QEMU exited with status {rc}: {self._last_words()}"

    def _end_qemu(self):
        if self._qmp is not None:
            monitor.close(self._qmp)
            self._qmp = None
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    # console and QMP -----------------------------------------------------------------------------------------
    @property
    def console_log(self):
        return self.log_dir / "console.log"

    def console_text(self):
        return self._qemu_files.host_log("console.log")

    def trace_lines(self):
        """The lines QEMU added to its trace log since the last call."""
        return self._qemu_files.trace_lines()

    def _console_tail(self, n=3):
        lines = [l for l in self.console_text().splitlines() if l.strip()]
        return " | ".join(lines[-n:]) or "(nothing)"

    def _console_poll_s(self):
        return CONSOLE_POLL_S if self.host.local else REMOTE_CONSOLE_POLL_S

    def check_console(self, when, text=None, error=GuestError):
        """Raise ``error`` naming the first trouble report of the kernel under test on its console (``text``, or
        read now), read on until the report has ended (its ``RIP:`` line may still be on its way)."""
        text = self.console_text() if text is None else text
        if console.first_trouble(text):
            text = console.settle(text, self.console_text, self._console_poll_s())
            raise error(f"kernel reported trouble {when}: {console.first_trouble(text)}", log=str(self.console_log))

    def qmp(self, name, **args):
        """Run one QMP command and return its ``return`` value."""
        if self._qmp is None:
            raise QMPError(f"no QMP connection (guest is {self.state.value})")
        try:
            return self._qmp.cmd(name, **args)
        except ExecuteError as exc:
            raise QMPError(f"QMP {name} {args} failed: {exc}") from exc
        except (_QMPLibError, OSError, EOFError) as exc:
            raise QMPError(f"QMP {name} failed: {reason(exc)}; {self._qemu_state()}",
                           log=str(self.log_dir / "qemu.log")) from exc

    def _qemu_state(self):
        try:
            alive = self._proc is not None and self._proc.poll() is None
        except SSHError as exc:  # the host is gone: its side ends QEMU when the SSH session closes
            return exc.cause
        return f"QEMU {'still running' if alive else 'is gone'}"

    @property
    def counting(self):
        """Whether the guest's instructions are counted, and how or why not (None before a boot)."""
        return self._counter.counting

    def insns(self):
        """The guest's instructions so far, as the plugin counted them; None where not counted (``counting``)."""
        return self._counter.read(self.accel, self._qemu_state)

    def ssh_run(self, argv):
        """Run a command in the guest over SSH."""
        if self.ssh is None:
            raise SSHError("guest has no SSH connection")
        return self.ssh.run(argv)

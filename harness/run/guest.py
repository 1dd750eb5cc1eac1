"""One QEMU guest as a context manager: command line, console log, readiness, accelerator fallback, QMP, SSH.

The command line is a list built by small functions (``command_line``; each boot writes it to qemu-command.txt).
QEMU runs with ``-nodefaults``, the serial console in a log file, QMP on a unix socket in a private 0700 directory,
a virtio balloon, and user networking with ``restrict=on`` whose only forward is 127.0.0.1:PORT to the guest's sshd.
The vCPU is QEMU's default ``qemu64`` plus RDRAND, and the kernel trusts it to seed its CRNG (``random.trust_cpu``):
without a seed dropbear's first connection waits for the kernel's jitter entropy, ~1 s under TCG. ``no_timer_check``
skips the boot-time probe of the IO-APIC timer (40 ms of delay loop), as a guest does by itself under KVM.
The guest is ready when the image's readiness line is on the console and SSH logs in with the pinned host key. With
``accel: auto`` a KVM guest that prints nothing within a bound (nested/PVM KVM hangs silently) is ended and the boot
retried under TCG; the verdict is remembered for the host's boot. QEMU runs on ``host`` (default: this machine), is
started through ``host.spawn`` and ended by pid on every exit path. On an SSH host the kernel and initrd are copied
into its cache, the console and QEMU logs live in a private directory there (mirrored into ``log_dir`` when read),
QMP listens on the host's loopback (TCP), and QMP and the guest's SSH are reached through ``host.forward``.
Under TCG with one vCPU (unless ``guest.count_insns`` is false) QEMU loads the instruction-counting plugin
(harness/build/plugin.py, copied to an SSH host like the kernel), whose counter lives in a file in the private run
directory; ``insns`` reads it (a pread here, ``od`` over SSH on a test host) and ``counting`` says how it counts, or
why not.
"""

import contextlib
import dataclasses
import enum
import json
import os
import struct
import time
from pathlib import Path

from qemu.qmp import ExecuteError, QMPError as _QMPLibError
from qemu.qmp.legacy import QEMUMonitorProtocol

from harness import wait
from harness.build import plugin
from harness.errors import (BootError, CommandError, GuestError, HarnessError, HostError, PrerequisiteError, QMPError,
                            SSHError, WaitTimeout, reason)
from harness.run import console
from harness.run.host import LocalHost, SSHHost, as_socket

KVM_SILENCE_S = 10.0
CPU = "qemu64,+rdrand"  # QEMU's default x86-64 model, with RDRAND for the kernel's CRNG seed (TCG emulates it)
KERNEL_CMDLINE = ("console=ttyS0", "panic=-1", "random.trust_cpu=on", "no_timer_check")  # before the job's own
CONSOLE_POLL_S = 0.01  # how often the console is read for the readiness line or the end of a report
REMOTE_CONSOLE_POLL_S = 0.05  # the same, when the console is read over SSH
REMOTE_QMP_TIMEOUT_S = 30.0  # a QMP reply over SSH that takes longer means the host is gone
MACHINES = ("pc", "q35")
TRACE_LOG = "trace.log"
TRACE_EVENTS = ("virtio_balloon_to_target", "virtio_balloon_set_config",  # read by balloon.drive: the timing,
                "virtio_queue_notify", "virtio_notify")  # and the requests (one line each way per request)
COUNT_EVENTS = ("virtio_balloon_handle_range", "ram_block_discard_range")  # guest.count_discards: a line a range, a
#                                                                            discard (a line a page for PFN arrays)
COUNTER = "insns.counter"  # the plugin's 64-bit count of the guest's instructions, in the run directory
NOT_ON_KVM = ("not counted: KVM runs the guest's instructions natively, a TCG plugin counts only under TCG, and "
              "perf's instructions:G needs a host PMU, which these VMs lack")
NOT_SMP = ("not counted: {} vCPUs (the plugin's inline add would race between their threads, and per-vCPU callbacks "
           "cost the timed operations 6-12 %: docs/statistics.md, \"Counting the guest's work\")")
HOTPLUG_PORT = "rp0"  # on q35, the pcie-root-port the balloon sits in (device_add ... bus=rp0 plugs it back)


class State(enum.Enum):
    CREATED = "created"
    BOOTING = "booting"
    READY = "ready"
    STOPPED = "stopped"


def command_line(qemu, kernel, image, spec, accel, run_dir, log_dir, port, cmdline="", machine="pc",
                 balloon_props=(), qmp_port=None, plugin=None):
    """The QEMU argument list for one guest; QMP on ``run_dir``'s unix socket, or on 127.0.0.1:``qmp_port``;
    ``plugin``: the instruction-counting plugin's path on QEMU's host, loaded under TCG."""
    qmp = f"tcp:127.0.0.1:{qmp_port}" if qmp_port else f"unix:{run_dir}/qmp.sock"
    return [qemu, "-name", "balloon-harness,debug-threads=on",  # threads named: CPU 0/TCG, worker, …
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            *_machine(accel, machine, _tcg(accel, spec)), "-cpu", CPU, *_memory(spec), "-smp", str(spec.cpus),
            "-kernel", kernel.bzimage, "-initrd", image.initrd,
            "-append", " ".join([*KERNEL_CMDLINE, cmdline]).strip(),
            "-chardev", f"file,id=console,path={log_dir}/console.log", "-serial", "chardev:console",
            "-qmp", f"{qmp},server=on,wait=off",
            *_trace(log_dir, spec.count_discards),
            *_counting(plugin, spec, accel, run_dir),
            *_balloon(machine, balloon_props),
            *_network(port)]


def _machine(accel, machine="pc", tcg=()):
    """``pc``; or ``q35`` with native PCIe hotplug (QEMU's ACPI hotplug off: the guest needs no ACPI).  TCG with
    options (``tcg``) is given as ``-accel``, which excludes the machine's ``accel=``."""
    if machine not in MACHINES:
        raise HarnessError(f"unknown machine {machine!r}", hint=f"one of {', '.join(MACHINES)}")
    head = ["-machine", machine, "-accel", ",".join(["tcg", *tcg])] if tcg else ["-machine", f"{machine},accel={accel}"]
    return head + (["-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"] if machine == "q35" else [])


def _tcg(accel, spec):
    """TCG's options from ``guest.tcg_thread`` and ``guest.tcg_tb_mib`` (none under KVM, none by default)."""
    if accel != "tcg":
        return ()
    return tuple([f"thread={spec.tcg_thread}"] * bool(spec.tcg_thread) + [f"tb-size={spec.tcg_tb_mib}"] * bool(
        spec.tcg_tb_mib))


def _memory(spec):
    """Guest RAM: QEMU's anonymous memory (which it madvises for transparent huge pages), or a memfd backend (shared
    memory: huge pages only where the host's shmem_enabled allows them); ``prealloc`` faults it all in at start."""
    size = f"{spec.memory_mib}M"
    if spec.backend == "memfd":
        return ["-m", size, "-object", f"memory-backend-memfd,id=ram,size={size}" + ",prealloc=on" * spec.prealloc,
                "-machine", "memory-backend=ram"]
    return ["-m", size, *["-mem-prealloc"] * spec.prealloc]


def _balloon(machine, props=()):
    """The balloon, ``id=balloon0`` plus ``props`` (key, value) pairs; on q35 in its own hot-pluggable root port."""
    port = ["-device", f"pcie-root-port,id={HOTPLUG_PORT},chassis=1"] if machine == "q35" else []
    bus = [f"bus={HOTPLUG_PORT}"] if machine == "q35" else []
    return [*port, "-device", ",".join(["virtio-balloon-pci", "id=balloon0", *bus, *(f"{k}={v}" for k, v in props)])]


def _trace(log_dir, count_discards=False):
    """QEMU's own timestamped trace of the balloon: the target it was given, every ``actual`` the guest wrote, the
    requests; with ``count_discards`` every range and discard too (a QEMU without the ranges event warns, and
    traces the rest)."""
    events = TRACE_EVENTS + COUNT_EVENTS * count_discards
    return ["-msg", "timestamp=on", "-D", f"{log_dir}/{TRACE_LOG}",
            *[arg for event in events for arg in ("-trace", event)]]


def _counting(plugin, spec, accel, run_dir):
    """The instruction-counting plugin with its counter file in the guest's private ``run_dir``: under TCG for one
    vCPU, unless ``guest.count_insns`` is false."""
    return ["-plugin", f"{plugin},counter={run_dir}/{COUNTER}"] if plugin and not not_counted(spec, accel) else []


def not_counted(spec, accel):
    """Why a boot does not count the guest's instructions, or None where it does."""
    if accel != "tcg":
        return NOT_ON_KVM
    if not spec.count_insns:
        return "not counted: guest.count_insns is false"
    return NOT_SMP.format(spec.cpus) if spec.cpus > 1 else None


def _network(port):
    return ["-netdev", f"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
            "-device", "virtio-net-pci,netdev=net0"]


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
        self.cmdline = cmdline
        self.progress = progress
        self.host = host or LocalHost()
        self.state = State.CREATED
        self.accel = None
        self.boot_s = self.ready_s = None
        self.ssh = None
        self.placed = None
        self._affinity = None  # the harness thread's CPUs before ``place`` narrowed them
        self._proc = None
        self._qmp = None
        self._qmp_port = None
        self._run_dir = None   # on the host: the QMP socket (local), the console and QEMU logs (SSH host)
        self._private = None   # on the controller: the guest's pinned known_hosts
        self._artefacts = None  # (kernel, image) with their paths on the host
        self._plugin = None     # the instruction-counting plugin's path on the host, once a boot loads it
        self._counter_fd = None
        self.counting = None    # whether the guest's instructions are counted, and how or why not
        self._files = contextlib.ExitStack()

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
        accel = self._choose_accel()
        if self.spec.accel == "auto" and accel == "kvm":
            trouble = self._try_kvm()
            self._remember_accel("tcg" if trouble else "kvm")
            if trouble:
                self.progress(f"KVM unusable here ({trouble}); retrying under TCG")
                self._end_qemu()
                accel = "tcg"
        if self._proc is None:
            self._boot(accel)
        self._await_ready()
        self.state = State.READY
        self.placed = self.place()
        self.progress(f"guest up under {accel.upper()}: SSH ready {self.boot_s:.2f} s after QEMU started")

    def place(self):
        """Where QEMU's threads run, by the job's ``guest.placement``.  ``shared``: wherever the host's scheduler puts
        them.  ``split``: every thread of QEMU (main loop, I/O, workers) on the host's first cores, then its vCPU
        threads (QMP ``query-cpus-fast``) on the last one, so the main loop answering the harness never takes the
        vCPU's core; on this machine the harness's own thread joins the first cores too until ``stop``.  Returns
        ``{"vcpus": cores, "rest": cores}``, or None for shared."""
        if self.spec.placement == "shared":
            return None
        count = self.host.cores()
        if count < 2:
            raise HostError(f"{self.host.name}: placement split needs 2 cores, the host has {count}",
                            hint="use guest: {placement: shared}")
        rest, vcpus = f"0-{count - 2}", str(count - 1)
        self.host.pin([self._proc.pid], rest, every_thread=True)
        self.host.pin([c["thread-id"] for c in self.qmp("query-cpus-fast")], vcpus)
        if self.host.local:
            self._affinity = os.sched_getaffinity(0)
            os.sched_setaffinity(0, range(count - 1))
        return {"vcpus": vcpus, "rest": rest}

    def stop(self):
        if self.state is State.STOPPED:
            return
        try:
            if self.ssh:
                self.ssh.close()
            self._end_qemu()
            if self._run_dir and not self.host.local:
                with contextlib.suppress(SSHError, CommandError):  # unreachable host: keep the last mirrored copies
                    self.host_log("console.log")
                    self.host_log("qemu.log")
        finally:
            if self._affinity:
                os.sched_setaffinity(0, self._affinity)
            self._files.close()
            self.state = State.STOPPED

    def _prepare_host(self):
        """Private directories (on the host, and here for an SSH host), and the kernel and initrd on the host."""
        self._run_dir = self._files.enter_context(self.host.tempdir())
        self._private = self._run_dir if self.host.local else self._files.enter_context(LocalHost().tempdir())
        self._artefacts = (dataclasses.replace(self.kernel, bzimage=self.host.put(self.kernel.bzimage)),
                           dataclasses.replace(self.image, initrd=self.host.put(self.image.initrd)))

    def _require(self, state):
        if self.state is not state:
            raise HarnessError(f"guest is {self.state.value}; the operation needs it {state.value}")

    # booting -------------------------------------------------------------------------------------------------
    def _choose_accel(self):
        if self.spec.accel != "auto":
            return self.spec.accel
        if not self.host.kvm_usable():
            return "tcg"
        return self._remembered_accel() or "kvm"

    def _accel_memo(self):
        boot_id = self.host.read_text("/proc/sys/kernel/random/boot_id").strip()
        return self.cache_dir / f"accel-{boot_id}.json"

    def _remembered_accel(self):
        try:
            return json.loads(self._accel_memo().read_text()).get(self.qemu)
        except (OSError, ValueError):
            return None

    def _remember_accel(self, accel):
        memo = self._accel_memo()
        known = {}
        if memo.exists():
            known = json.loads(memo.read_text())
        memo.write_text(json.dumps({**known, self.qemu: accel}))

    def _try_kvm(self):
        """Boot under KVM; return why KVM is unusable (QEMU failed, or the console stayed silent), or None."""
        try:
            self._boot("kvm")
        except BootError as exc:
            return exc.cause

        def printed_or_exited():
            if self.console_text():
                return "printed"
            rc = self._proc.poll()
            return rc is not None and f"QEMU exited with status {rc}"

        try:
            seen = wait.until(printed_or_exited, KVM_SILENCE_S, "the guest's first output under KVM", poll_s=0.1)
        except WaitTimeout:
            return f"the guest printed nothing in {KVM_SILENCE_S:.0f} s, as under nested or paravirtual KVM"
        return None if seen == "printed" else seen

    def _boot(self, accel):
        """Start QEMU and connect to its QMP socket."""
        self.port = self.host.free_port()
        self._qmp_port = None if self.host.local else self.host.free_port(exclude={self.port})
        self.accel = accel
        logs = self.log_dir if self.host.local else self._run_dir  # where QEMU writes them, on its host
        argv = command_line(self.qemu, *self._artefacts, self.spec, accel, self._run_dir, logs, self.port,
                            self.cmdline, self.machine, self.balloon_props, self._qmp_port, self._count_insns(accel))
        (self.log_dir / "qemu-command.txt").write_text(" ".join(str(a) for a in argv) + "\n")
        self.console_log.write_bytes(b"")
        self._trace_offset = 0
        self._started = time.perf_counter()
        try:
            self._proc = self.host.spawn(argv, logs / "qemu.log")
        except FileNotFoundError as exc:
            raise PrerequisiteError(f"QEMU binary {self.qemu} not found",
                                    hint="apt-get install qemu-system-x86") from exc
        self._connect_qmp()

    def _count_insns(self, accel):
        """The plugin's path on QEMU's host where this boot counts the guest's instructions (built, or found in the
        cache, and copied there), else None; ``counting`` says how, or why not."""
        self.counting = not_counted(self.spec, accel)
        if self.counting:
            return None
        built = plugin.build(self.cache_dir, self.progress)
        self._plugin = self.host.put(built.path)
        self.counting = f"counted by the TCG plugin {built.key} (built against {built.header})"
        return self._plugin

    def _connect_qmp(self):
        """Connect to QEMU's QMP socket once it listens, within 10 s of QEMU's start (both waits together)."""
        start = time.monotonic()
        where = f"{self.host.name} 127.0.0.1:{self._qmp_port}" if self._qmp_port else self._run_dir / "qmp.sock"

        def bound():
            if where.exists() if self.host.local else self._qmp_port in self.host.ports(listening=True):
                return True
            self._check_alive("before its QMP socket appeared")
            return False

        failure = None

        def connected():  # the socket file appears at bind(); connections are refused until QEMU listens
            nonlocal failure
            try:
                self._qmp = QEMUMonitorProtocol(as_socket(self.host.forward(self._qmp_port)) if self._qmp_port
                                                else str(where))
                self._qmp.connect()
                if self._qmp_port:
                    self._qmp.settimeout(REMOTE_QMP_TIMEOUT_S)
                return True
            except (_QMPLibError, OSError, SSHError) as exc:
                if self._qmp:
                    self._qmp.close()
                self._qmp = None
                self._check_alive("during QMP negotiation")
                failure = exc
                return False

        try:
            wait.until(bound, 10, f"QMP socket {where}", poll_s=0.02)
        except WaitTimeout:
            raise BootError(f"QEMU did not create its QMP socket ({where}) within 10 s",
                            log=str(self.log_dir / "qemu.log")) from None
        try:
            wait.until(connected, 10 - (time.monotonic() - start), f"QMP connection to {where}", poll_s=0.02)
        except WaitTimeout:
            raise QMPError(f"QMP connection to {where} failed: {failure}",
                           log=str(self.log_dir / "qemu.log")) from failure

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
        known_hosts = self._private / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{self.port} {self.image.host_key}\n")
        self.ssh = SSHHost("127.0.0.1", self.port, self.image.user, self.image.client_key, known_hosts,
                           name=f"guest {self.kernel.variant}" + ("" if self.host.local else f" on {self.host.name}"),
                           opener=None if self.host.local else lambda: self.host.forward(self.port))
        remaining = max(1.0, deadline - time.perf_counter())
        self.ssh.wait_ready(remaining, is_alive=lambda: self._proc.poll() is None)
        self.boot_s = time.perf_counter() - self._started

    def _check_alive(self, when):
        rc = self._proc.poll()
        if rc is not None:
            qemu_log = self.host_log("qemu.log").strip().splitlines()[-3:]
            raise BootError(f"QEMU exited with status {rc} {when}: {' | '.join(qemu_log) or self._console_tail()}",
                            hint=f"command line in {self.log_dir / 'qemu-command.txt'}",
                            log=str(self.log_dir / "qemu.log"))

    def _end_qemu(self):
        if self._qmp is not None:
            try:
                self._qmp.close()
            except (_QMPLibError, OSError, EOFError):  # the peer already went away
                pass
            self._qmp = None
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    # console and QMP -----------------------------------------------------------------------------------------
    @property
    def console_log(self):
        return self.log_dir / "console.log"

    def console_text(self):
        return self.host_log("console.log")

    def trace_lines(self):
        """The lines QEMU added to its trace log since the last call."""
        path = (self.log_dir if self.host.local else self._run_dir) / TRACE_LOG
        if self.host.local:
            with open(path, "rb") as f:
                f.seek(self._trace_offset)
                data = f.read()
        else:
            data = self.host.run(["tail", "-c", f"+{self._trace_offset + 1}", path]).stdout.encode()
        end = data.rfind(b"\n") + 1  # a line QEMU is still writing waits for the next call
        self._trace_offset += end
        return data[:end].decode(errors="replace").splitlines()

    def host_log(self, name):
        """Text of QEMU's log ``name`` (console.log, qemu.log); from an SSH host it is first mirrored to log_dir
        (after ``stop`` the last mirrored copy)."""
        if not self.host.local and self.state is not State.STOPPED:
            text = self.host.run(["cat", self._run_dir / name], check=False).stdout
            (self.log_dir / name).write_text(text)
        return (self.log_dir / name).read_text(errors="replace")

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

    def insns(self):
        """The guest's instructions so far, as the plugin counted them; None where not counted (``counting``)."""
        if self._plugin is None or self.accel != "tcg":
            return None
        path = self._run_dir / COUNTER
        try:
            return self._read_counter(path)
        except (OSError, ValueError, struct.error) as exc:
            raise HostError(f"{self.host.name}: cannot read the instruction counter {path}: "
                            f"{getattr(exc, 'strerror', None) or exc}; {self._qemu_state()}",
                            log=str(self.log_dir / "qemu.log")) from exc

    def _read_counter(self, path):
        """The plugin's 64-bit counter: a pread of the file kept open here, ``od`` on an SSH host."""
        if not self.host.local:
            return int(self.host.run(["od", "-An", "-tu8", "-N8", path]).stdout)
        if self._counter_fd is None:
            self._counter_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            self._files.callback(os.close, self._counter_fd)
        return struct.unpack("=Q", os.pread(self._counter_fd, 8, 0))[0]

    def ssh_run(self, argv):
        """Run a command in the guest over SSH."""
        if self.ssh is None:
            raise SSHError("guest has no SSH connection")
        return self.ssh.run(argv)

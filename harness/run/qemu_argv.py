"""QEMU's command line for one guest: a list built by small functions (``command_line``).

QEMU runs with ``-nodefaults``, the serial console in a log file, QMP on a unix socket in a private 0700 directory
(or on 127.0.0.1:PORT of an SSH host), a virtio balloon, and user networking with ``restrict=on`` whose only forward
is 127.0.0.1:PORT to the guest's sshd.  The vCPU is QEMU's default ``qemu64`` plus RDRAND, and the kernel trusts it
to seed its CRNG (``random.trust_cpu``): without a seed dropbear's first connection waits for the kernel's jitter
entropy, ~1 s under TCG.  ``no_timer_check`` skips the boot-time probe of the IO-APIC timer (40 ms of delay loop), as
a guest does by itself under KVM.  QEMU traces the balloon into ``trace.log``.  Under TCG with one vCPU (unless
``guest.count_insns`` is false: ``not_counted`` says why not) QEMU loads the instruction-counting plugin
(harness/build/plugin.py), whose counter lives in a file in the private run directory.  QEMU runs in its seccomp
sandbox (``SANDBOX``: no obsolete system calls, no set*id, no fork or exec, no scheduler or affinity changes; its
threads are pinned from outside) unless the binary lacks it (``sandbox=False``); ``exe`` is how the binary is
executed where that is not its path (``/proc/self/fd/N``), and ``-name process=`` keeps its process name.
"""

from harness.errors import HarnessError

CPU = "qemu64,+rdrand"  # QEMU's default x86-64 model, with RDRAND for the kernel's CRNG seed (TCG emulates it)
KERNEL_CMDLINE = ("console=ttyS0", "panic=-1", "random.trust_cpu=on", "no_timer_check")  # before the job's own
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
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
HOTPLUG_PORT = "rp0"  # on q35, the pcie-root-port the balloon sits in (device_add ... bus=rp0 plugs it back)


def command_line(qemu, kernel, image, spec, accel, run_dir, log_dir, port, cmdline="", machine="pc",
                 balloon_props=(), qmp_port=None, plugin=None, sandbox=True, exe=None):
    """The QEMU argument list for one guest; QMP on ``run_dir``'s unix socket, or on 127.0.0.1:``qmp_port``;
    ``plugin``: the instruction-counting plugin's path on QEMU's host, loaded under TCG; ``sandbox``: QEMU's seccomp
    sandbox on; ``exe``: the path ``qemu`` is executed by, where not its own."""
    qmp = f"tcp:127.0.0.1:{qmp_port}" if qmp_port else f"unix:{run_dir}/qmp.sock"
    process = str(qemu).rsplit("/", 1)[-1]  # the main thread's name, also when executed as /proc/self/fd/N
    return [exe or qemu, *["-sandbox", SANDBOX] * sandbox,
            "-name", f"balloon-harness,process={process},debug-threads=on",  # threads named: CPU 0/TCG, worker, …
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
    """The balloon, ``id=balloon0`` plus ``props`` (key, value) pairs; on q35 in its own hot-pluggable root port.  An
    ``iothread`` property (free page hints need one) names an ``-object iothread`` made for it."""
    port = ["-device", f"pcie-root-port,id={HOTPLUG_PORT},chassis=1"] if machine == "q35" else []
    bus = [f"bus={HOTPLUG_PORT}"] if machine == "q35" else []
    iothread = [arg for k, v in props if k == "iothread" for arg in ("-object", f"iothread,id={v}")]
    return [*port, *iothread,
            "-device", ",".join(["virtio-balloon-pci", "id=balloon0", *bus, *(f"{k}={v}" for k, v in props)])]


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

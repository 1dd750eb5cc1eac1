"""What a job is once checked: its kernel, guest, workload, QEMU, hosts and variants, as frozen dataclasses."""

from dataclasses import dataclass, field
from pathlib import Path

from harness.config.hints import closest
from harness.errors import ConfigError

DEFAULT_FRAGMENTS = ["configs/kernel/balloon.config"]


@dataclass(frozen=True)
class QemuSpec:
    """The QEMU that runs the guests: the host's (``system``: ``guest.qemu``) or one built from the distribution's
    source package (``debian``), optionally with a series applied."""

    source: str = "system"
    series: Path | None = None
    balloon: tuple = ()  # (property, value) pairs for the balloon device, e.g. (("ranges", "on"),)


@dataclass(frozen=True)
class Variant:
    """One kernel under test — the base, its prerequisite series if any, and unless it is the base itself a series
    directory — and the QEMU it runs on where that is its own."""

    name: str
    series: Path | None = None
    host: str | None = None  # the ``hosts`` entry its tests run on (None: the job's first host)
    cmdline: str = ""        # added to the kernel command line of this variant's guests
    qemu: QemuSpec | None = None  # the QEMU its guests run on, where not the job's (its leaf's ``qemu`` names one)
    prerequisites: tuple = ()  # series (paths) applied before its own, in order: the base it is compared on
    patches: int | None = None  # only the first this many patches of ``series`` (a step of its staircase)


@dataclass(frozen=True)
class HostSpec:
    """A test host: reached as ``user@address:port`` with ``key``, its host key pinned in ``known_hosts``;
    without ``address`` it is the controller itself."""

    name: str
    user: str | None = None
    address: str | None = None
    port: int = 22
    key: Path | None = None
    known_hosts: Path | None = None


@dataclass(frozen=True)
class KernelSpec:
    profile: str = "minimal"
    fragments: tuple = tuple(Path(f) for f in DEFAULT_FRAGMENTS)
    cmdline: str = ""
    checkpatch_strict: bool = False  # checkpatch --strict on the series (intake/checkpatch.py)


@dataclass(frozen=True)
class GuestSpec:
    memory_mib: int = 2048
    cpus: int = 1
    accel: str = "auto"
    image: str = "minimal"
    qemu: str = "qemu-system-x86_64"
    boot_timeout_s: float = 120.0
    placement: str = "shared"  # shared: the host's scheduler places QEMU's threads; split: vCPUs on a core of their own
    tcg_thread: str = ""   # TCG's thread=single|multi ("": QEMU's default)
    tcg_tb_mib: int = 0    # TCG's translation buffer, MiB (0: QEMU's default)
    backend: str = "anonymous"  # guest RAM: anonymous (QEMU madvises it for THP) or memfd (shared memory, no THP here)
    prealloc: bool = False  # fault in all guest RAM before boot
    count_discards: bool = False  # QEMU traces every range and discard: counted, but slower (not for timing)
    count_insns: bool = True  # under TCG a plugin counts a one-vCPU guest's instructions (guest.Guest.insns)


@dataclass(frozen=True)
class WorkloadSpec:
    target_mib: int = 512
    targets: tuple = ()  # ((from_mib, to_mib), ...): each cycle inflates from -> to and deflates back, per pair
    cycles: int = 5
    warmup: int = 1
    poll_interval_s: float = 0.01  # how often query-balloon asks whether the target is reached (not the timing)
    op_timeout_s: float = 120.0
    stall_s: float = 10.0  # an operation whose actual does not move for this long FAILs at once
    populate: bool = False  # the guest uses its free memory before each inflate (or migration); an inflate must
    #                         give it back to the host
    fragment: bool = False  # the guest cuts its free memory into single pages after boot (harness/run/fragment.py)
    migrate: bool = False   # each cycle live-migrates the guest instead (harness/run/migration_workload.py)
    inflated: bool = False  # with migrate: the balloon holds the guest at target_mib during the migrations
    bandwidth_mbps: int = 10000  # with migrate: QEMU's max-bandwidth, Mbit/s (the seed thread's 10 Gbps; 0: none)

    def pairs(self, memory_mib):
        """The (from, to) MiB pairs each cycle runs: ``targets``, else the guest's RAM down to ``target_mib``."""
        return self.targets or ((memory_mib, self.target_mib),)


@dataclass(frozen=True)
class Job:
    """A validated job: where the base comes from, how to build and boot, what to measure, which variants."""

    base: dict
    kernel: KernelSpec = field(default_factory=KernelSpec)
    guest: GuestSpec = field(default_factory=GuestSpec)
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)
    variants: tuple = (Variant("base"),)
    rounds: int = 1
    source: str = "<params>"
    hosts: tuple = ()
    compare_across_hosts: bool = False
    qemu: QemuSpec = field(default_factory=QemuSpec)
    axes: dict = field(default_factory=dict)  # axis -> its leaves' names (job file) or this test's leaf (params)
    looks: tuple = ()  # the rounds after which the results are judged; the rounds stop once decided (sequential.py)
    pairs: tuple = ()  # (variant, against): comparisons beside every variant against the base (``compare``)
    settings: tuple = ()  # job file: (axes of one combination, its Job) for every combination of the axes

    def cmdline(self, variant):
        """The kernel command line of ``variant``'s guests: the job's (with its axes') plus the variant's own."""
        return " ".join(c for c in (self.kernel.cmdline, variant.cmdline) if c)

    def qemu_of(self, variant):
        """The QEMU ``variant``'s guests run on: the one of ``qemus`` its leaf names, else the job's."""
        return variant.qemu or self.qemu

    def host(self, name=None):
        """The ``HostSpec`` named ``name``, else the first host; None when the job runs on the controller."""
        if name is None:
            return self.hosts[0] if self.hosts else None
        for h in self.hosts:
            if h.name == name:
                return h
        raise ConfigError(f"{self.source}: no host named {name!r}", hint=closest(name, [h.name for h in self.hosts]))

    def variant(self, name):
        for v in self.variants:
            if v.name == name:
                return v
        raise ConfigError(f"{self.source}: no variant named {name!r}",
                          hint=closest(name, [v.name for v in self.variants]))

"""Load and validate a job configuration.

A job file is Avocado yaml-to-mux YAML: plain sections (``base``, ``kernel``, ``guest``, ``workload``, ``qemu``)
shared by every test, and ``!mux`` nodes that Avocado expands into one test per combination: ``variants`` (the
kernels compared), optionally ``rounds`` (interleaved repetitions) and any number of named *axes* — a top-level
``!mux`` whose leaves each override sections, e.g. ``init_on_alloc: !mux {"off": {kernel: {cmdline:
init_on_alloc=0}}, ...}``.  In a leaf, ``cmdline`` and ``fragments`` add to the job's; other keys replace.
``qemus`` names QEMU builds, and a variant's ``qemu: NAME`` runs it on one (by name: a mapping inside a variant
leaf would shadow the leaf's own ``series`` in Avocado's tree); ``compare: {variant: [another, ...]}`` adds those
pairs to the comparisons of every variant with base.
``load`` reads the file itself (used by the CLI and the job-start plugin) so every error names the file, line,
key and the closest valid key, and gives every combination of the axes in ``settings``; ``from_params`` rebuilds
a test's own combination from the Avocado parameters it was given.  Both go through one validator.
"""

import difflib
import itertools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from harness.errors import ConfigError

MUX_SECTIONS = {"variants": "variant", "rounds": "round"}
SCHEMA = {
    "base": {"debian": str, "git": str, "ref": str, "tarball": str},
    "kernel": {"profile": str, "fragments": list, "cmdline": str},
    "qemu": {"source": str, "series": str, "balloon": dict},
    "guest": {"memory_mib": int, "cpus": int, "accel": str, "image": str, "qemu": str, "boot_timeout_s": float,
              "placement": str, "tcg_thread": str, "tcg_tb_mib": int, "backend": str, "prealloc": bool,
              "count_discards": bool, "count_insns": bool},
    "workload": {"target_mib": int, "targets": list, "cycles": int, "warmup": int, "poll_interval_s": float,
                 "op_timeout_s": float, "stall_s": float},
    "variants": {"variant": str, "series": str, "host": str, "cmdline": str, "qemu": str},
    "rounds": {"round": int},
}
HOST_SCHEMA = {"name": str, "ssh": str, "key": str, "known_hosts": str}
TOP_SCHEMA = {**{k: dict for k in SCHEMA}, "hosts": list, "compare_across_hosts": bool, "looks": list, "compare": dict,
              "qemus": dict}
SSH_TARGET = re.compile(r"(?P<user>[^@\s]+)@(?P<address>\[[^\]\s]+\]|[^@:\s]+)(?::(?P<port>\d+))?")
ACCELS = ("auto", "kvm", "tcg")
PLACEMENTS = ("shared", "split")  # guest.placement: see guest.Guest.place
TCG_THREADS = ("", "single", "multi")  # guest.tcg_thread: "" is QEMU's default
BACKENDS = ("anonymous", "memfd")  # guest.backend: see guest._memory
PROFILES = ("minimal", "distro", "defconfig")  # or the path of a kernel config file
QEMU_SOURCES = ("system", "debian")
AXIS_SECTIONS = ("kernel", "guest", "workload", "qemu")  # what an axis leaf may override
MIN_GUEST_MIB = 128
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
    """One kernel under test — the base plus, unless it is the base itself, a series directory — and the QEMU it
    runs on where that is its own."""

    name: str
    series: Path | None = None
    host: str | None = None  # the ``hosts`` entry its tests run on (None: the job's first host)
    cmdline: str = ""        # added to the kernel command line of this variant's guests
    qemu: QemuSpec | None = None  # the QEMU its guests run on, where not the job's (its leaf's ``qemu`` names one)


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
        raise ConfigError(f"{self.source}: no host named {name!r}", hint=_closest(name, [h.name for h in self.hosts]))

    def variant(self, name):
        for v in self.variants:
            if v.name == name:
                return v
        raise ConfigError(f"{self.source}: no variant named {name!r}", hint=_closest(name, [v.name for v in self.variants]))


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps ``!mux`` mappings as plain mappings."""


_Loader.add_constructor("!mux", _Loader.construct_mapping)


def load(path):
    """Read and validate a job file; every error names ``path:line``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_Loader)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if node is None or not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}: a job file is a YAML mapping of sections", hint=f"sections: {', '.join(SCHEMA)}")
    lines, muxes = {}, set()
    data = _plain(node, (), lines, muxes)
    where = lambda keys: f"{path}:{lines.get(keys, 1)}"  # noqa: E731
    axes = {}
    for name in [k for k in data if (k,) in muxes and k not in MUX_SECTIONS]:
        if name in SCHEMA:
            raise ConfigError(f"{where((name,))}: section {name!r} cannot be a !mux",
                              hint=f"make an axis instead: e.g. {name}_axis: !mux {{leaf: {{{name}: {{...}}}}}}")
        axes[name] = _axis(name, data.pop(name), where)
    if axes:  # the sections around the axes must hold on their own too
        _validate(data, where, str(path))

    def where_in(choice):  # a key an axis leaf sets is reported at the leaf's line
        return lambda keys: where(next((k for k in ((a, leaf, *keys) for a, leaf in choice.items()) if k in lines),
                                       keys))
    settings = tuple((choice, _validate(_merge(data, [axes[a][leaf] for a, leaf in choice.items()]),
                                        where_in(choice), str(path))) for choice in _choices(axes))
    job = settings[0][1]
    if job.looks and job.looks[-1] != job.rounds:
        raise ConfigError(f"{where(('looks',))}: the last look must be the last round ({job.rounds}), not "
                          f"{job.looks[-1]}", hint=f"rounds lists {job.rounds} leaves")
    return replace(job, axes={a: tuple(leaves) for a, leaves in axes.items()}, settings=settings)


def sections(path):
    """The top-level mapping of a YAML job file as plain data (``!mux`` mappings as mappings), unvalidated."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader)


def is_job_file(path):
    """Whether a YAML file looks like a balloon job (has a job section, even misspelt), not some other mux file."""
    try:
        data = sections(path)
    except (OSError, yaml.YAMLError):
        return True  # unreadable: let load() say why
    return isinstance(data, dict) and any(difflib.get_close_matches(k, SCHEMA, n=1, cutoff=0.7) for k in data)


def from_params(items):
    """Rebuild the job from Avocado ``params.iteritems()`` triples ``(path, key, value)``: the test's own
    combination, with the leaf it got of every axis in ``axes``."""
    data, leaves, axes = {}, {}, {}
    for path, key, value in items:
        parts = [p for p in path.split("/") if p][1:]  # drop the leading 'run'
        if not parts:
            data[key] = value
        elif parts[0] in MUX_SECTIONS:  # /run/<mux>/<leaf>
            _put(data.setdefault(parts[0], {}).setdefault(parts[1], {}), parts[2:], key, value)
        elif parts == ["compare"]:
            data.setdefault("compare", {})[key] = value
        elif parts[0] == "qemus" and len(parts) > 1:  # /run/qemus/<name>[/balloon]
            _put(data.setdefault("qemus", {}).setdefault(parts[1], {}), parts[2:], key, value)
        elif parts[0] in SCHEMA:  # /run/<section>[/<mapping in it>, e.g. qemu/balloon]
            _put(data.setdefault(parts[0], {}), parts[1:], key, value)
        elif len(parts) >= 3:  # /run/<axis>/<leaf>/<section>[/<mapping in it>]
            axes[parts[0]] = parts[1]
            _put(leaves.setdefault(tuple(parts[:2]), {}).setdefault(parts[2], {}), parts[3:], key, value)
    where = lambda keys: "avocado parameters"  # noqa: E731
    return replace(_validate(_merge(data, list(leaves.values())), where, "<params>"), axes=axes)


def _put(mapping, path, key, value):
    """``mapping[path...][key] = value``, making the mappings on the way."""
    for part in path:
        mapping = mapping.setdefault(part, {})
    mapping[key] = value


def _plain(node, keys, lines, muxes):
    """Turn a composed node into plain Python data, recording the line of every mapping key and which mappings
    are ``!mux``."""
    if isinstance(node, yaml.MappingNode):
        if node.tag == "!mux":
            muxes.add(keys)
        out = {}
        for k, v in node.value:
            name = str(k.value)
            lines[keys + (name,)] = k.start_mark.line + 1
            out[name] = _plain(v, keys + (name,), lines, muxes)
        return out
    if isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines[keys + (str(i),)] = v.start_mark.line + 1
        return [_plain(v, keys + (str(i),), lines, muxes) for i, v in enumerate(node.value)]
    return _Loader("").construct_object(node, deep=True)


def _axis(name, leaves, where):
    """Check an axis: named leaves, each overriding at least one key of the sections an axis may change."""
    if not isinstance(leaves, dict) or not leaves:
        raise ConfigError(f"{where((name,))}: axis {name!r} needs named leaves",
                          hint="e.g. on: {kernel: {cmdline: x=1}}")
    for leaf, sections in leaves.items():
        if not isinstance(sections, dict) or not sections:
            raise ConfigError(f"{where((name, leaf))}: axis leaf {name}/{leaf} sets nothing",
                              hint=f"a leaf overrides sections: {', '.join(AXIS_SECTIONS)}")
        for section in sections:
            if section not in AXIS_SECTIONS:
                raise ConfigError(f"{where((name, leaf, section))}: an axis leaf cannot set {section!r}",
                                  hint=_closest(section, list(AXIS_SECTIONS)))
            _check_keys(sections[section], SCHEMA[section], (name, leaf, section), where)
    return leaves


def _choices(axes):
    """Every combination of one leaf per axis, in mux order (the first leaf of each axis first)."""
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def _merge(data, leaves):
    """``data`` with each axis leaf's sections applied: ``cmdline`` and ``fragments`` add, other keys replace."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for leaf in leaves:
        for section, values in leaf.items():
            merged = out.setdefault(section, {})
            for key, value in values.items():
                if key == "cmdline" and merged.get(key):
                    value = f"{merged[key]} {value}"
                elif key == "fragments":
                    value = list(merged.get(key, DEFAULT_FRAGMENTS)) + value
                merged[key] = value
    return out


def _closest(name, choices):
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f"did you mean {match[0]!r}?" if match else f"valid keys: {', '.join(choices)}"


def _check_keys(mapping, schema, keys, where):
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where(keys)}: {'.'.join(keys)} must be a mapping")
    for key, value in mapping.items():
        if key not in schema:
            raise ConfigError(f"{where(keys + (key,))}: unknown key {'.'.join(keys + (key,))!r}",
                              hint=_closest(key, list(schema)))
        want = schema[key]
        if isinstance(want, dict):
            continue
        ok = isinstance(value, want) and (want is bool or not isinstance(value, bool)) or (
            want is float and isinstance(value, int))
        if not ok:
            raise ConfigError(f"{where(keys + (key,))}: {'.'.join(keys + (key,))} must be {want.__name__}, "
                              f"not {type(value).__name__} {value!r}")


def _validate(data, where, source):
    _check_keys(data, TOP_SCHEMA, (), where)
    for section, schema in SCHEMA.items():
        if section in MUX_SECTIONS:
            for leaf, values in (data.get(section) or {}).items():
                _check_keys(values or {}, schema, (section, leaf), where)
        elif section in data:
            _check_keys(data[section], schema, (section,), where)
    base = data.get("base") or {"debian": "linux-source-6.1"}
    kinds = [k for k in ("debian", "git", "tarball") if k in base]
    if len(kinds) != 1:
        raise ConfigError(f"{where(('base',))}: base needs exactly one of debian, git, tarball (got {kinds or 'none'})")
    if "git" in base and "ref" not in base:
        raise ConfigError(f"{where(('base', 'git'))}: a git base needs a ref", hint="e.g. base: {git: ~/linux, ref: v6.1}")
    kernel = data.get("kernel", {})
    profile = kernel.get("profile", "minimal")
    if profile not in PROFILES and not ("/" in profile or Path(profile).is_file()):
        raise ConfigError(f"{where(('kernel', 'profile'))}: unknown profile {profile!r}",
                          hint=f"one of {', '.join(PROFILES)}, or the path of a kernel config file")
    qemu = _qemu(data.get("qemu", {}), ("qemu",), where)
    kernel = KernelSpec(**{**kernel, **({"fragments": tuple(Path(f) for f in kernel["fragments"])}
                                        if "fragments" in kernel else {})})
    guest = GuestSpec(**{k: float(v) if k.endswith("_s") else v for k, v in data.get("guest", {}).items()})
    if guest.accel not in ACCELS:
        raise ConfigError(f"{where(('guest', 'accel'))}: accel {guest.accel!r} is not one of {', '.join(ACCELS)}")
    for key, allowed in (("placement", PLACEMENTS), ("tcg_thread", TCG_THREADS), ("backend", BACKENDS)):
        if getattr(guest, key) not in allowed:
            raise ConfigError(f"{where(('guest', key))}: {key} {getattr(guest, key)!r} is not one of "
                              f"{', '.join(a for a in allowed if a)}")
    if guest.memory_mib < MIN_GUEST_MIB:
        raise ConfigError(f"{where(('guest', 'memory_mib'))}: {guest.memory_mib} MiB is below the {MIN_GUEST_MIB} MiB floor")
    workload = WorkloadSpec(**{k: float(v) if k.endswith("_s") else v for k, v in data.get("workload", {}).items()})
    floor = MIN_GUEST_MIB // 2
    if not floor <= workload.target_mib < guest.memory_mib:
        raise ConfigError(f"{where(('workload', 'target_mib'))}: balloon target {workload.target_mib} MiB must be at "
                          f"least {floor} MiB and below the guest's {guest.memory_mib} MiB",
                          hint="the target is the memory left to the guest, not the amount ballooned")
    workload = replace(workload, targets=_targets(workload, guest, where))
    hosts = _hosts(data.get("hosts") or [], where)
    leaves = [(leaf, v or {}) for leaf, v in (data.get("variants") or {"base": {}}).items()]
    for leaf, v in leaves:
        if "host" in v and v["host"] not in [h.name for h in hosts]:
            raise ConfigError(f"{where(('variants', leaf, 'host'))}: no host named {v['host']!r} in hosts",
                              hint=_closest(v["host"], [h.name for h in hosts]) if hosts else "add a hosts section")
    qemus = {name: _qemu(q, ("qemus", name), where) for name, q in (data.get("qemus") or {}).items()}
    for leaf, v in leaves:
        if "qemu" in v and v["qemu"] not in qemus:
            raise ConfigError(f"{where(('variants', leaf, 'qemu'))}: no QEMU named {v['qemu']!r} in qemus",
                              hint=_closest(v["qemu"], list(qemus)) if qemus else
                              "add qemus: {NAME: {source: debian, series: DIR}} and name it here")
    variants = tuple(Variant(v.get("variant", leaf), Path(v["series"]) if v.get("series") else None, v.get("host"),
                             v.get("cmdline", ""), qemus.get(v.get("qemu"))) for leaf, v in leaves)
    placed = [(v.name, v.host or (hosts[0].name if hosts else None)) for v in variants]
    if len(set(placed)) != len(placed):
        raise ConfigError(f"{where(('variants',))}: variant names repeat on one host: {[v.name for v in variants]}")
    rounds = max(1, len(data.get("rounds") or {}))
    looks = tuple(data.get("looks") or ())
    if looks and (not all(isinstance(n, int) and n > 0 for n in looks) or list(looks) != sorted(set(looks))):
        raise ConfigError(f"{where(('looks',))}: looks must be rounds in ascending order, e.g. [3, 6, 9, 12], "
                          f"not {list(looks)}")
    return Job(base, kernel, guest, workload, variants, rounds, source, hosts, data.get("compare_across_hosts", False),
               qemu, looks=looks, pairs=_pairs(data.get("compare") or {}, None if source == "<params>" else
                                               [v.name for v in variants], where))  # a test knows its own variant only


def _pairs(mapping, names, where):
    """``compare: {variant: [another, ...]}`` as (variant, another) pairs, every name one of ``names`` (unless None)."""
    pairs = []
    for variant, others in mapping.items():
        keys = ("compare", variant)
        if not isinstance(others, list) or not others:
            raise ConfigError(f"{where(keys)}: compare.{variant} must list the variants it is compared with",
                              hint="e.g. compare: {v2: [v1]} compares v2 with v1 beside both with base")
        for name in [variant, *others]:
            if names is not None and name not in names:
                raise ConfigError(f"{where(keys)}: compare names {name!r}, which is not a variant of the job",
                                  hint=_closest(str(name), names))
        pairs += [(variant, other) for other in others if other != variant]
    return tuple(dict.fromkeys(pairs))


def _qemu(mapping, keys, where):
    """A ``qemu`` mapping (the job's section, or one of ``qemus``) as a ``QemuSpec``."""
    _check_keys(mapping, SCHEMA["qemu"], keys, where)
    source = mapping.get("source", "system")
    if source not in QEMU_SOURCES:
        raise ConfigError(f"{where(keys + ('source',))}: QEMU source {source!r} is not one of "
                          f"{', '.join(QEMU_SOURCES)}")
    if mapping.get("series") and source == "system":
        raise ConfigError(f"{where(keys + ('series',))}: a QEMU series needs a QEMU built from source",
                          hint="add source: debian")
    return QemuSpec(source, Path(mapping["series"]) if mapping.get("series") else None,
                    tuple((k, {True: "on", False: "off"}.get(v, v)) for k, v in (mapping.get("balloon") or {}).items()))


def _targets(workload, guest, where):
    """The workload's ``targets``, checked, as (from, to) pairs."""
    pairs = []
    for i, pair in enumerate(workload.targets):
        keys = ("workload", "targets", str(i))
        ok = (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, int) for x in pair)
              and MIN_GUEST_MIB // 2 <= pair[1] < pair[0] <= guest.memory_mib)
        if not ok:
            raise ConfigError(f"{where(keys)}: target {pair!r} is not [from_mib, to_mib] with {MIN_GUEST_MIB // 2} "
                              f"<= to < from <= the guest's {guest.memory_mib} MiB",
                              hint="e.g. targets: [[8192, 1024]] inflates an 8 GiB guest by 7 GiB")
        pairs.append(tuple(pair))
    return tuple(pairs)


def _hosts(entries, where):
    """Validate the ``hosts`` list into ``HostSpec``s: unique names; ``ssh: user@address[:port]`` with a key and a
    known_hosts file (an entry without ``ssh`` is the controller)."""
    hosts = []
    for i, entry in enumerate(entries):
        keys = ("hosts", str(i))
        _check_keys(entry, HOST_SCHEMA, keys, where)
        if "name" not in entry:
            raise ConfigError(f"{where(keys)}: hosts[{i}] needs a name")
        if entry["name"] in [h.name for h in hosts]:
            raise ConfigError(f"{where(keys + ('name',))}: host name {entry['name']!r} repeats")
        if "ssh" not in entry:
            hosts.append(HostSpec(entry["name"]))
            continue
        target = SSH_TARGET.fullmatch(entry["ssh"])
        if not target:
            raise ConfigError(f"{where(keys + ('ssh',))}: hosts[{i}].ssh {entry['ssh']!r} is not user@address[:port]",
                              hint="e.g. ssh: root@10.0.0.5:22")
        lacking = [k for k in ("key", "known_hosts") if k not in entry]
        if lacking:
            raise ConfigError(f"{where(keys)}: host {entry['name']!r} reached over SSH needs {' and '.join(lacking)}",
                              hint="key: the private key to log in with; known_hosts: the file pinning its host key")
        hosts.append(HostSpec(entry["name"], target["user"], target["address"].strip("[]"),
                              int(target["port"] or 22), Path(entry["key"]).expanduser(),
                              Path(entry["known_hosts"]).expanduser()))
    return tuple(hosts)

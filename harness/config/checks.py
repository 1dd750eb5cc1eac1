"""Check a job's plain data, one function a section, and build its ``Job``; every error names the key's place."""

from dataclasses import replace
from pathlib import Path

from harness.config.hints import closest
from harness.config.schema import (ACCELS, BACKENDS, HOST_SCHEMA, MIN_GUEST_MIB, MUX_SECTIONS, PLACEMENTS, PROFILES,
                                   QEMU_SOURCES, SCHEMA, SSH_TARGET, TCG_THREADS, TOP_SCHEMA)
from harness.config.specs import GuestSpec, HostSpec, Job, KernelSpec, QemuSpec, Variant, WorkloadSpec
from harness.errors import ConfigError, HarnessError


def validate(data, located, source):
    """The ``Job`` of a job's plain data (a job file's sections, one combination of its axes, or a test's Avocado
    parameters).  ``located(keys)`` names where the key at ``keys`` is, for the errors; ``source`` is the job file,
    or ``<params>``."""
    _sections(data, located)
    base = _base(data.get("base") or {"debian": "linux-source-6.1"}, located)
    kernel = data.get("kernel", {})
    _profile(kernel.get("profile", "minimal"), located)
    qemu = _qemu(data.get("qemu", {}), ("qemu",), located)
    kernel = KernelSpec(**{**kernel, **({"fragments": tuple(Path(f) for f in kernel["fragments"])}
                                        if "fragments" in kernel else {})})
    guest = _guest(data.get("guest", {}), located)
    workload = _workload(data.get("workload", {}), guest, located)
    hosts = _hosts(data.get("hosts") or [], located)
    variants = _variants(data, hosts, located)
    rounds = max(1, len(data.get("rounds") or {}))
    looks = _looks(tuple(data.get("looks") or ()), located)
    names = None if source == "<params>" else [v.name for v in variants]  # a test knows its own variant only
    return Job(base, kernel, guest, workload, variants, rounds, source, hosts, data.get("compare_across_hosts", False),
               qemu, looks=looks, pairs=_pairs(data.get("compare") or {}, names, located))


def check_keys(mapping, schema, keys, located):
    """``mapping`` (at ``keys``) is a mapping whose every key is one of ``schema`` and of its type."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{located(keys)}: {'.'.join(keys)} must be a mapping")
    for key, value in mapping.items():
        if key not in schema:
            raise ConfigError(f"{located(keys + (key,))}: unknown key {'.'.join(keys + (key,))!r}",
                              hint=closest(key, list(schema)))
        want = schema[key]
        if isinstance(want, dict):
            continue
        ok = isinstance(value, want) and (want is bool or not isinstance(value, bool)) or (
            want is float and isinstance(value, int))
        if not ok:
            raise ConfigError(f"{located(keys + (key,))}: {'.'.join(keys + (key,))} must be {want.__name__}, "
                              f"not {type(value).__name__} {value!r}")


def _sections(data, located):
    """The job's keys, and those of every section (of each leaf of ``variants`` and ``rounds``), are known and typed."""
    check_keys(data, TOP_SCHEMA, (), located)
    for section, schema in SCHEMA.items():
        if section in MUX_SECTIONS:
            for leaf, values in (data.get(section) or {}).items():
                check_keys(values or {}, schema, (section, leaf), located)
        elif section in data:
            check_keys(data[section], schema, (section,), located)


def _base(base, located):
    """The ``base`` section: exactly one of debian, git (with a ref), tarball."""
    kinds = [k for k in ("debian", "git", "tarball") if k in base]
    if len(kinds) != 1:
        raise ConfigError(f"{located(('base',))}: base needs exactly one of debian, git, tarball "
                          f"(got {kinds or 'none'})")
    if "git" in base and "ref" not in base:
        raise ConfigError(f"{located(('base', 'git'))}: a git base needs a ref",
                          hint="e.g. base: {git: ~/linux, ref: v6.1}")
    return base


def _profile(profile, located):
    """``kernel.profile``: one of ``PROFILES``, or the path of a kernel config file."""
    if profile not in PROFILES and not ("/" in profile or Path(profile).is_file()):
        raise ConfigError(f"{located(('kernel', 'profile'))}: unknown profile {profile!r}",
                          hint=f"one of {', '.join(PROFILES)}, or the path of a kernel config file")


def _qemu(mapping, keys, located):
    """A ``qemu`` mapping (the job's section, or one of ``qemus``) as a ``QemuSpec``."""
    check_keys(mapping, SCHEMA["qemu"], keys, located)
    source = mapping.get("source", "system")
    if source not in QEMU_SOURCES:
        raise ConfigError(f"{located(keys + ('source',))}: QEMU source {source!r} is not one of "
                          f"{', '.join(QEMU_SOURCES)}")
    if mapping.get("series") and source == "system":
        raise ConfigError(f"{located(keys + ('series',))}: a QEMU series needs a QEMU built from source",
                          hint="add source: debian")
    return QemuSpec(source, Path(mapping["series"]) if mapping.get("series") else None,
                    tuple((k, {True: "on", False: "off"}.get(v, v)) for k, v in (mapping.get("balloon") or {}).items()))


def _guest(mapping, located):
    """The ``guest`` section as a ``GuestSpec``: a known accelerator, placement, TCG thread and backend; enough RAM."""
    guest = GuestSpec(**{k: float(v) if k.endswith("_s") else v for k, v in mapping.items()})
    if guest.accel not in ACCELS:
        raise ConfigError(f"{located(('guest', 'accel'))}: accel {guest.accel!r} is not one of {', '.join(ACCELS)}")
    for key, allowed in (("placement", PLACEMENTS), ("tcg_thread", TCG_THREADS), ("backend", BACKENDS)):
        if getattr(guest, key) not in allowed:
            raise ConfigError(f"{located(('guest', key))}: {key} {getattr(guest, key)!r} is not one of "
                              f"{', '.join(a for a in allowed if a)}")
    if guest.memory_mib < MIN_GUEST_MIB:
        raise ConfigError(f"{located(('guest', 'memory_mib'))}: {guest.memory_mib} MiB is below the {MIN_GUEST_MIB} "
                          f"MiB floor")
    return guest


def _workload(mapping, guest, located):
    """The ``workload`` section as a ``WorkloadSpec``: balloon targets within ``guest``'s RAM and above the floor."""
    workload = WorkloadSpec(**{k: float(v) if k.endswith("_s") else v for k, v in mapping.items()})
    floor = MIN_GUEST_MIB // 2
    if not floor <= workload.target_mib < guest.memory_mib:
        raise ConfigError(f"{located(('workload', 'target_mib'))}: balloon target {workload.target_mib} MiB must be "
                          f"at least {floor} MiB and below the guest's {guest.memory_mib} MiB",
                          hint="the target is the memory left to the guest, not the amount ballooned")
    return replace(workload, targets=_targets(workload, guest, located))


def _targets(workload, guest, located):
    """The workload's ``targets``, checked, as (from, to) pairs."""
    pairs = []
    for i, pair in enumerate(workload.targets):
        keys = ("workload", "targets", str(i))
        ok = (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, int) for x in pair)
              and MIN_GUEST_MIB // 2 <= pair[1] < pair[0] <= guest.memory_mib)
        if not ok:
            raise ConfigError(f"{located(keys)}: target {pair!r} is not [from_mib, to_mib] with {MIN_GUEST_MIB // 2} "
                              f"<= to < from <= the guest's {guest.memory_mib} MiB",
                              hint="e.g. targets: [[8192, 1024]] inflates an 8 GiB guest by 7 GiB")
        pairs.append(tuple(pair))
    return tuple(pairs)


def _hosts(entries, located):
    """Validate the ``hosts`` list into ``HostSpec``s: unique names; ``ssh: user@address[:port]`` with a key and a
    known_hosts file (an entry without ``ssh`` is the controller)."""
    hosts = []
    for i, entry in enumerate(entries):
        keys = ("hosts", str(i))
        check_keys(entry, HOST_SCHEMA, keys, located)
        if "name" not in entry:
            raise ConfigError(f"{located(keys)}: hosts[{i}] needs a name")
        if entry["name"] in [h.name for h in hosts]:
            raise ConfigError(f"{located(keys + ('name',))}: host name {entry['name']!r} repeats")
        if "ssh" not in entry:
            hosts.append(HostSpec(entry["name"]))
            continue
        target = SSH_TARGET.fullmatch(entry["ssh"])
        if not target:
            raise ConfigError(f"{located(keys + ('ssh',))}: hosts[{i}].ssh {entry['ssh']!r} is not "
                              f"user@address[:port]", hint="e.g. ssh: root@10.0.0.5:22")
        lacking = [k for k in ("key", "known_hosts") if k not in entry]
        if lacking:
            raise ConfigError(f"{located(keys)}: host {entry['name']!r} reached over SSH needs {' and '.join(lacking)}",
                              hint="key: the private key to log in with; known_hosts: the file pinning its host key")
        hosts.append(HostSpec(entry["name"], target["user"], target["address"].strip("[]"),
                              int(target["port"] or 22), Path(entry["key"]).expanduser(),
                              Path(entry["known_hosts"]).expanduser()))
    return tuple(hosts)


def _variants(data, hosts, located):
    """The ``variants`` leaves (the base alone without them) as ``Variant``s: each on one of ``hosts`` and one of
    ``qemus`` where it names them; no two of one name on one host."""
    leaves = [(leaf, v or {}) for leaf, v in (data.get("variants") or {"base": {}}).items()]
    for leaf, v in leaves:
        if "host" in v and v["host"] not in [h.name for h in hosts]:
            raise ConfigError(f"{located(('variants', leaf, 'host'))}: no host named {v['host']!r} in hosts",
                              hint=closest(v["host"], [h.name for h in hosts]) if hosts else "add a hosts section")
    qemus = {name: _qemu(q, ("qemus", name), located) for name, q in (data.get("qemus") or {}).items()}
    for leaf, v in leaves:
        if "qemu" in v and v["qemu"] not in qemus:
            raise ConfigError(f"{located(('variants', leaf, 'qemu'))}: no QEMU named {v['qemu']!r} in qemus",
                              hint=closest(v["qemu"], list(qemus)) if qemus else
                              "add qemus: {NAME: {source: debian, series: DIR}} and name it here")
    for leaf, v in leaves:
        if not all(isinstance(p, str) and p for p in v.get("prerequisites", [])):
            raise ConfigError(f"{located(('variants', leaf, 'prerequisites'))}: variants.{leaf}.prerequisites must "
                              f"list series paths, not {v['prerequisites']!r}",
                              hint="prerequisites: [patches/A, patches/B]")
    for leaf, v in leaves:
        if v.get("per_patch"):
            raise ConfigError(f"{located(('variants', leaf, 'per_patch'))}: variants.{leaf}.per_patch reached the "
                              "test unexpanded: a job file's per_patch is made into prefixes when it is read",
                              hint="run the job with avocado run -m JOB.yaml (the balloon varianter expands it)")
        if "patches" in v and (not v.get("series") or v["patches"] < 1):
            raise ConfigError(f"{located(('variants', leaf, 'patches'))}: variants.{leaf}.patches takes the first "
                              f"N >= 1 patches of the variant's series, not {v['patches']!r}"
                              f"{'' if v.get('series') else ' of none'}", hint="series: patches/ranges/v3, patches: 2")
    variants = tuple(Variant(v.get("variant", leaf), Path(v["series"]) if v.get("series") else None, v.get("host"),
                             v.get("cmdline", ""), qemus.get(v.get("qemu")),
                             tuple(Path(p) for p in v.get("prerequisites", [])), v.get("patches"))
                     for leaf, v in leaves)
    placed = [(v.name, v.host or (hosts[0].name if hosts else None)) for v in variants]
    if len(set(placed)) != len(placed):
        raise ConfigError(f"{located(('variants',))}: variant names repeat on one host: {[v.name for v in variants]}")
    return variants


def per_patch(data, count, located):
    """``data`` with every variant leaf that says ``per_patch: true`` made into a leaf for each prefix of its series
    (``NAME-1`` … ``NAME-<N-1>`` with ``patches: k``, then ``NAME`` itself with the whole series) and ``compare``
    holding each prefix against the one before it (the first is compared with the base, as every variant is); and
    {new leaf: the leaf it came from}.  ``count(series)`` is how many patches a series has (None: this reader cannot
    read series)."""
    leaves = data.get("variants")
    if not isinstance(leaves, dict) or not any(isinstance(v, dict) and "per_patch" in v for v in leaves.values()):
        return data, {}
    given = data["compare"] if isinstance(data.get("compare"), dict) else {}
    out, made, compare = {}, {}, dict(given)
    for leaf, v in leaves.items():
        steps = _prefixes(leaf, v, count, located) if isinstance(v, dict) and "per_patch" in v else [(leaf, v)]
        for name, _ in steps:
            if name != leaf and (name in leaves or name in out):
                raise ConfigError(f"{located(('variants', leaf, 'per_patch'))}: variants.{leaf}.per_patch makes a "
                                  f"leaf {name!r}, which the job already has", hint=f"rename the leaf {name!r}")
        out.update(steps)
        made.update((name, leaf) for name, _ in steps if name != leaf)
        names = [values.get("variant", name) for name, values in steps]
        for before, after in zip(names, names[1:]):
            if isinstance(compare.get(after, []), list):  # else _pairs says what compare must be
                compare[after] = [*compare.get(after, []), before]
    return {**data, "variants": out, **({"compare": compare} if compare else {})}, made


def _prefixes(leaf, values, count, located):
    """The (leaf, values) of every prefix of one ``per_patch`` leaf's series, in order."""
    keys, flag = ("variants", leaf, "per_patch"), values["per_patch"]
    rest = {k: v for k, v in values.items() if k != "per_patch"}
    if not isinstance(flag, bool):
        raise ConfigError(f"{located(keys)}: variants.{leaf}.per_patch must be true or false, not {flag!r}")
    if not flag:
        return [(leaf, rest)]
    if not values.get("series") or "patches" in values:
        cause = "and patches: N (one prefix) together" if values.get("series") else "on a variant without a series"
        raise ConfigError(f"{located(keys)}: variants.{leaf}.per_patch (every prefix of the variant's series) "
                          f"{cause}", hint="series: patches/ranges/v3, per_patch: true")
    if count is None:
        raise ConfigError(f"{located(keys)}: variants.{leaf}.per_patch needs the series read, which this command "
                          "does not do", hint="list the prefixes as variants with patches: N")
    try:
        n = count(values["series"])
    except HarnessError as exc:
        raise ConfigError(f"{located(keys)}: variants.{leaf}.per_patch: cannot read {values['series']}: "
                          f"{exc.cause}") from exc
    name = values.get("variant", leaf)
    return [(f"{leaf}-{k}", {**rest, "variant": f"{name}-{k}", "patches": k}) for k in range(1, n)] + [(leaf, rest)]


def _looks(looks, located):
    """``looks``: rounds in ascending order (that the last is the last round is checked by ``loader.load``)."""
    if looks and (not all(isinstance(n, int) and n > 0 for n in looks) or list(looks) != sorted(set(looks))):
        raise ConfigError(f"{located(('looks',))}: looks must be rounds in ascending order, e.g. [3, 6, 9, 12], "
                          f"not {list(looks)}")
    return looks


def _pairs(mapping, names, located):
    """``compare: {variant: [another, ...]}`` as (variant, another) pairs, every name one of ``names`` (unless None)."""
    pairs = []
    for variant, others in mapping.items():
        keys = ("compare", variant)
        if not isinstance(others, list) or not others:
            raise ConfigError(f"{located(keys)}: compare.{variant} must list the variants it is compared with",
                              hint="e.g. compare: {v2: [v1]} compares v2 with v1 beside both with base")
        for name in [variant, *others]:
            if names is not None and name not in names:
                raise ConfigError(f"{located(keys)}: compare names {name!r}, which is not a variant of the job",
                                  hint=closest(str(name), names))
        pairs += [(variant, other) for other in others if other != variant]
    return tuple(dict.fromkeys(pairs))

"""Build the kernel of each variant, cached, from trees that differ only by the series.

The configuration starts from the job's profile — ``minimal`` (``tinyconfig``), ``defconfig``
(``x86_64_defconfig`` + ``kvm_guest.config``), ``distro`` (the distribution's config for that kernel, with the
build-only adjustments of ``configs/kernel/distro-build.config``) or a config file's path — and gets the job's
fragments merged by the tree's own ``scripts/kconfig/merge_config.sh`` and ``olddefconfig``.  The base is built
once in its own tree; each series version is built in a timestamp-preserving copy of that built tree, at the same
path, with its series applied and the base's ``.config`` carried over, so only what the series touches
recompiles.  Artefacts (bzImage, .config, build log, metadata.json) are cached under a key over base identity,
profile, fragments and compiler.
"""

import functools
import json
import lzma
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness import cache, command
from harness.build import incremental, make, warnings
from harness.errors import ApplyError, BuildError, ConfigError, PrerequisiteError
from harness.intake import checkpatch, origin, tree
from harness.intake.series import read_series

PROFILE_TARGETS = {"minimal": ["tinyconfig"], "defconfig": ["x86_64_defconfig", "kvm_guest.config"]}
DISTRO_FLAVOUR = "config.amd64_none_amd64"  # Debian's generic amd64 kernel
DISTRO_BUILD = Path(__file__).resolve().parents[2] / "configs" / "kernel" / "distro-build.config"


@dataclass(frozen=True)
class KernelBuild:
    """A built kernel and what identifies it."""

    variant: str
    key: str
    base: str
    series: tuple          # labels of the applied patches
    release: str
    bzimage: Path
    config: Path
    build_log: Path
    config_sha256: str
    bzimage_sha256: str
    compiler: str
    duration_s: float
    cached: bool = False
    prerequisites: tuple = ()  # prerequisite(series) of each series applied before its own
    refused: tuple = ()        # what the sandbox refused the series' build (build/sandbox.py)
    runs_at_build: tuple = ()  # the series' changes to what the build runs (intake/findings.py)
    warnings: dict | None = None    # new and removed compiler warnings (build/warnings.py); None: not compared
    checkpatch: dict | None = None  # checkpatch per patch (intake/checkpatch.py); None: no series

    def identity(self):
        """The record results.json keeps for this kernel."""
        return {"release": self.release, "config_sha256": self.config_sha256,
                "bzimage_sha256": self.bzimage_sha256, "base": self.base, "series": list(self.series),
                "compiler": self.compiler, "build_s": round(self.duration_s, 1),
                "prerequisites": list(self.prerequisites), "refused": list(self.refused),
                "runs_at_build": list(self.runs_at_build), "warnings": self.warnings, "checkpatch": self.checkpatch}


def build(job, variant, cache_dir, progress=print):
    """Return the cached build of ``variant`` (a ``config.specs.Variant``), building what is missing."""
    # Over 40 lines as one piece: its two steps (the base before the series is lent its tree, the series' rebuild)
    # are closures over what this variant's build alone knows, and read best beside it.
    base = tree.resolve(job.base)
    start_config, fragment_paths = _profile(job.kernel, base)
    fragments = [_read_fragment(f) for f in fragment_paths]
    compiler = incremental.compiler_version()
    base_key = cache.digest(base.identity, job.kernel.profile, *([start_config.read_bytes()] if start_config else []),
                            *fragments, compiler)
    prerequisites = [read_series(p) for p in variant.prerequisites]
    series = read_series(variant.series) if variant.series else None
    if series and variant.patches:
        series = _prefix(series, variant.patches)
    stack = [*prerequisites, *([series] if series else [])]
    out = cache_dir / "kernels" / incremental.key(base_key, stack)
    log = cache_dir / "logs" / f"{out.name}.build.log"

    found = {"refused": []}  # what the series' build was refused, and the warnings it added (build/warnings.py)

    def base_tree():
        built = incremental.base_tree(cache_dir / "trees" / base_key, base.identity, functools.partial(
            _build_base, base, job.kernel.profile, start_config, fragment_paths, progress=progress))
        if series:  # the base's warnings where the series compiles, before its tree is lent to the series
            found["objects"] = warnings.objects(built, series.files)
            found["base"] = warnings.of_base(built, prerequisites, found["objects"], base_key, cache_dir,
                                             cache_dir / "logs" / f"{out.name}.warnings.log")
        return built

    def rebuild(build_tree):
        for targets, what in ((["olddefconfig"], "configure"), (["bzImage"], "build")):
            found["refused"] += make.run(build_tree, targets, log, f"{variant.name}: {what}", progress,
                                         sandboxed=True).refused
        if series:
            found["warnings"] = warnings.compare(found["base"], warnings.compiled(
                build_tree, found["objects"], log, sandboxed=True), build_tree, series)
            found["checkpatch"] = checkpatch.record(checkpatch.check(
                tree.pristine(base, cache_dir), series, job.kernel.checkpatch_strict), job.kernel.checkpatch_strict)

    collect = functools.partial(_collect, base, prerequisites, series, compiler, found)
    try:
        cached = incremental.entry(out, stack, base_tree, rebuild, collect, log, variant.name, progress)
    except ApplyError as exc:
        raise _made_elsewhere(exc, base, stack, cache_dir) from exc
    meta = json.loads((out / "metadata.json").read_text())
    return _record(out, {**meta, "prerequisites": [prerequisite(s) for s in prerequisites],
                         "series": [p.label for p in series.patches] if series else []}, variant.name, cached)


def _prefix(series, count):
    """The first ``count`` patches of ``series``; a series with fewer is named with its count."""
    if count > len(series.patches):
        raise ConfigError(f"{series.source}: patches: {count} asks for more patches than the series has "
                          f"({len(series.patches)})", hint=f"patches: 1 to {len(series.patches)}")
    return series.prefix(count)


def check_parity(builds):
    """Refuse to compare kernels whose configurations differ (the comparison would measure the config)."""
    first = builds[0]
    for other in builds[1:]:
        if other.config_sha256 != first.config_sha256:
            diff = command.run(["diff", "-u", first.config, other.config], check=False).stdout
            changed = [l for l in diff.splitlines() if l[:1] in "+-" and "CONFIG_" in l][:6]
            raise BuildError(f"kernel configs of {first.variant} and {other.variant} differ: {'; '.join(changed)}",
                             hint="the series changes Kconfig; compare only kernels built with one configuration",
                             log=str(other.config))


def _profile(spec, base):
    """(the config file a profile starts from, or None for a make target; the fragments to merge onto it)."""
    fragments = list(spec.fragments)
    if spec.profile in ("minimal", "defconfig"):
        return None, fragments
    if spec.profile != "distro":
        path = Path(spec.profile).expanduser()
        if not path.is_file():
            raise ConfigError(f"kernel profile {spec.profile}: no such config file",
                              hint="minimal, distro, defconfig, or the path of a kernel .config")
        return path, fragments
    if base.kind != "debian":
        raise ConfigError(f"kernel profile distro: the distribution's config is known for a Debian source package "
                          f"base only, not {base.identity}", hint="give the config file's path as the profile")
    package, version = base.identity.replace("linux-source-", "linux-config-").split("=")
    found = command.run(["dpkg-query", "-W", "-f", "${Version}", package], check=False).stdout.strip()
    config = Path(f"/usr/src/{package}/{DISTRO_FLAVOUR}.xz")
    if found != version or not config.exists():
        raise PrerequisiteError(f"kernel profile distro needs {package} {version} (Debian's configs for "
                                f"{base.identity}); installed: {found or 'none'}", hint=f"apt-get install {package}")
    return config, [DISTRO_BUILD, *fragments]


def _read_fragment(path):
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"kernel config fragment {path}: {exc.strerror}") from exc


def _build_base(base, profile, start_config, fragments, path, progress):
    """Unpack, configure and build the base at ``path`` (built in place: kbuild records absolute paths)."""
    progress(f"base: unpacking {base.identity}")
    tree.link_source(tree.pristine(base, path.parents[1]), path)
    log = path / "build.log"
    log.write_text("")
    if start_config is None:
        make.run(path, PROFILE_TARGETS[profile], log, "base: configure")
    else:
        data = start_config.read_bytes()
        (path / ".config").write_bytes(lzma.decompress(data) if start_config.suffix == ".xz" else data)
    merge = path / "scripts" / "kconfig" / "merge_config.sh"
    command.run([merge, "-m", ".config", *[Path(f).resolve() for f in fragments]], cwd=path, log=log)
    make.run(path, ["olddefconfig"], log, "base: configure")
    _check_fragments(path / ".config", fragments)
    make.run(path, ["bzImage"], log, "base: build", progress)


def _check_fragments(config, fragments):
    """Every option a fragment asks for must survive olddefconfig (else a dependency is missing)."""
    final = set(Path(config).read_text().splitlines())
    for frag in fragments:
        for n, line in enumerate(Path(frag).read_text().splitlines(), 1):
            if line.startswith("CONFIG_") and line not in final:
                raise BuildError(f"{frag}:{n}: {line} was dropped by olddefconfig (an unmet dependency)",
                                 hint="add the option it depends on to the fragment", log=str(config))


def _made_elsewhere(exc, base, stack, cache_dir):
    """``exc``, saying which versions of its files the series was made on where they are not the base's
    (intake/origin.py); only a series applied straight on the base is compared with it."""
    if len(stack) != 1:
        return exc
    repo, commit = (Path(base.location), base.identity.split(":", 1)[1]) if base.kind == "git" else (None, None)
    said = origin.summary(origin.origins(tree.pristine(base, cache_dir), stack[0], repo, commit))
    if not said:
        return exc
    return ApplyError(f"{exc.cause}; {said}", log=exc.log,
                      hint="apply what it was made on first: prerequisites: [SERIES] in its variant, or review "
                           "--prerequisite SERIES")


def _collect(base, prerequisites, series, compiler, found, build_tree, log, dest, duration_s):
    """Copy the artefacts of a finished build into ``dest`` with their metadata.json."""
    shutil.copy2(build_tree / "arch" / "x86" / "boot" / "bzImage", dest / "bzImage")
    shutil.copy2(build_tree / ".config", dest / "config")
    shutil.copy2(log, dest / "build.log")
    release = (build_tree / "include" / "config" / "kernel.release").read_text().strip()  # written by the build
    meta = {"base": base.identity, "series": [p.label for p in series.patches] if series else [],
            "prerequisites": [prerequisite(s) for s in prerequisites], "refused": found["refused"],
            "warnings": found.get("warnings"), "checkpatch": found.get("checkpatch"),
            "runs_at_build": [f.message for s in [*prerequisites, series] if s for f in s.findings
                              if f.code == "runs-at-build"],
            "release": release, "compiler": compiler, "duration_s": duration_s,
            "config_sha256": _config_sha256(dest / "config"), "bzimage_sha256": cache.file_sha256(dest / "bzImage")}
    (dest / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")


def _config_sha256(path):
    """Hash of the options only (the header names the compiler and date, which parity does not care about)."""
    lines = [l for l in Path(path).read_text().splitlines() if l.startswith(("CONFIG_", "# CONFIG_"))]
    return cache.digest("\n".join(lines))


def prerequisite(series):
    """A prerequisite series as kernel records name it: where it was read, its patches, and a digest of its diffs."""
    return {"source": str(series.source), "patches": [p.subject for p in series.patches],
            "digest": cache.digest(*(p.diff for p in series.patches))}


def _record(out, meta, variant, cached=False):
    """The ``KernelBuild`` of cache entry ``out`` (its prerequisites and patches as this job names them: a cached
    kernel may have been built from the same diffs read elsewhere, numbered in a longer series)."""
    return KernelBuild(variant=variant, key=out.name, base=meta["base"], series=tuple(meta["series"]),
                       release=meta["release"], bzimage=out / "bzImage", config=out / "config",
                       build_log=out / "build.log", config_sha256=meta["config_sha256"],
                       bzimage_sha256=meta["bzimage_sha256"], compiler=meta["compiler"],
                       duration_s=meta["duration_s"], cached=cached,
                       prerequisites=tuple(meta.get("prerequisites", ())), refused=tuple(meta.get("refused", ())),
                       runs_at_build=tuple(meta.get("runs_at_build", ())), warnings=meta.get("warnings"),
                       checkpatch=meta.get("checkpatch"))

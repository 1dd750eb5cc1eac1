"""QEMU built from the distribution's source package, with an optional series, cached per (source, series).

The source is the Debian source package of the installed ``qemu-system-x86`` (the same version, so a patched
build differs from the system's only by the series and the build options).  It is fetched with ``apt-get
source`` through deb-src lists kept in the cache — made from the system's own apt sources, which are left
untouched — and unpacked by ``dpkg-source`` with Debian's patches applied.  The unpatched tree is configured for
the x86_64 softmmu target only, with TCG plugins as Debian's (the guests' instruction counter), and built once in
place; each series is built in a copy of it at the same path, so only what the series touches recompiles.  The
binary's ``--version`` must name the source's version and this harness as the package; the line is recorded with the
build.  It is built on the controller; ``ship`` copies it to an SSH test host and checks that it can run there (its
shared libraries and the system firmware it loads).
"""

import functools
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from harness import cache, command
from harness.build import incremental, sandbox
from harness.errors import BuildError, CommandError, PrerequisiteError
from harness.intake import tree
from harness.intake.apply import apply_series, copy_touched
from harness.intake.series import read_series

SOURCE_PACKAGE = "qemu"
BINARY_PACKAGE = "qemu-system-x86"
BINARY = "qemu-system-x86_64"
PKGVERSION = "balloon-harness"
CONFIGURE = ["--target-list=x86_64-softmmu", "--without-default-features", "--enable-slirp", "--enable-kvm",
             "--enable-tcg", "--enable-plugins", "--enable-fdt=system", "--disable-docs", "--disable-werror",
             f"--with-pkgversion={PKGVERSION}",
             "--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu"]  # the system's firmware
FIRMWARE_DIRS = CONFIGURE[-1].partition("=")[2].split(":")
FIRMWARE = ("bios-256k.bin", "linuxboot_dma.bin", "efi-virtio.rom")  # what a guest of ours loads (pc, -kernel, NIC)
APT_SOURCES = Path("/etc/apt")


@dataclass(frozen=True)
class QemuBuild:
    """The QEMU binary guests run on and what identifies it."""

    binary: str
    version: str        # the first line of its --version
    source: str         # 'system', or the source package and version it was built from
    series: tuple = ()  # labels of the applied patches
    key: str | None = None
    duration_s: float = 0.0
    cached: bool = False

    def identity(self):
        return {"binary": self.binary, "version": self.version, "source": self.source, "series": list(self.series),
                "key": self.key, "build_s": round(self.duration_s, 1), "cached": self.cached}


def ship(built, host):
    """``built`` copied into the SSH test ``host``'s cache and checked to run there: every shared library it links
    resolves (``ldd``) and the firmware a guest loads is in the system's firmware paths.  Raises PrerequisiteError
    naming the host and all that is missing."""
    remote = host.put(Path(built.binary))
    host.run(["chmod", "0755", str(remote)])
    libraries = [line.split()[0] for line in host.run(["ldd", str(remote)], check=False).stdout.splitlines()
                 if "not found" in line]
    firmware = host.run(["sh", "-c", 'for f; do for d in ' + " ".join(FIRMWARE_DIRS) + '; do [ -e "$d/$f" ] && '
                         'continue 2; done; echo "$f"; done', "sh", *FIRMWARE]).stdout.split()
    if libraries or firmware:
        lacking = [f"libraries {', '.join(libraries)} (ldd {remote})"] * bool(libraries) + [
            f"firmware {', '.join(firmware)} (in none of {', '.join(FIRMWARE_DIRS)})"] * bool(firmware)
        raise PrerequisiteError(f"{host.name}: the QEMU built on the controller cannot run there: missing "
                                f"{'; '.join(lacking)}",
                                hint="apt-get install qemu-system-x86 on the host (its libraries and firmware), or "
                                     "use qemu: {source: system} there")
    return replace(built, binary=str(remote))


def build(spec, cache_dir, progress=print):
    """The cached QEMU of ``spec`` (a ``config.specs.QemuSpec`` with source ``debian``), building what is missing."""
    version = installed_source_version()
    base_key = cache.digest(SOURCE_PACKAGE, version, *CONFIGURE, incremental.compiler_version())
    series = read_series(spec.series) if spec.series else None
    stack = [series] if series else []
    out = cache_dir / "qemu" / incremental.key(base_key, stack)
    log = cache_dir / "logs" / f"qemu-{out.name}.build.log"

    def base_tree():
        if series:  # say why a series does not apply before a long build, not after
            with tempfile.TemporaryDirectory(prefix="balloon-harness-qemu-") as scratch:
                copy_touched(source_tree(version, cache_dir, progress), Path(scratch) / "src", series)
                apply_series(Path(scratch) / "src", series, cache_dir / "logs" / f"qemu-{out.name}.apply.log")
        return incremental.base_tree(cache_dir / "qemu-trees" / base_key, version,
                                     functools.partial(_build_base, version, cache_dir, progress=progress))

    labels = tuple(p.label for p in series.patches) if series else ()
    cached = incremental.entry(out, stack, base_tree, lambda build_tree: _ninja(build_tree, log, progress, True),
                               functools.partial(_collect, version, labels), log, "QEMU", progress)
    meta = json.loads((out / "metadata.json").read_text())
    return QemuBuild(str(out / BINARY), meta["version"], meta["source"], tuple(meta["series"]), out.name,
                     meta["duration_s"], cached)


def installed_source_version():
    """The source version of the installed system QEMU, e.g. ``1:7.2+dfsg-7+deb12u18``."""
    res = command.run(["dpkg-query", "-W", "-f", "${source:Version} ${db:Status-Status}", BINARY_PACKAGE], check=False)
    version, _, status = res.stdout.partition(" ")
    if res.rc != 0 or status != "installed":
        raise PrerequisiteError(f"a QEMU built from source follows the installed {BINARY_PACKAGE}, which is not "
                                "installed", hint=f"apt-get install {BINARY_PACKAGE}")
    return version


def deb_src_sources(apt_dir=APT_SOURCES):
    """{file name: text} of deb-src entries mirroring the enabled ``deb`` entries of the system's apt sources."""
    out = {}
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in [p for p in lists if p.is_file()]:
        lines = [re.sub(r"^deb(\s)", r"deb-src\1", l) for l in path.read_text().splitlines()
                 if re.match(r"deb\s", l)]
        if lines:
            out[path.name] = "\n".join(lines) + "\n"
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        stanzas = [s.strip() for s in path.read_text().split("\n\n")
                   if re.search(r"(?m)^Types:(.*\s)?deb(\s|$)", s)]
        if stanzas:
            out[path.name] = "\n\n".join(re.sub(r"(?m)^Types:.*$", "Types: deb-src", s) for s in stanzas) + "\n"
    return out


def source_tree(version, cache_dir, progress):
    """The unpacked source package ``qemu=version`` (Debian's patches applied), fetched on first use."""
    def fetch(tmp):
        parts = tmp / "sources.list.d"
        parts.mkdir()
        for name, text in deb_src_sources().items():
            (parts / name).write_text(text)
        (tmp / "lists" / "partial").mkdir(parents=True)
        opts = ["-o", f"Dir::Etc::SourceList={tmp / 'none.list'}", "-o", f"Dir::Etc::SourceParts={parts}",
                "-o", f"Dir::State::Lists={tmp / 'lists'}"]
        progress(f"QEMU: fetching the source of {SOURCE_PACKAGE} {version}")
        try:
            command.run(["apt-get", *opts, "update"])
            command.run(["apt-get", *opts, "source", "--download-only", f"{SOURCE_PACKAGE}={version}"], cwd=tmp)
        except CommandError as exc:
            raise PrerequisiteError(f"cannot fetch the source package {SOURCE_PACKAGE}={version}: {exc.cause}",
                                    hint="the deb-src lists are made from /etc/apt; the archive must carry this "
                                         "version's source") from exc
        (dsc,) = tmp.glob("*.dsc")
        command.run(["dpkg-source", "-x", dsc.name, "src"], cwd=tmp)
    return cache.entry(cache_dir / "qemu-src" / cache.digest(SOURCE_PACKAGE, version), fetch) / "src"


def _build_base(version, cache_dir, path, progress):
    """Configure and build the unpatched tree at ``path`` (meson records absolute paths: it is never moved)."""
    tree.link_source(source_tree(version, cache_dir, progress), path)
    log = path / "build.log"
    (path / "build").mkdir()
    try:
        command.run([path / "configure", *CONFIGURE], cwd=path / "build", log=log)
    except CommandError as exc:
        raise BuildError(f"QEMU {version}: configure failed: {exc.cause}",
                         hint="the build needs libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev meson "
                              "ninja-build", log=str(log)) from exc
    _ninja(path, log, progress)


def _ninja(path, log, progress, sandboxed=False):
    """Build the binary in ``path``: ``sandboxed`` (build/sandbox.py) where a series touched the tree."""
    start = time.perf_counter()
    progress(f"QEMU: building {BINARY} in {path}")
    argv = ["ninja", "-C", str(path / "build"), f"-j{os.cpu_count()}", BINARY]
    try:
        command.run(sandbox.argv(path, argv, {}) if sandboxed else argv, log=log)
    except CommandError as exc:
        said = exc.result.stdout + exc.result.stderr
        errors = sandbox.refusals(said, path) + [l.strip() for l in said.splitlines() if " error: " in l][:6]
        raise BuildError(f"QEMU build failed: {' | '.join(errors) or exc.cause}", hint="see the build log",
                         log=str(log)) from exc
    progress(f"QEMU: built in {time.perf_counter() - start:.1f} s")


def _collect(version, series, build_tree, log, dest, duration_s):
    """Copy the binary and log into ``dest``, check the binary's version line, write metadata.json."""
    binary = dest / BINARY
    binary.write_bytes((build_tree / "build" / BINARY).read_bytes())
    binary.chmod(0o755)
    (dest / "build.log").write_bytes(Path(log).read_bytes())
    built = build_tree / "build" / BINARY  # the tree's own binary, run in the sandbox: a series built it
    line = command.run(sandbox.argv(build_tree, [str(built), "--version"], {})).stdout.splitlines()[0]
    upstream = (build_tree / "VERSION").read_text().strip()
    if not re.match(rf"QEMU emulator version {re.escape(upstream)}\S* \({PKGVERSION}\)$", line):
        raise BuildError(f"the built QEMU says {line!r}, not version {upstream} ({PKGVERSION})",
                         hint="the build did not produce the binary of this source", log=str(dest / "build.log"))
    meta = {"source": f"{SOURCE_PACKAGE}={version}", "series": list(series), "version": line,
            "duration_s": duration_s, "binary_sha256": cache.file_sha256(binary)}
    (dest / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")

"""The TCG plugin that counts the guest's instructions (``plugins/insn_count.c``), built and cached.

It is compiled by gcc against ``include/qemu/qemu-plugin.h`` of the Debian source package of the installed
``qemu-system-x86`` (the QEMU the guests run on, or the source a patched one is built from), which
``qemu_build.source_tree`` fetches with ``apt-get source`` and unpacks once into the cache (4 s and 339 MB from
deb.debian.org on the 2-core test VM).  The shared object is cached under ``plugins/<key>``, keyed by the C
source, the header, the compiler's version line and the flags.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

from harness import cache, command
from harness.build import incremental, qemu_build
from harness.errors import BuildError, CommandError, PrerequisiteError

SOURCE = Path(__file__).parent / "plugins" / "insn_count.c"
LIBRARY = "libinsn_count.so"
HEADER = Path("include") / "qemu" / "qemu-plugin.h"
CFLAGS = ("-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror")
TOOLS = {"gcc": "gcc", "dpkg-source": "dpkg-dev"}  # program: the Debian package that has it
OFF = "or turn counting off: guest: {count_insns: false}"


@dataclass(frozen=True)
class Plugin:
    """A built plugin: the shared object and what it was built from."""

    path: str
    key: str
    header: str    # the QEMU source package whose qemu-plugin.h it was compiled against
    compiler: str  # gcc's version line


def build(cache_dir, progress=print):
    """The cached plugin for the installed QEMU, compiled if missing."""
    missing = sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        raise PrerequisiteError(f"building the instruction-counting plugin needs {' and '.join(missing)}",
                                hint=f"apt-get install {' '.join(missing)}, {OFF}")
    try:
        version = qemu_build.installed_source_version()
    except PrerequisiteError as exc:
        raise PrerequisiteError("the instruction-counting plugin is built against the source of the installed "
                                f"{qemu_build.BINARY_PACKAGE}, which is not installed here",
                                hint=f"apt-get install {qemu_build.BINARY_PACKAGE}, {OFF}") from exc
    header = qemu_build.source_tree(version, cache_dir, progress) / HEADER
    compiler = incremental.compiler_version()
    key = cache.digest(SOURCE.read_bytes(), header.read_bytes(), compiler, *CFLAGS)
    out = cache.entry(cache_dir / "plugins" / key, lambda tmp: _compile(header, tmp / LIBRARY, progress))
    return Plugin(str(out / LIBRARY), key, f"{qemu_build.SOURCE_PACKAGE}={version}", compiler)


def _compile(header, library, progress):
    progress(f"plugin: compiling {SOURCE.name} against {header}")
    try:
        command.run(["gcc", *CFLAGS, "-I", header.parent, "-o", library, SOURCE])
    except CommandError as exc:
        errors = [line for line in exc.result.stderr.splitlines() if "error" in line][:4]
        raise BuildError(f"gcc cannot build the plugin {SOURCE}: {' | '.join(errors) or exc.cause}",
                         hint=f"compiled against {header}") from exc

"""The build kernels and QEMUs share: a base tree built once in place, each series rebuilt at the base's own path.

Kbuild and meson record absolute paths, so a built tree is never moved: the base is built once under a lock and
marked built, and a series is applied to a copy of it that borrows the base's path (``apply.applied_in_place``),
where the build rebuilds only what the series touches.  Artefacts go into a cache entry keyed over the base and
the series' diffs; the compiler's version line is part of every key.  A series' rebuild runs in the sandbox
(build/sandbox.py), in a tree whose build output the build user owns.
"""

import time

from harness import cache, command
from harness.build import sandbox
from harness.intake import tree
from harness.intake.apply import applied_in_place

BUILT_MARK = ".balloon-harness-built"


def compiler_version():
    """The first line of ``gcc --version``: part of every build's cache key and record."""
    return command.run(["gcc", "--version"]).stdout.splitlines()[0]


def key(base_key, stack):
    """The cache key of the base built with the series of ``stack`` applied in order (empty: the base alone)."""
    return cache.digest(base_key, *(p.diff for series in stack for p in series.patches)) if stack else base_key


def base_tree(path, identity, make):
    """The built tree at ``path``: restored if a crashed series build left it set aside, else made once by
    ``make(path)`` and marked built with ``identity``."""
    with cache.locked(path):
        tree.restore(path)
        if not (path / BUILT_MARK).exists():
            make(path)
            (path / BUILT_MARK).write_text(identity + "\n")
    return path


def entry(out, stack, base, rebuild, collect, log, what, progress):
    """The cache entry ``out`` (True if it was there already): ``base()`` gives the built base tree; with an empty
    ``stack`` its artefacts are collected, else ``rebuild(tree)`` runs in the base tree with the stack's series
    applied in order (output to ``log``) and ``collect(tree, log, dest, duration_s)`` puts the artefacts into the
    entry."""
    cached = (out / "metadata.json").exists()

    def make(dest):
        start = time.perf_counter()
        built = base()
        if not stack:
            collect(built, built / "build.log", dest, time.perf_counter() - start)
            return
        for series in stack:
            progress(f"{what}: applying {len(series.patches)} patch(es) from {series.source}")
        with applied_in_place(built, stack, log) as build_tree:
            sandbox.own(build_tree)  # the series' build writes there, as the build user, and nowhere else
            rebuild(build_tree)
            collect(build_tree, log, dest, time.perf_counter() - start)

    cache.entry(out, make)
    return cached

"""Kernel source trees: the base, and a private copy of it for each variant.

A base is Debian's ``linux-source-X`` package, a commit of a local git tree, or a tarball; it is identified by
package version, commit id or file hash, unpacked once into the cache, and never modified.  The user's own git
tree is only read (``git archive``).  Build trees are hard-linked to the pristine source; ``link_copy`` copies a
built tree sharing those links and copying only the build output, so timestamps survive and a copy rebuilds
only what its series changes; ``unshare`` gives files their own inodes before a patch touches them.
"""

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import cache, command
from harness.errors import CommandError, ConfigError, PrerequisiteError


@dataclass(frozen=True)
class Base:
    """Where a base kernel comes from, and a stable identity for it."""

    kind: str        # 'debian' | 'git' | 'tarball'
    location: str    # package name, repository path, or tarball path
    ref: str | None
    identity: str    # e.g. 'linux-source-6.1=6.1.192-2', 'git:<sha>', 'tarball:<sha256>'


def resolve(spec):
    """Identify the base named by a job's ``base`` section."""
    if "debian" in spec:
        pkg = spec["debian"]
        res = command.run(["dpkg-query", "-W", "-f", "${Version} ${db:Status-Status}", pkg], check=False)
        version, _, status = res.stdout.partition(" ")
        tarball = Path(f"/usr/src/{pkg}.tar.xz")
        if res.rc != 0 or status != "installed" or not tarball.exists():
            raise PrerequisiteError(f"base kernel source package {pkg} is not installed",
                                    hint=f"apt-get install {pkg}")
        return Base("debian", pkg, None, f"{pkg}={version}")
    if "git" in spec:
        repo = Path(spec["git"]).expanduser()
        try:
            sha = command.run(["git", "-C", repo, "rev-parse", "--verify", f"{spec['ref']}^{{commit}}"]).stdout.strip()
        except CommandError as exc:
            raise ConfigError(f"base git tree {repo}: ref {spec['ref']!r} is not a commit there",
                              hint="give a tag, branch or commit id that exists in that tree") from exc
        return Base("git", str(repo.resolve()), spec["ref"], f"git:{sha}")
    tarball = Path(spec["tarball"]).expanduser()
    if not tarball.is_file():
        raise ConfigError(f"base tarball {tarball} does not exist")
    return Base("tarball", str(tarball.resolve()), None, f"tarball:{cache.file_sha256(tarball)[:16]}")


def pristine(base, cache_dir):
    """The unpacked, never-modified source of ``base`` (unpacked on first use)."""
    def unpack(tmp):
        if base.kind == "git":
            sha = base.identity.split(":", 1)[1]
            archive = subprocess.Popen(["git", "-C", base.location, "archive", "--format=tar", sha],
                                       stdout=subprocess.PIPE)
            try:
                untar = subprocess.run(["tar", "-x", "-C", str(tmp)], stdin=archive.stdout, check=False)
            finally:
                archive.stdout.close()
            if archive.wait() != 0 or untar.returncode != 0:
                raise ConfigError(f"git archive of {base.location} at {base.ref} failed")
        else:
            tarball = f"/usr/src/{base.location}.tar.xz" if base.kind == "debian" else base.location
            command.run(["tar", "-x", "-f", tarball, "-C", tmp])
        (tmp / "linux").mkdir()
        top = [p for p in tmp.iterdir() if p.name != "linux"]
        inner = top[0] if len(top) == 1 and (top[0] / "Makefile").exists() else tmp
        for item in list(inner.iterdir()):
            if item.name != "linux":
                item.rename(tmp / "linux" / item.name)
        if inner is not tmp:
            inner.rmdir()
        if not (tmp / "linux" / "Makefile").exists():
            raise ConfigError(f"base {base.identity} does not look like a kernel tree (no top-level Makefile)")
    return cache.entry(cache_dir / "bases" / cache.digest(base.identity), unpack) / "linux"


def link_copy(src, dest):
    """Copy a tree in seconds: files shared with the pristine source (hard links) stay shared, the rest (build
    output) is copied with its timestamps, so make in the copy sees exactly what it saw in ``src``."""
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for entry in os.scandir(src):
        target = dest / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir():
            link_copy(entry.path, target)
        elif entry.stat(follow_symlinks=False).st_nlink > 1:
            os.link(entry.path, target)
        else:
            shutil.copy2(entry.path, target)
    return dest


def link_source(src, dest):
    """A new tree whose files are hard links to ``src`` (a pristine source): instant, and no extra space."""
    shutil.rmtree(dest, ignore_errors=True)
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    command.run(["cp", "-al", src, dest])
    return Path(dest)


def unshare(tree, files):
    """Give ``files`` of ``tree`` their own inodes before they are patched, so shared sources stay pristine."""
    for rel in files:
        path = Path(tree) / rel
        if path.is_file() and path.stat().st_nlink > 1:
            tmp = path.with_name(path.name + ".unshare")
            shutil.copy2(path, tmp)
            tmp.replace(path)


@contextlib.contextmanager
def borrowed(path):
    """Lend a built tree's path to a variant: the tree is set aside and a copy of it takes its place.

    Build systems record absolute paths (kbuild's objtool, meson/ninja), so a copy elsewhere would rebuild
    everything; at the same path only what the series touches recompiles.  The tree is put back on every exit
    path.
    """
    with cache.locked(path):
        saved = restore(path)
        path.rename(saved)
        try:
            link_copy(saved, path)
            yield path
        finally:
            restore(path)


def restore(path):
    """Put a set-aside base tree back (after a variant build, or one that crashed); return its aside name."""
    saved = path.with_name(path.name + ".base")
    if saved.exists():
        shutil.rmtree(path, ignore_errors=True)
        saved.rename(path)
    return saved

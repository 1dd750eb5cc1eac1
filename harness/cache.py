"""The content-addressed cache: where bases, build trees, kernels, images and keys live.

Root: ``--cache-dir`` / ``$BALLOON_HARNESS_CACHE``, else ``$XDG_CACHE_HOME/balloon-harness`` (default
``~/.cache/balloon-harness``).  Entries are directories made complete-or-absent: ``entry()`` builds into a
temporary sibling under a lock and renames it into place, so a crash leaves nothing half-made.  Safe to delete.
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
from pathlib import Path


def root(override=None):
    """The cache directory (created 0700)."""
    base = override or os.environ.get("BALLOON_HARNESS_CACHE")
    if not base:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "balloon-harness"
    path = Path(base).expanduser()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def digest(*parts):
    """A short stable key over strings and bytes."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock named after ``path`` (a sibling ``.lock`` file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def entry(path, make):
    """Return ``path``, first calling ``make(tmp)`` to fill a temporary directory renamed to it if absent."""
    path = Path(path)
    with locked(path):
        if not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True, mode=0o700)
            try:
                make(tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            tmp.rename(path)
    return path

"""A throw-away kernel history to bisect: the 6.1 source, then harmless commits, one that adds a known cost to
the inflate path and one that does not build (the commit after it repairs it).

Every commit has a fixed author, committer and date, so the same arguments give the same commit ids on every run
and the good end's kernel is built once and then found in the cache.  Harmless commits add a comment at the end
of a file, so they change no instruction the guest runs; the planted one makes ``fill_balloon()`` run
``PLANTED_LOOP`` iterations of an empty loop (4 instructions each, as patches/faults/extra-work measured) per page
it takes.
"""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import cache
from harness.intake import history, tree

DRIVER = "drivers/virtio/virtio_balloon.c"
HARMLESS = (DRIVER, "drivers/virtio/virtio_ring.c", "drivers/virtio/virtio.c", "mm/balloon_compaction.c",
            "Documentation/admin-guide/mm/index.rst", "drivers/virtio/virtio_mmio.c", "mm/page_alloc.c")
PLANTED_LOOP = 16
SLOW = (("\tunsigned int num_pfns;\n\tstruct page *page;\n\tLIST_HEAD(pages);\n",
         "\tunsigned int num_pfns;\n\tunsigned long i;\n\tstruct page *page;\n\tLIST_HEAD(pages);\n"),
        ("\tmutex_lock(&vb->balloon_lock);\n\n\tvb->num_pfns = 0;\n",  # in fill_balloon(), before the batch is sent
         f"\t/* Let the host settle. */\n\tfor (i = {PLANTED_LOOP} * num_pfns; i; i--)\n\t\tbarrier();\n\n"
         "\tmutex_lock(&vb->balloon_lock);\n\n\tvb->num_pfns = 0;\n"))
BREAK = ("struct page *page = balloon_page_alloc();", "struct page *page = balloon_page_allocate();")


@dataclass(frozen=True)
class Planted:
    repo: Path
    root: str        # the 6.1 source: the good end
    head: str        # the last commit: the bad end
    slow: str        # the commit that adds the cost
    broken: str      # the commit that does not build


def cached(commits=32, broken=16, slow=23):
    """The history of ``make``, made once under the cache and reused (about 30 s and 0.5 GB to make)."""
    return make(cache.root() / "planted" / f"{commits}-{broken}-{slow}", commits, broken, slow)


def make(dest, commits=32, broken=16, slow=23):
    """A git tree at ``dest`` (reused where it is): the Debian 6.1 source of configs/check.yaml as its root, then
    ``commits`` commits; commit ``broken`` does not build (``broken`` + 1 repairs it) and commit ``slow`` adds the
    cost."""
    dest = Path(dest)
    if not dest.exists():
        work = dest.with_name(dest.name + ".making")  # renamed when whole: an interrupted run leaves no half tree
        source = tree.pristine(tree.resolve({"debian": "linux-source-6.1"}), cache.root())
        tree.link_source(source, work)  # hard links: git reads them, and a commit replaces a file it changes
        _git(work, "init", "-q")
        _git(work, "add", "-f", ".")
        _commit(work, "Linux 6.1 (Debian's linux-source-6.1)")
        for k in range(1, commits + 1):
            _change(work, k, broken, slow)
        work.rename(dest)
    ids = _git(dest, "rev-list", "--reverse", "HEAD").split()
    return Planted(dest.resolve(), ids[0], ids[-1], ids[slow], ids[broken])


def _change(repo, k, broken, slow):
    if k == slow:
        for old, new in SLOW:
            _edit(repo / DRIVER, old, new)
        _commit(repo, "virtio_balloon: let the host settle before each inflate batch")
    elif k == broken:
        _edit(repo / DRIVER, *BREAK)
        _commit(repo, "virtio_balloon: allocate balloon pages through one helper")
    elif k == broken + 1:
        _edit(repo / DRIVER, *reversed(BREAK))
        _commit(repo, "virtio_balloon: fix the build: the helper is balloon_page_alloc()")
    else:
        path = repo / HARMLESS[k % len(HARMLESS)]
        note = f"\n.. Note {k}.\n" if path.suffix == ".rst" else f"\n/* Note {k}. */\n"
        _write(path, path.read_text() + note)
        _commit(repo, f"{path.parent.name}: note {k} in {path.name}")


def _edit(path, old, new):
    text = path.read_text()
    if text.count(old) != 1:
        raise AssertionError(f"{path}: {old!r} is there {text.count(old)} times, not once")
    _write(path, text.replace(old, new))


def _write(path, text):
    path.unlink()  # a hard link to the pristine source: never written through
    path.write_text(text)


def _commit(repo, subject):
    _git(repo, "commit", "-q", "-a", "-m", subject, env={**os.environ, **history.FIXED})


def _git(repo, *args, env=None):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True, env=env).stdout

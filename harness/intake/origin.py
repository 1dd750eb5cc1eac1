"""Which tree a series was made on: each file's pre-image, as ``git format-patch`` names it, against the base's.

A patch's ``index <pre>..<post>`` line names the blob of the file it was made on.  For every file the series
changes, the first patch that touches it says what the series expects there; the base's file is hashed as git
does (``git hash-object``).  Where they differ and the base is a git tree, its history says which commit first
holds that version (``git log --find-object``) and which commits touching the file lie between the base and it —
the commits a reviewer must take as prerequisites.  A base without history (a tarball, Debian's source) can only
say that the file differs, and that a git base would find the commit.  The prerequisites a series names itself
(b4's ``prerequisite-patch-id:`` trailers) are matched by ``git patch-id --stable`` with the series given as
prerequisites.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from harness import command
from harness.errors import CommandError

INDEX_RE = re.compile(r"^index ([0-9a-f]{7,40})\.\.([0-9a-f]{7,40})\b")
NEW_FILE = re.compile(r"^0+$")


@dataclass(frozen=True)
class FileOrigin:
    """One file the series changes: the blob it was made on, the base's, and what history says of the two."""

    path: str
    made_on: str                 # the pre-image blob id the series names (abbreviated as the patch has it)
    base_blob: str | None        # the base's blob of the file; None: the base has no such file
    commit: str | None = None    # the first commit of the base's history whose tree holds ``made_on``
    name: str | None = None      # that commit as ``git name-rev`` puts it (e.g. v6.8-rc1~12^2~3)
    lacking: tuple[str, ...] = ()  # "<id> <subject>" of the commits touching the file that the base lacks
    newer: tuple[str, ...] = ()    # ... or that the base has beyond the version the series was made on
    history: bool = False        # whether a git history was searched

    @property
    def same(self) -> bool:
        return self.base_blob is not None and self.base_blob.startswith(self.made_on)

    def text(self) -> str:
        """One line for a reviewer."""
        if self.same:
            return f"{self.path}: made on this base's version ({self.made_on[:12]})"
        if self.base_blob is None:
            return f"{self.path}: made on version {self.made_on[:12]}, which this base does not have at all"
        head = f"{self.path}: made on version {self.made_on[:12]}, this base has {self.base_blob[:12]}"
        if not self.history:
            return head + " (no history to say which commit: give a git base, base: {git: TREE, ref: REF})"
        if self.commit is None:
            return head + "; no commit of the base's history holds that version (made on another tree)"
        at = f"{self.commit[:12]}" + (f" ({self.name})" if self.name else "")
        if self.lacking:
            return (head + f"; first in {at}: the base lacks {len(self.lacking)} commit(s) touching it: "
                    + "; ".join(self.lacking))
        if self.newer:
            return (head + f"; first in {at}, which the base has, with {len(self.newer)} later commit(s) touching "
                    "it: " + "; ".join(self.newer))
        return head + f"; first in {at}"


def pre_images(series) -> dict[str, str]:
    """{file: the pre-image blob id of the first patch that changes it}; new files have none."""
    out = {}
    for patch in series.patches:
        current = None
        for line in patch.diff.split("\n"):
            if line.startswith("diff --git "):
                current = line.split(" b/", 1)[1] if " b/" in line else None
            elif current and (m := INDEX_RE.match(line)):
                if current not in out and not NEW_FILE.match(m[1]):
                    out[current] = m[1]
                current = None
    return out


def origins(tree: Path, series, repo: Path | None = None, commit: str | None = None) -> tuple[FileOrigin, ...]:
    """Where each file the series changes was made, against the base source ``tree``; with ``repo`` and
    ``commit`` (a git base) history names the commit that first holds each other version."""
    out = []
    for path, made_on in pre_images(series).items():
        file = Path(tree) / path
        blob = command.run(["git", "hash-object", "--no-filters", file]).stdout.strip() if file.is_file() else None
        found = FileOrigin(path, made_on, blob, history=repo is not None)
        if repo is not None and not found.same:
            found = _history(found, Path(repo), commit or "HEAD")
        out.append(found)
    return tuple(out)


def history_of(tree: Path) -> tuple[Path | None, str | None]:
    """(``tree``, "HEAD") when ``tree`` is the top of a git work tree, whose history can then be searched; else
    (None, None)."""
    top = command.run(["git", "-C", tree, "rev-parse", "--show-toplevel"], check=False)
    same = top.rc == 0 and Path(top.stdout.strip()).resolve() == Path(tree).resolve()
    return (Path(tree), "HEAD") if same else (None, None)


def patch_id(patch) -> str:
    """``git patch-id --stable`` of a patch's diff: what b4's ``prerequisite-patch-id:`` names."""
    return command.run(["git", "patch-id", "--stable"], input=patch.diff).stdout.split(" ", 1)[0]


def named(series, given=()) -> list[str]:
    """One line per prerequisite ``series`` names, saying whether one of the ``given`` series holds it."""
    wanted = any(r.startswith("patch-id ") for r in series.prerequisites)  # else no git patch-id to run
    ids = {patch_id(p): f"{g.source.name}: {p.subject}" for g in given for p in g.patches} if wanted else {}
    out = []
    for kind, _, value in (r.partition(" ") for r in series.prerequisites):
        held = ids.get(value) if kind == "patch-id" else None
        out.append(f"{kind} {value}: " + (f"given ({held})" if held else
                                          "not given (review --prerequisite SERIES, or prerequisites: [SERIES])"))
    return out


def summary(found) -> str | None:
    """One line over the files made on another version than the base's, or None when all match."""
    other = [f for f in found if not f.same]
    return "made on another tree: " + " | ".join(f.text() for f in other) if other else None


def _history(found: FileOrigin, repo: Path, base: str) -> FileOrigin:
    def git(*args, check=True):
        return command.run(["git", "-C", repo, *args], check=check)

    blob = git("rev-parse", "--verify", "--quiet", f"{found.made_on}^{{blob}}", check=False)
    if blob.rc != 0:
        return found
    commits = git("log", "--all", "--reverse", "--format=%H", f"--find-object={blob.stdout.strip()}", "--",
                  found.path).stdout.split()
    if not commits:
        return found
    first = commits[0]
    try:
        name = git("name-rev", "--name-only", "--tags", "--no-undefined", first).stdout.strip() or None
    except CommandError:
        name = None
    touching = ["log", "--format=%h %s", "--", found.path]
    lacking = git(*touching[:2], f"{base}..{first}", *touching[2:]).stdout.splitlines()
    newer = git(*touching[:2], f"{first}..{base}", *touching[2:]).stdout.splitlines() if not lacking else []
    return FileOrigin(found.path, found.made_on, found.base_blob, first, name, tuple(reversed(lacking)),
                      tuple(reversed(newer)), True)

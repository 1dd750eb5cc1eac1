"""Apply a patch series to a kernel source tree and say how each patch went.

``check_series`` dry-runs the series in a throwaway copy of the files it touches; ``apply_series`` applies it for
real, in order, and stops at the first patch that does not apply.  Each patch is classified by the tools that
apply it: ``git apply --check`` (clean, or at an offset), ``git apply --check -R`` (already applied), GNU
``patch --dry-run`` with fuzz (applies only with fuzz, and is then applied with ``patch``), otherwise a conflict,
reported with the failing hunk and where its context sits in the base now.  The tree need not be a git repository.
"""

import contextlib
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from harness import command
from harness.errors import ApplyError, PrerequisiteError, SeriesError
from harness.intake.series import Patch, Series
from harness.intake.tree import borrowed, unshare

GIT_ID = ["-c", "user.name=balloon-harness", "-c", "user.email=balloon-harness@localhost", "-c", "commit.gpgsign=false"]

MAX_FUZZ = 2  # GNU patch's default; classifying and applying use the same limit so a 'fuzz' verdict always applies
FILE_RE = re.compile(r"^(?:Checking patch (.+)\.\.\.|(?:checking|patching) file '?(.+?)'?)$")
HUNK_OK_RE = re.compile(r"^Hunk #(\d+) succeeded at (\d+)( with fuzz \d+)?(?: \(offset (-?\d+) lines?\))?")
FAILED_RE = re.compile(r"^error: patch failed: (.+):(\d+)$", re.M)
APPLIES = ("clean", "offset", "fuzz")


@dataclass(frozen=True)
class Outcome:
    """How one patch applies: ``status`` is clean, offset, fuzz, already-applied, conflict or not-checked."""

    patch: str
    status: str
    detail: str


def check_series(tree: Path, series: Series, before=()) -> tuple[Outcome, ...]:
    """Dry-run the series, cumulatively, on a copy of the files it touches, after applying its prerequisites
    (``before``, in order; ApplyError where one does not apply); the tree is never written."""
    with tempfile.TemporaryDirectory(prefix="balloon-harness-check-") as tmp:
        work, log = Path(tmp) / "tree", Path(tmp) / "check.log"
        copy_touched(tree, work, *before, series)
        for prerequisite in before:
            apply_series(work, prerequisite, log)
        outcomes = []
        for n, patch in enumerate(series.patches, 1):
            errors = sorted({f.code for f in patch.findings if f.severity == "error"})
            if errors:
                outcomes.append(Outcome(patch.label, "not-checked", f"malformed: {', '.join(errors)}"))
                continue
            pfile = _write_patch(Path(tmp), n, patch)
            outcome = _classify(work, patch, pfile, log)
            if outcome.status in APPLIES:
                _apply(work, outcome, pfile, log)
            outcomes.append(outcome)
        return tuple(outcomes)


def apply_series(tree: Path, series: Series, log: Path, on_applied=None) -> tuple[Outcome, ...]:
    """Apply each patch in order; ``on_applied(patch, outcome)`` runs after each one (e.g. to commit it)."""
    errors = Counter(f.code for f in series.findings if f.severity == "error")
    if errors:
        found = ", ".join(f"{code} ×{n}" if n > 1 else code for code, n in errors.items())
        raise SeriesError(f"{series.source}: unusable series ({found})",
                          hint="run `balloon-harness series check` on it for every finding; fix or re-fetch it")
    tree, log = _require_tree(tree), Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="balloon-harness-apply-") as tmp:
        for n, patch in enumerate(series.patches, 1):
            pfile = _write_patch(Path(tmp), n, patch)
            outcome = _classify(tree, patch, pfile, log)
            if outcome.status not in APPLIES:
                raise ApplyError(f"{patch.label}: {outcome.status}: {outcome.detail}", hint=_hint(outcome, n), log=log)
            _apply(tree, outcome, pfile, log)
            outcomes.append(outcome)
            if on_applied:
                on_applied(patch, outcome)
    return tuple(outcomes)


@contextlib.contextmanager
def applied_in_place(built_tree: Path, stack, log: Path):
    """A copy of ``built_tree`` at its own path (``tree.borrowed``) with the series of ``stack`` applied in order
    (prerequisites, then the series under test), so a build there recompiles only what they touch; ``log`` is
    started afresh and gets the apply output."""
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    with borrowed(built_tree) as build_tree:
        unshare(build_tree, {f for series in stack for p in series.patches for f in p.files})
        for series in stack:
            apply_series(build_tree, series, log)
        yield build_tree


def range_diff(tree: Path, old: Series, new: Series, before=()) -> str:
    """`git range-diff` of ``old`` and ``new`` applied to the same base (with the prerequisites ``before`` applied
    first), in a scratch repo of the touched files."""
    work = Path(tempfile.mkdtemp(prefix="balloon-harness-range-diff-"))
    repo, log = work / "repo", work / "range-diff.log"
    copy_touched(tree, repo, *before, old, new)
    for prerequisite in before:
        apply_series(repo, prerequisite, log)
    git = partial(_git, repo, log)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "base")
    git("tag", "base")
    for name, series in (("old", old), ("new", new)):
        git("checkout", "-q", "-b", name, "base")
        apply_series(repo, series, log, on_applied=lambda p, o: (git("add", "-A"), git("commit", "-q", "-m", p.subject)))
    text = git("range-diff", "base..old", "base..new").stdout
    shutil.rmtree(work)  # kept on failure: the error names the log inside it
    return text


def _git(repo: Path, log: Path, *args: str):
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(repo.parent)}
    return command.run(["git", *GIT_ID, *args], cwd=repo, log=log, env=env)


def copy_touched(tree: Path, dest: Path, *series: Series) -> None:
    """Copy the files the series touch (those that exist in ``tree``) to ``dest``, keeping relative paths."""
    tree = _require_tree(tree)
    dest.mkdir(parents=True, exist_ok=True)
    names = {name for s in series for p in s.patches for name in
             (*p.files, *re.findall(r"^(?:rename|copy) from (.+)$", p.diff, re.M))}
    root = tree.resolve()
    for name in sorted(names):
        src = (tree / name).resolve()
        if src.is_file() and src.is_relative_to(root):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _require_tree(tree) -> Path:
    tree = Path(tree)
    if not tree.is_dir():
        raise PrerequisiteError(f"{tree}: no such source tree (not a directory)",
                                hint="pass the directory of an unpacked kernel source tree")
    return tree


def _write_patch(tmp: Path, n: int, patch: Patch) -> Path:
    pfile = tmp / f"{n:04d}.patch"
    pfile.write_text(patch.diff, encoding="utf-8")
    return pfile


def _git_apply(tree: Path, pfile: Path, log: Path, *options: str):
    """``git apply`` with paths relative to ``tree``, even when the tree sits inside some other git work tree."""
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tree.resolve().parent)}
    return command.run(["git", "apply", *options, pfile], cwd=tree, check=False, log=log, env=env)


def _patch_argv(pfile: Path, *options: str) -> list:
    return ["patch", "-p1", f"-F{MAX_FUZZ}", "--no-backup-if-mismatch", "--batch", *options, "-i", pfile]


def _classify(tree: Path, patch: Patch, pfile: Path, log: Path) -> Outcome:
    forward = _git_apply(tree, pfile, log, "--check", "-v")
    if forward.rc == 0:
        moved = _moved_hunks(forward.stderr)
        return Outcome(patch.label, "offset", "; ".join(moved)) if moved else \
            Outcome(patch.label, "clean", f"{len(patch.hunks)} hunks apply as they are")
    failure = _failure(tree, patch, forward.stderr)
    if _git_apply(tree, pfile, log, "--check", "-R").rc == 0:
        return Outcome(patch.label, "already-applied", f"the tree already has it (reversing it applies); {failure}")
    fuzzy = command.run(_patch_argv(pfile, "--dry-run"), cwd=tree, check=False, log=log)
    if fuzzy.rc == 0:
        return Outcome(patch.label, "fuzz", "; ".join(_moved_hunks(fuzzy.stdout)))
    return Outcome(patch.label, "conflict", failure)


def _apply(tree: Path, outcome: Outcome, pfile: Path, log: Path) -> None:
    if outcome.status == "fuzz":
        command.run(_patch_argv(pfile), cwd=tree, log=log)
    elif _git_apply(tree, pfile, log).rc != 0:
        raise ApplyError(f"{outcome.patch}: git apply failed after its check passed", log=log)


def _moved_hunks(output: str) -> list[str]:
    """'FILE hunk N at line L (offset K lines)' for each hunk git apply -v or patch reports as moved or fuzzed."""
    moved, file = [], "?"
    for line in output.splitlines():
        if m := FILE_RE.match(line):
            file = m[1] or m[2]
        elif m := HUNK_OK_RE.match(line):
            offset = f" (offset {m[4]} lines)" if m[4] else ""
            moved.append(f"{file} hunk {m[1]} at line {m[2]}{m[3] or ''}{offset}")
    return moved


def _failure(tree: Path, patch: Patch, stderr: str) -> str:
    """The failing hunk git names: its header, the lines it expects, and where those lines are in the tree now."""
    m = FAILED_RE.search(stderr)
    hunk = m and next((h for h in patch.hunks if h.file == m[1] and h.old_start == int(m[2])), None)
    if not hunk:
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        return errors[0] if errors else stderr.strip()
    old = [line[1:] for line in hunk.body if line[:1] in " -"]
    expects = " / ".join(repr(line.strip()) for line in old[:3])
    return f"{hunk.file}: hunk {hunk.header} fails (expects {expects}); {_where_now(tree / hunk.file, old[:3], hunk)}"


def _where_now(path: Path, first: list[str], hunk) -> str:
    """Search the file for the hunk's first old-side lines and say where they are."""
    if not path.is_file():
        return f"{hunk.file} is not in the tree"
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    found = [n + 1 for n in range(len(lines) - len(first) + 1) if lines[n:n + len(first)] == first]
    if not found or not first:
        return "context not found"
    at = ", ".join(map(str, found[:3]))
    return f"context found at line {at} (header says {hunk.old_start}): the lines it changes differ"


def _hint(outcome: Outcome, n: int) -> str:
    done = f"the tree has the {n - 1} patches before it applied; " if n > 1 else ""
    if outcome.status == "already-applied":
        return done + "the base already contains this patch: use the base the series was written for, or drop it"
    return done + "start again from a pristine base, and use the base the series was written for (its base-commit) " \
                  "or rebase the series onto this one"

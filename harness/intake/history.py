"""A range of history to bisect, and git's own bisection of it.

``Range.of`` checks what a bisection is given before anything is built: a git tree, two ends that are commits
there, the good end an ancestor of the bad, and commits between them.  ``Bisection`` runs ``git bisect`` with
``--no-checkout`` in a private bare repository that borrows the tree's objects (``objects/info/alternates``), so
the user's tree, its refs and any bisection of their own are never touched; git picks each commit to test and
names the first bad one, or the commits it could be when only skipped ones are left.  ``diff`` writes the change
from the good end to a commit as one patch, which a job applies on the good end's built tree like any series (so
only what changed recompiles, merges included).  ``mirror`` gives a series' patches a history of their own, so
git bisects a series too: commit k stands for its first k patches.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness import command
from harness.errors import CommandError, ConfigError

FIXED = {"GIT_AUTHOR_NAME": "balloon-harness", "GIT_AUTHOR_EMAIL": "bisect@balloon-harness.invalid",
         "GIT_COMMITTER_NAME": "balloon-harness", "GIT_COMMITTER_EMAIL": "bisect@balloon-harness.invalid",
         "GIT_AUTHOR_DATE": "@0 +0000", "GIT_COMMITTER_DATE": "@0 +0000"}
FIRST_BAD = re.compile(r"^# first bad commit: \[([0-9a-f]{40})\]", re.M)
POSSIBLE = re.compile(r"^# possible first bad commit: \[([0-9a-f]{40})\]", re.M)


def git(repo, *args, **kwargs):
    return command.run(["git", "-C", repo, *args], **kwargs).stdout.strip()


@dataclass(frozen=True)
class Range:
    """good..bad of a git tree: both ends as commit ids, and how many commits lie between."""

    repo: Path
    good: str
    bad: str
    commits: int

    @classmethod
    def of(cls, repo, good, bad):
        """The range, or a ConfigError naming the tree or the end at fault (nothing is built before this)."""
        repo = Path(repo).expanduser()
        if command.run(["git", "-C", repo, "rev-parse", "--git-dir"], check=False).rc != 0:
            raise ConfigError(f"{repo}: not a git tree, so there is no history to bisect",
                              hint="give a job whose base is {git: TREE, ref: REF}, or --series DIR")
        ends = []
        for name, ref in (("good", good), ("bad", bad)):
            try:
                ends.append(git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"))
            except CommandError as exc:
                raise ConfigError(f"{repo}: --{name} {ref!r} is not a commit there") from exc
        if command.run(["git", "-C", repo, "merge-base", "--is-ancestor", *ends], check=False).rc != 0:
            raise ConfigError(f"{repo}: the good end {good} is not an ancestor of the bad end {bad}",
                              hint="bisection looks for the commit after the good end that made the bad end")
        commits = int(git(repo, "rev-list", "--count", f"{ends[0]}..{ends[1]}"))
        if not commits:
            raise ConfigError(f"{repo}: {good} and {bad} are the same commit")
        return cls(repo.resolve(), *ends, commits)

    def subject(self, commit):
        return git(self.repo, "log", "-1", "--format=%s", commit)


def diff(rng, commit, dest):
    """Write the change from ``rng.good`` to ``commit`` as one patch in the directory ``dest``; return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    count = int(git(rng.repo, "rev-list", "--count", f"{rng.good}..{commit}"))
    body = command.run(["git", "-C", rng.repo, "diff", "--binary", "--full-index", "--no-color", "--no-ext-diff",
                        rng.good, commit]).stdout  # as it is: a last context line may be a lone space
    (dest / "0001-bisect-step.patch").write_text(
        f"From {commit} Mon Sep 17 00:00:00 2001\nFrom: balloon-harness <bisect@balloon-harness.invalid>\n"
        f"Subject: [PATCH] {rng.good[:12]}..{commit[:12]}: {count} commit{'s' * (count != 1)} as one diff\n\n"
        f"The tree of {commit} on the good end {rng.good}.\n---\n{body}")
    return dest


def mirror(series, dest):
    """A history of ``series``' own: commit 0 is the base, commit k its first k patches (in a file that lists
    them, with patch k's subject).  Return the commit ids, 0..N."""
    command.run(["git", "init", "-q", dest])
    commits = []
    for k in range(len(series.patches) + 1):
        (dest / "applied").write_text("".join(f"{p.label}\n" for p in series.patches[:k]))
        command.run(["git", "-C", dest, "add", "applied"])
        subject = series.patches[k - 1].subject if k else "base"
        command.run(["git", "-C", dest, "commit", "-q", "--allow-empty", "-m", subject], env={**os.environ, **FIXED})
        commits.append(git(dest, "rev-parse", "HEAD"))
    return commits


class Bisection:
    """``git bisect`` over ``rng`` in a private bare repository at ``git_dir``.

    ``next`` is the commit to test (None once git has decided); ``mark`` tells git what it was; ``first_bad``
    and ``possible`` say what git found; ``log`` is ``git bisect log``.
    """

    def __init__(self, rng, git_dir):
        self.rng, self.git_dir = rng, Path(git_dir)
        command.run(["git", "init", "-q", "--bare", self.git_dir])
        objects = Path(git(rng.repo, "rev-parse", "--path-format=absolute", "--git-common-dir")) / "objects"
        (self.git_dir / "objects" / "info" / "alternates").write_text(f"{objects}\n")
        (self.git_dir / "HEAD").write_text(f"{rng.good}\n")
        self._git("bisect", "start", "--no-checkout", rng.bad, rng.good)

    def _git(self, *args, check=True):
        return command.run(["git", "--git-dir", self.git_dir, *args], check=check)

    @property
    def next(self):
        """The commit git asks to test next, or None when it is done."""
        if self.first_bad or self.possible:
            return None
        return self._git("rev-parse", "BISECT_HEAD").stdout.strip()

    def mark(self, word):
        """Tell git the commit under test is ``good``, ``bad`` or to ``skip``."""
        res = self._git("bisect", word, check=False)
        if res.rc not in (0, 2):  # 2: only skipped commits are left
            raise CommandError(res)

    @property
    def log(self):
        return self._git("bisect", "log", check=False).stdout

    @property
    def first_bad(self):
        found = FIRST_BAD.search(self.log)
        return found[1] if found else None

    @property
    def possible(self):
        """The commits the first bad one could be, where only skipped commits were left to test."""
        return POSSIBLE.findall(self.log)

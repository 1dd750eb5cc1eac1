"""Read a patch series and say whether it can be trusted.

``read_series`` takes a directory of ``git format-patch`` files (with an optional ``series.yaml``), an mbox such as
``b4 am`` writes, a single patch or plain diff, or a mail as a web archive rendered it, and returns a frozen
``Series``: the patches with their subject tags, hunks and diffstat, and integrity ``Finding``s (members missing or
duplicated, versions mixed, hunk bodies that disagree with their headers, lines wrapped by a mail client, CRLF
endings, undecoded quoted-printable, addresses hidden by an archive).  Only input that cannot be read or holds
nothing patch-like raises ``SeriesError``; every other defect is a finding, so even a mangled series can be shown.
This module makes the ``Patch`` and ``Series`` records of what harness/intake/mail.py read, harness/intake/diff.py
parsed and harness/intake/findings.py found.
"""

import dataclasses
import re
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.errors import SeriesError
from harness.intake.diff import Hunk, diffstat, parse_diff
from harness.intake.findings import Finding, change_findings, series_findings, text_findings
from harness.intake.mail import INPUT_HINT, Mail, read_mails

TAG_RE = re.compile(r"\s*\[([^\]]*)\]\s*")
BASE_RE = re.compile(r"^base-commit: ([0-9a-f]{7,40})\s*$", re.M)
PREREQUISITE_RE = re.compile(r"^prerequisite-((?:patch|change|message)-id): (\S+)\s*$", re.M)  # as b4 writes them


@dataclass(frozen=True)
class Patch:
    """One member of a series (or its cover letter, index 0)."""

    path: Path
    index: int | None
    total: int | None
    version: int | None
    prefixes: tuple[str, ...]
    subject: str
    author: str
    date: str
    message_id: str | None
    base_commit: str | None
    files: tuple[str, ...]
    diffstat: tuple[tuple[str, int, int], ...]
    hunks: tuple[Hunk, ...]
    diff: str
    label: str
    findings: tuple[Finding, ...] = ()  # this patch's own findings (also in Series.findings)
    prerequisites: tuple[str, ...] = ()  # what its b4 trailers say it needs first: 'patch-id 1a2b…', 'change-id …'
    mail: str = ""  # the message as stored: what checkpatch reads


@dataclass(frozen=True)
class Series:
    """A series as read: its members in order, the cover letter, every finding, and ``series.yaml`` metadata."""

    source: Path
    version: int | None
    expected: int | None
    patches: tuple[Patch, ...]
    cover: Patch | None
    findings: tuple[Finding, ...]
    meta: dict

    @property
    def usable(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def files(self) -> tuple[str, ...]:
        """Every file its patches change, once, in order."""
        return tuple(dict.fromkeys(f for p in self.patches for f in p.files))

    @property
    def prerequisites(self) -> tuple[str, ...]:
        """The prerequisites its mails name (b4's ``prerequisite-patch-id:`` and ``prerequisite-change-id:``)."""
        return tuple(dict.fromkeys(r for p in ([self.cover] if self.cover else []) + list(self.patches)
                                   for r in p.prerequisites))

    def prefix(self, count):
        """The series of its first ``count`` patches (a step of its staircase), cover letter and metadata kept."""
        return dataclasses.replace(self, patches=self.patches[:count])

    def missing(self) -> tuple[int, ...]:
        present = {p.index for p in self.patches}
        return tuple(n for n in range(1, (self.expected or 0) + 1) if n not in present)


def read_series(path) -> Series:
    """Read a series from a directory, an mbox, a patch file or a web-archive rendered mail."""
    path = Path(path)
    meta = _read_meta(path)
    mails, notes = read_mails(path)
    return _assemble(path, [_patch(m) for m in mails], meta, notes)


def count(path) -> int:
    """How many patches the series at ``path`` has (a variant's ``per_patch`` makes a prefix of each)."""
    return len(read_series(path).patches)


def _read_meta(source: Path) -> dict:
    """The mapping in the optional ``series.yaml`` inside a series directory or beside a series file."""
    path = (source if source.is_dir() else source.parent) / "series.yaml"
    if not (source.is_dir() or source.is_file()) or not path.is_file():
        return {}
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SeriesError(f"{path}: cannot read: {exc}".replace("\n", " "), hint="fix or remove series.yaml") from exc
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise SeriesError(f"{path}: must be a mapping (base, subject, notes)", hint="fix or remove series.yaml")
    return meta


def _parse_subject(subject: str):
    """'[Qemu-devel] [PATCH v7 kernel 1/5] x' -> ('x', 1, 5, 7, ('kernel',)); list tags are dropped."""
    tags = []
    while m := TAG_RE.match(subject):
        tags.append(m[1].split())
        subject = subject[m.end():]
    index = total = version = None
    prefixes = []
    for words in tags:
        if not any(w.upper() in ("PATCH", "RFC") for w in words):
            continue
        for word in words:
            if m := re.fullmatch(r"(\d+)/(\d+)", word):
                index, total = int(m[1]), int(m[2])
            elif m := re.fullmatch(r"[vV](\d+)", word):
                version = int(m[1])
            elif word.upper() != "PATCH":
                prefixes.append(word)
    return subject.strip(), index, total, version, tuple(prefixes)


def _patch(mail: Mail) -> Patch:
    subject, index, total, version, prefixes = _parse_subject(mail.subject)
    subject = subject or mail.path.stem
    short = textwrap.shorten(subject, 40, placeholder="...")
    label = f"{index}/{total} {short}" if index is not None and total else short if mail.subject else mail.path.name
    lines = mail.body.split("\n")
    files, hunks, diff, findings = parse_diff(lines, mail.body_line, lambda n: f"{mail.path}:{n} {label}")
    if not mail.subject and not files:
        raise SeriesError(f"{mail.path}: nothing patch-like in it: no Subject: line and no diff", hint=INPUT_HINT)
    first = next((line for line in lines if line.strip()), "")
    author = first[6:].strip() if first.startswith("From: ") else mail.author
    base = BASE_RE.search(mail.body)
    return Patch(mail.path, index, total, version, prefixes, subject, author, mail.date, mail.message_id,
                 base and base[1], tuple(files), diffstat(files, hunks), tuple(hunks), diff, label,
                 tuple(findings + text_findings(mail, label) + change_findings(files, label,
                                                                               f"{mail.path} {label}")),
                 tuple(f"{m[1]} {m[2]}" for m in PREREQUISITE_RE.finditer(mail.body)), "\n".join(mail.raw))


def _assemble(source: Path, patches: list[Patch], meta: dict, notes: list[Finding]) -> Series:
    cover = next((p for p in patches if p.index == 0), None)
    members = sorted((p for p in patches if p.index != 0), key=lambda p: (p.index is None, p.index or 0))
    expected = max((p.total for p in patches if p.total), default=None)
    version = Counter(p.version for p in members or [cover]).most_common(1)[0][0]
    findings = notes + series_findings(source, patches, members, expected, cover)
    findings += [f for p in ([cover] if cover else []) + members for f in p.findings]
    return Series(source, version, expected, tuple(members), cover, tuple(findings), meta)

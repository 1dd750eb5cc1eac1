"""Read a patch series and say whether it can be trusted.

``read_series`` takes a directory of ``git format-patch`` files (with an optional ``series.yaml``), an mbox such as
``b4 am`` writes, a single patch or plain diff, or a mail as a web archive rendered it, and returns a frozen
``Series``: the patches with their subject tags, hunks and diffstat, and integrity ``Finding``s (members missing or
duplicated, versions mixed, hunk bodies that disagree with their headers, lines wrapped by a mail client, CRLF
endings, undecoded quoted-printable, addresses hidden by an archive).  Only input that cannot be read or holds
nothing patch-like raises ``SeriesError``; every other defect is a finding, so even a mangled series can be shown.
"""

import email
import mailbox
import re
import shutil
import subprocess
import textwrap
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email import policy
from functools import partial
from pathlib import Path

import yaml

from harness import command
from harness.errors import SeriesError

MBOX_SUFFIXES = (".mbox", ".mbx")
PATCH_SUFFIXES = (".patch", ".diff", ".eml", ".txt")
HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
HEADER_RE = re.compile(r"^[A-Za-z][\w-]*: ")
TAG_RE = re.compile(r"\s*\[([^\]]*)\]\s*")
HIDDEN_RE = re.compile(r"address@hidden|\[email\s*protected\]|[\w.+-]+@\.\.\.")
QP_RE = re.compile(r"=3D|=(?:20|09)$")
BASE_RE = re.compile(r"^base-commit: ([0-9a-f]{7,40})\s*$", re.M)
INPUT_HINT = "pass a directory of .patch files, an .mbox/.mbx (e.g. from `b4 am`), or a single .patch/.diff"


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` hunk: its header's numbers and what its body really holds."""

    file: str
    header: str
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    line: int
    old_count: int
    new_count: int
    body: tuple[str, ...] = field(default=(), repr=False)  # the counted body lines, prefixes kept


@dataclass(frozen=True)
class Finding:
    """A defect of the input: ``severity`` 'error' (series unusable) or 'warning', a stable ``code``, where, what."""

    severity: str
    code: str
    where: str
    message: str


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

    def missing(self) -> tuple[int, ...]:
        present = {p.index for p in self.patches}
        return tuple(n for n in range(1, (self.expected or 0) + 1) if n not in present)


@dataclass(frozen=True)
class _Mail:
    """One message as stored in a file: its raw lines, where they are, headers and decoded body."""

    path: Path
    raw: tuple[str, ...]
    raw_line: int  # 1-based file line of raw[0]
    body_line: int  # 1-based file line of the body's first line
    subject: str
    author: str
    date: str
    message_id: str | None
    body: str


def read_series(path) -> Series:
    """Read a series from a directory, an mbox, a patch file or a web-archive rendered mail."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in MBOX_SUFFIXES + PATCH_SUFFIXES)
        meta = _read_meta(path / "series.yaml")
    elif path.is_file():
        files, meta = [path], _read_meta(path.parent / "series.yaml")
    else:
        raise SeriesError(f"{path}: no such file or directory", hint=INPUT_HINT)
    if not files:
        raise SeriesError(f"{path}: holds no *.patch, *.diff, *.eml, *.txt, *.mbox or *.mbx file", hint=INPUT_HINT)
    mails = [m for f in files for m in _read_file(f) if not re.match(r"(?i)re:", m.subject)]
    if not mails:
        raise SeriesError(f"{path}: holds only replies, no patches", hint=INPUT_HINT)
    return _assemble(path, [_patch(m) for m in mails], meta)


def fetch_message_id(msgid: str, dest: Path) -> Path:
    """Fetch the series of ``msgid`` with ``b4 am`` into ``dest`` and return the ``.mbx`` it wrote."""
    hint = f"run `b4 am {msgid}` on a machine with network access and pass the .mbx"
    b4 = shutil.which("b4")
    if not b4:
        raise SeriesError(f"cannot fetch {msgid}: the b4 tool is not installed", hint=hint)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        result = command.run([b4, "am", "-o", dest, msgid], check=False, timeout=300)
    except subprocess.TimeoutExpired as exc:
        raise SeriesError(f"b4 did not fetch {msgid} within 300 s", hint=hint) from exc
    mbx = sorted(dest.glob("*.mbx"), key=lambda p: p.stat().st_mtime)
    if result.rc != 0 or not mbx:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no .mbx written"]
        raise SeriesError(f"b4 could not fetch {msgid}: {tail[0]}", hint=hint)
    return mbx[-1]


def _read_meta(path: Path) -> dict:
    """The mapping in an optional ``series.yaml``."""
    if not path.is_file():
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


def _read_file(path: Path) -> list[_Mail]:
    """The messages in one file: an mbox (format-patch files are one-message mboxes), a mail, or plain text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SeriesError(f"{path}: cannot read: {exc.strerror}", hint=INPUT_HINT) from exc
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[0].startswith("From "):
        return _mbox_mails(path, lines)
    if HEADER_RE.match(lines[0]):
        return [_mail(path, lines, 0, email.message_from_bytes(data, policy=policy.default))]
    return [_rendered_mail(path, lines)]


def _mbox_mails(path: Path, lines: list[str]) -> list[_Mail]:
    """Parse with ``mailbox``; message n starts at the n-th 'From ' line, the same rule the module uses."""
    box = mailbox.mbox(path, factory=partial(email.message_from_binary_file, policy=policy.default), create=False)
    try:
        messages = list(box)
    finally:
        box.close()
    starts = [i for i, line in enumerate(lines) if line.startswith("From ")]
    ends = starts[1:] + [len(lines)]
    return [_mail(path, lines[s:e], s, msg) for s, e, msg in zip(starts, ends, messages)]


def _mail(path: Path, raw: list[str], start: int, msg) -> _Mail:
    head = next((i for i, line in enumerate(raw) if not line.strip("\r")), len(raw))
    msgid = str(msg["message-id"] or "").strip().strip("<>") or None
    return _Mail(path, tuple(raw), start + 1, start + head + 2, str(msg["subject"] or ""), str(msg["from"] or ""),
                 str(msg["date"] or ""), msgid, _body_text(msg).replace("\r\n", "\n"))


def _body_text(msg) -> str:
    """The decoded text part holding the diff (or the first text part)."""
    parts = [p for p in msg.walk() if not p.is_multipart() and p.get_content_maintype() == "text"] or [msg]
    texts = [_decode(p) for p in parts]
    return next((t for t in texts if _diff_start(t.split("\n")) is not None), texts[0])


def _decode(part) -> str:
    data = part.get_payload(decode=True) or b""
    try:
        return data.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _rendered_mail(path: Path, lines: list[str]) -> _Mail:
    """A mail as a web archive shows it: a block of 'From:', 'Subject:', 'Date:' lines somewhere in the text."""
    top = end = next((i for i, line in enumerate(lines) if line.startswith("Subject: ")), -1)
    while top > 0 and HEADER_RE.match(lines[top - 1]):
        top -= 1
    while end >= 0 and end + 1 < len(lines) and HEADER_RE.match(lines[end + 1]):
        end += 1
    pairs = (line.rstrip("\r").split(": ", 1) for line in lines[top:end + 1])
    headers = {key.lower(): value.strip() for key, value in pairs}
    body = "\n".join(lines[end + 1:]).replace("\r\n", "\n")
    return _Mail(path, tuple(lines), 1, end + 2, headers.get("subject", ""), headers.get("from", ""),
                 headers.get("date", ""), headers.get("message-id", "").strip("<>") or None, body)


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


def _patch(mail: _Mail) -> Patch:
    subject, index, total, version, prefixes = _parse_subject(mail.subject)
    subject = subject or mail.path.stem
    short = textwrap.shorten(subject, 40, placeholder="...")
    label = f"{index}/{total} {short}" if index is not None and total else short if mail.subject else mail.path.name
    lines = mail.body.split("\n")
    files, hunks, diff, findings = _parse_diff(lines, mail.body_line, lambda n: f"{mail.path}:{n} {label}")
    if not mail.subject and not files:
        raise SeriesError(f"{mail.path}: nothing patch-like in it: no Subject: line and no diff", hint=INPUT_HINT)
    first = next((line for line in lines if line.strip()), "")
    author = first[6:].strip() if first.startswith("From: ") else mail.author
    base = BASE_RE.search(mail.body)
    return Patch(mail.path, index, total, version, prefixes, subject, author, mail.date, mail.message_id,
                 base and base[1], tuple(files), _diffstat(files, hunks), tuple(hunks), diff, label,
                 tuple(findings + _text_findings(mail, label)))


def _diffstat(files: list[str], hunks: list[Hunk]) -> tuple[tuple[str, int, int], ...]:
    """(file, lines added, lines removed) for each file, counted from the hunk bodies."""
    def count(file, sign):
        return sum(line.startswith(sign) for h in hunks if h.file == file for line in h.body)
    return tuple((f, count(f, "+"), count(f, "-")) for f in files)


def _diff_start(lines: list[str]) -> int | None:
    return next((i for i, line in enumerate(lines) if line.startswith("diff --git ")
                 or (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "))), None)


def _parse_diff(lines: list[str], first: int, where):
    """Files, hunks, the diff text and findings of a body whose lines[0] is file line ``first``; ``where(line)``."""
    files, hunks, findings = [], [], []
    start = _diff_start(lines)
    i = end = begin = len(lines) if start is None else start
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            files.append(_file_name(line[4:], lines[i + 1][4:]))
            i = end = i + 2
        elif files and (m := HUNK_RE.match(line)):
            hunk, i, found = _read_hunk(lines, i, m, files[-1], first, where)
            hunks.append(hunk)
            findings += found
            end = i
        else:
            i += 1
    diff = "\n".join(lines[begin:end]) + "\n" if files else ""
    qp = next((n for n in range(begin, end) if QP_RE.search(lines[n])), None)
    if qp is not None:
        findings.append(Finding("error", "undecoded-qp", where(first + qp),
                                f"{lines[qp]!r} holds quoted-printable escapes (=3D is '=', =20 a space): the mail "
                                "was saved without decoding; save the original message or fetch it with b4"))
    return files, hunks, diff, findings


def _file_name(old: str, new: str) -> str:
    """The tree path of a '--- a/x' / '+++ b/x' pair, without its first component (-p1)."""
    old, new = (name.split("\t")[0].strip() for name in (old, new))
    name = new if new != "/dev/null" else old
    return name.split("/", 1)[1] if "/" in name else name


def _read_hunk(lines: list[str], i: int, m, file: str, first: int, where):
    """Read the hunk whose header is lines[i]; return (Hunk, index after it, findings)."""
    header = lines[i].rstrip()
    old_start, new_start = int(m[1]), int(m[3])
    old_len, new_len = (1 if n is None else int(n) for n in (m[2], m[4]))
    at = where(first + i) + f" {header}"
    body, findings, old, new = [], [], 0, 0
    j = i + 1
    while j < len(lines) and (old < old_len or new < new_len):
        kind = _line_kind(lines[j], lines[j - 1], lines[j + 1] if j + 1 < len(lines) else None)
        if kind == "end":
            break
        if kind == "wrapped":
            findings.append(_wrapped(lines[j], lines[j - 1], where(first + j) + f" {header}"))
        else:
            body.append(lines[j] or " ")
            old += kind in " -"
            new += kind in " +"
        j += 1
    if (old, new) != (old_len, new_len):
        numbers = header.split("@@")[1].strip()
        findings.insert(0, Finding("error", "hunk-mismatch", at,
                                f"hunk header says {numbers} but the body has {old} old / {new} new lines: lines were "
                                "lost, the signature of a web-archive rendering or a mail client that ate lines"))
    return Hunk(file, header, old_start, old_len, new_start, new_len, first + i, old, new, tuple(body)), j, findings


def _line_kind(line: str, prev: str, nxt: str | None) -> str:
    """' ', '+', '-', '\\' for a body line; 'wrapped' for a continuation of the previous line; 'end' otherwise."""
    if line.startswith(("@@", "diff ")) or line == "-- " or (line.startswith("--- ") and str(nxt).startswith("+++ ")):
        return "end"
    if line[:1] in (" ", "+", "-", "\\"):
        return line[0]
    next_is_diff = nxt is not None and (nxt[:1] in (" ", "+", "-", "\\") or nxt.startswith(("@@", "diff ")))
    if not line:  # a blank context line whose space a mail client stripped, unless the diff ends here
        return " " if next_is_diff or nxt == "" else "end"
    return "wrapped" if prev.endswith((" ", "=")) or next_is_diff else "end"


def _wrapped(line: str, prev: str, where: str) -> Finding:
    if prev.endswith("="):
        return Finding("error", "undecoded-qp", where,
                       f"the line before {line!r} ends with '=', a quoted-printable soft line break: the mail was "
                       "saved without decoding; save the original message or fetch it with b4")
    return Finding("error", "wrapped-line", where,
                   f"{line!r} starts with none of ' ', '+', '-', '\\': it is the tail of the line before, wrapped "
                   "by a mail client or archive, so the hunk is corrupt")


def _text_findings(mail: _Mail, label: str) -> list[Finding]:
    """Findings about the stored text: CRLF endings, addresses an archive hid."""
    findings = []
    crlf = [n for n, line in enumerate(mail.raw) if line.endswith("\r")]
    if crlf:
        findings.append(Finding("warning", "crlf", f"{mail.path}:{mail.raw_line + crlf[0]} {label}",
                                f"{len(crlf)} lines end in CRLF (a Windows mail client or a web download); "
                                "they were converted to LF for applying"))
    hidden = [n for n, line in enumerate(mail.raw) if HIDDEN_RE.search(line)]
    if hidden:
        findings.append(Finding("warning", "obfuscated-address", f"{mail.path}:{mail.raw_line + hidden[0]} {label}",
                                f"{len(hidden)} lines have e-mail addresses hidden by a web archive "
                                f"(e.g. {HIDDEN_RE.search(mail.raw[hidden[0]])[0]!r}): author and trailers are not "
                                "the real ones; fetch the original mail (b4 am MSGID)"))
    return findings


def _assemble(source: Path, patches: list[Patch], meta: dict) -> Series:
    cover = next((p for p in patches if p.index == 0), None)
    members = sorted((p for p in patches if p.index != 0), key=lambda p: (p.index is None, p.index or 0))
    expected = max((p.total for p in patches if p.total), default=None)
    version = Counter(p.version for p in members or [cover]).most_common(1)[0][0]
    findings = _series_findings(source, patches, members, expected, cover)
    findings += [f for p in ([cover] if cover else []) + members for f in p.findings]
    return Series(source, version, expected, tuple(members), cover, tuple(findings), meta)


def _series_findings(source, patches, members, expected, cover) -> list[Finding]:
    """Findings about the series as a whole: missing, duplicate or empty members, mixed versions."""
    findings = []
    if not members:
        findings.append(Finding("error", "no-patches", str(source),
                                "only a cover letter, no patches" if cover else "no patches"))
    by_index = defaultdict(list)
    for p in members:
        by_index[p.index].append(p)
        if not p.files:
            findings.append(Finding("error", "no-diff", f"{p.path} {p.label}",
                                    "the mail holds no diff: it is not a patch, or its diff was lost"))
    for index, copies in by_index.items():
        if index is not None and len(copies) > 1:
            findings.append(Finding("error", "duplicate-member", f"{copies[1].path} {copies[1].label}",
                                    f"patch {index}/{copies[0].total} appears {len(copies)} times "
                                    f"({', '.join(c.path.name for c in copies)}): keep one copy of each member"))
    versions = defaultdict(list)
    for p in patches:
        versions[p.version or 1].append(f"{p.index}/{p.total}" if p.index is not None else p.path.name)
    if len(versions) > 1:
        which = "; ".join(f"v{v}: {', '.join(labels)}" for v, labels in sorted(versions.items()))
        findings.append(Finding("error", "mixed-versions", str(source),
                                f"patches of different versions ({which}): keep each version in its own directory"))
    present = {p.index for p in members}
    missing = [n for n in range(1, (expected or 0) + 1) if n not in present]
    if missing:
        findings.append(Finding("error", "missing-members", str(source),
                                f"{expected - len(missing)} of {expected} present; missing "
                                f"{', '.join(map(str, missing))}: the input holds only part of the series; fetch the "
                                "whole thread (b4 am MSGID)"))
    return findings

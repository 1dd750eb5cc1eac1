"""Read the messages of a series input: a directory of patch files, an mbox such as ``b4 am`` writes, a single
patch or plain diff, or a mail as a web archive rendered it, each as a ``Mail`` with its raw lines, where they are,
its headers and its body decoded from MIME and quoted-printable.  Replies are left out.  A directory as ``b4 am -o``
leaves it is read as one series: the ``.cover`` beside the ``.mbx`` is its cover letter, and numbered patch files
beside an mbox of the same patches are a second copy, left unread with a warning.
"""

import email
import mailbox
import re
from dataclasses import dataclass
from email import policy
from functools import partial
from pathlib import Path

from harness.errors import SeriesError
from harness.intake.diff import diff_start
from harness.intake.findings import Finding

MBOX_SUFFIXES = (".mbox", ".mbx")
PATCH_SUFFIXES = (".patch", ".diff", ".eml", ".txt")
COVER_SUFFIXES = (".cover",)  # b4 am -o writes the cover letter beside the .mbx
HEADER_RE = re.compile(r"^[A-Za-z][\w-]*: ")
INPUT_HINT = "pass a directory of .patch files, an .mbox/.mbx (e.g. from `b4 am`), or a single .patch/.diff"


@dataclass(frozen=True)
class Mail:
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


def read_mails(path: Path) -> tuple[list[Mail], list[Finding]]:
    """The messages, replies left out, of a directory's patch, mbox and cover files, or of one file; and a warning
    for each second copy of the series left unread."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in MBOX_SUFFIXES + PATCH_SUFFIXES
                       + COVER_SUFFIXES)
    elif path.is_file():
        files = [path]
    else:
        raise SeriesError(f"{path}: no such file or directory", hint=INPUT_HINT)
    if not files:
        raise SeriesError(f"{path}: holds no *.patch, *.diff, *.eml, *.txt, *.mbox or *.mbx file", hint=INPUT_HINT)
    by_file = {f: [m for m in _read_file(f) if not re.match(r"(?i)re:", m.subject)] for f in files}
    unread = _second_copy(by_file)
    mails = [m for f, ms in by_file.items() if f not in unread for m in ms]
    if not mails:
        raise SeriesError(f"{path}: holds only replies, no patches", hint=INPUT_HINT)
    kept = [f.name for f in by_file if f.suffix.lower() in MBOX_SUFFIXES]
    return mails, [Finding("warning", "second-copy", str(path), f"the patches of {', '.join(kept)} are also in "
                           f"{len(unread)} patch file(s) ({', '.join(f.name for f in unread)}): read {', '.join(kept)} "
                           "only")] if unread else []


def _second_copy(by_file: dict) -> list[Path]:
    """The loose patch files whose members are exactly those of the directory's mboxes (as ``b4 am -o`` beside
    ``git format-patch`` output leaves them), else none."""
    def members(files):
        return sorted(m.subject for f in files for m in by_file[f] if not re.search(r"\b0+/\d+\]", m.subject))
    boxes = [f for f in by_file if f.suffix.lower() in MBOX_SUFFIXES]
    loose = [f for f in by_file if f.suffix.lower() in PATCH_SUFFIXES]
    return loose if boxes and loose and members(boxes) == members(loose) else []


def _read_file(path: Path) -> list[Mail]:
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


def _mbox_mails(path: Path, lines: list[str]) -> list[Mail]:
    """Parse with ``mailbox``; message n starts at the n-th 'From ' line, the same rule the module uses."""
    box = mailbox.mbox(path, factory=partial(email.message_from_binary_file, policy=policy.default), create=False)
    try:
        messages = list(box)
    finally:
        box.close()
    starts = [i for i, line in enumerate(lines) if line.startswith("From ")]
    ends = starts[1:] + [len(lines)]
    return [_mail(path, lines[s:e], s, msg) for s, e, msg in zip(starts, ends, messages)]


def _mail(path: Path, raw: list[str], start: int, msg) -> Mail:
    head = next((i for i, line in enumerate(raw) if not line.strip("\r")), len(raw))
    msgid = str(msg["message-id"] or "").strip().strip("<>") or None
    return Mail(path, tuple(raw), start + 1, start + head + 2, str(msg["subject"] or ""), str(msg["from"] or ""),
                str(msg["date"] or ""), msgid, _body_text(msg).replace("\r\n", "\n"))


def _body_text(msg) -> str:
    """The decoded text part holding the diff (or the first text part)."""
    parts = [p for p in msg.walk() if not p.is_multipart() and p.get_content_maintype() == "text"] or [msg]
    texts = [_decode(p) for p in parts]
    return next((t for t in texts if diff_start(t.split("\n")) is not None), texts[0])


def _decode(part) -> str:
    data = part.get_payload(decode=True) or b""
    try:
        return data.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _rendered_mail(path: Path, lines: list[str]) -> Mail:
    """A mail as a web archive shows it: a block of 'From:', 'Subject:', 'Date:' lines somewhere in the text."""
    top = end = next((i for i, line in enumerate(lines) if line.startswith("Subject: ")), -1)
    while top > 0 and HEADER_RE.match(lines[top - 1]):
        top -= 1
    while end >= 0 and end + 1 < len(lines) and HEADER_RE.match(lines[end + 1]):
        end += 1
    pairs = (line.rstrip("\r").split(": ", 1) for line in lines[top:end + 1])
    headers = {key.lower(): value.strip() for key, value in pairs}
    body = "\n".join(lines[end + 1:]).replace("\r\n", "\n")
    return Mail(path, tuple(lines), 1, end + 2, headers.get("subject", ""), headers.get("from", ""),
                headers.get("date", ""), headers.get("message-id", "").strip("<>") or None, body)

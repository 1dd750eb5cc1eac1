"""Integrity findings: each defect of a series input as a ``Finding`` with a severity, a stable code and a message.

The diff parser asks here for what it sees in a hunk (a header that disagrees with its body, a wrapped line,
quoted-printable left undecoded); the series reader for what it sees in a mail's stored text (CRLF endings,
addresses an archive hid), in what a patch changes (what runs while the tree builds; a path outside the tree) and
in the series as a whole (members missing, duplicated or without a diff, versions mixed).  Every code and message
of the intake layer is written here and nowhere else.
"""

import re
from collections import defaultdict
from dataclasses import dataclass

HIDDEN_RE = re.compile(r"address@hidden|\[email\s*protected\]|[\w.+-]+@\.\.\.")
QP_RE = re.compile(r"=3D|=(?:20|09)$")
BUILD_TIME_RE = re.compile(r"(^|/)(Makefile[^/]*|Kbuild[^/]*|Kconfig[^/]*|[^/]+\.mk|meson\.build|meson_options\.txt"
                           r"|configure)$|^(scripts|tools)/")  # what the kernel's or QEMU's build runs or reads


@dataclass(frozen=True)
class Finding:
    """A defect of the input: ``severity`` 'error' (series unusable) or 'warning', a stable ``code``, where, what."""

    severity: str
    code: str
    where: str
    message: str


def hunk_mismatch(where: str, header: str, old: int, new: int) -> Finding:
    """The hunk ``header`` promises other line counts than the ``old`` and ``new`` its body has."""
    numbers = header.split("@@")[1].strip()
    return Finding("error", "hunk-mismatch", where,
                   f"hunk header says {numbers} but the body has {old} old / {new} new lines: lines were "
                   "lost, the signature of a web-archive rendering or a mail client that ate lines")


def wrapped_line(line: str, prev: str, where: str) -> Finding:
    """``line`` in a hunk body is the tail of ``prev``: a soft line break left by quoted-printable, or a wrap."""
    if prev.endswith("="):
        return Finding("error", "undecoded-qp", where,
                       f"the line before {line!r} ends with '=', a quoted-printable soft line break: the mail was "
                       "saved without decoding; save the original message or fetch it with b4")
    return Finding("error", "wrapped-line", where,
                   f"{line!r} starts with none of ' ', '+', '-', '\\': it is the tail of the line before, wrapped "
                   "by a mail client or archive, so the hunk is corrupt")


def undecoded_qp(lines: list[str], span: range, where) -> list[Finding]:
    """An error at the first of ``lines[n]``, n in ``span``, holding quoted-printable escapes; ``where(n)``."""
    n = next((n for n in span if QP_RE.search(lines[n])), None)
    if n is None:
        return []
    return [Finding("error", "undecoded-qp", where(n),
                    f"{lines[n]!r} holds quoted-printable escapes (=3D is '=', =20 a space): the mail "
                    "was saved without decoding; save the original message or fetch it with b4")]


def text_findings(mail, label: str) -> list[Finding]:
    """Findings about a ``Mail``'s stored text: CRLF endings, addresses an archive hid."""
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


def change_findings(files, label: str, where: str) -> list[Finding]:
    """What a patch's changed ``files`` mean before anything is built: a path that leaves the tree (refused, named
    as that), and each file the build runs or reads to decide what to run (Makefiles, Kbuild, Kconfig, scripts/,
    tools/, QEMU's meson files)."""
    out = []
    for name in files:
        if name.startswith("/") or ".." in name.split("/"):
            out.append(Finding("error", "outside-tree", where, f"{label} names {name}, a path outside the tree"))
        elif BUILD_TIME_RE.search(name):
            out.append(Finding("warning", "runs-at-build", where, f"{label} changes {name}: runs at build time"))
    return out


def series_findings(source, patches, members, expected, cover) -> list[Finding]:
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

"""Parse the diff in a mail's body: the files it touches, its ``Hunk``s as their headers say and as their bodies
really are, the diff text, and the diffstat counted from the bodies.

The parser reads what a mail client or web archive left of a diff: a blank context line whose space was stripped
still counts, a line that is the tail of the one before is skipped and reported (harness/intake/findings.py), and
a hunk whose body falls short of its header is kept with the counts it has.
"""

import re
from dataclasses import dataclass, field

from harness.intake.findings import hunk_mismatch, undecoded_qp, wrapped_line

HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


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


def diff_start(lines: list[str]) -> int | None:
    """The index of the first line of a diff in ``lines`` ('diff --git' or a '---'/'+++' pair), or None."""
    return next((i for i, line in enumerate(lines) if line.startswith("diff --git ")
                 or (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "))), None)


def parse_diff(lines: list[str], first: int, where):
    """Files, hunks, the diff text and findings of a body whose lines[0] is file line ``first``; ``where(line)``."""
    files, hunks, findings = [], [], []
    start = diff_start(lines)
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
    findings += undecoded_qp(lines, range(begin, end), lambda n: where(first + n))
    return files, hunks, diff, findings


def diffstat(files: list[str], hunks: list[Hunk]) -> tuple[tuple[str, int, int], ...]:
    """(file, lines added, lines removed) for each file, counted from the hunk bodies."""
    def count(file, sign):
        return sum(line.startswith(sign) for h in hunks if h.file == file for line in h.body)
    return tuple((f, count(f, "+"), count(f, "-")) for f in files)


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
    body, findings, old, new = [], [], 0, 0
    j = i + 1
    while j < len(lines) and (old < old_len or new < new_len):
        kind = _line_kind(lines[j], lines[j - 1], lines[j + 1] if j + 1 < len(lines) else None)
        if kind == "end":
            break
        if kind == "wrapped":
            findings.append(wrapped_line(lines[j], lines[j - 1], where(first + j) + f" {header}"))
        else:
            body.append(lines[j] or " ")
            old += kind in " -"
            new += kind in " +"
        j += 1
    if (old, new) != (old_len, new_len):
        findings.insert(0, hunk_mismatch(where(first + i) + f" {header}", header, old, new))
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

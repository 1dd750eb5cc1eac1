"""The words of a kernel's static checks, from the two records results.json keeps of every built kernel with a
series (``variants[].kernel``): ``checkpatch`` (harness/intake/checkpatch.py: per patch, errors, warnings and checks
and the first lines) and ``warnings`` (harness/build/warnings.py: the compiler warnings the series adds to the
base's, per level, and those it removes).  Either is None or absent for the base and for kernels built before
they were kept: nothing is said of them then, never "clean".

The console's facts line, the HTML report's "Static checks" and the nightly's b4 and KCIDB records all say them
with these words and statuses.
"""

import re

KINDS = (("errors", "error"), ("warnings", "warning"), ("checks", "check"))


def plural(count, noun):
    return f"{count} {noun}{'s' * (count != 1)}"


def checkpatch_text(rec) -> str:
    """'checkpatch: clean' or 'checkpatch: 1 error in 1/2; 2 warnings in 2/2' (``--strict`` named where it ran)."""
    parts = []
    for kind, noun in KINDS:
        if rec[kind]:
            where = [number(p["patch"]) for p in rec["patches"] if p[kind]]
            parts.append(f"{plural(rec[kind], noun)} in {', '.join(where)}")
    return "checkpatch" + (" --strict" if rec["strict"] else "") + ": " + ("; ".join(parts) or "clean")


def warnings_text(rec) -> str:
    """'no new warnings (default, W=1)' (and '; N removed'), or 'N new warnings (default, W=1): file:line: message
    (patch); ...'; 'warnings not compared' without a record."""
    if rec is None:
        return "warnings not compared"
    levels = ", ".join(rec["levels"])
    if not rec["new"]:
        return f"no new warnings ({levels})" + (f"; {len(rec['removed'])} removed" if rec["removed"] else "")
    return (f"{plural(len(rec['new']), 'new warning')} ({levels}): "
            + "; ".join(where(w) + (f" ({w['patch']})" if w.get("patch") else "") for w in rec["new"]))


def where(w) -> str:
    """'file:line: message' of a new warning (a removed one has no line: 'file: message')."""
    return f"{w['file']}:{w['line']}: {w['message']}" if w.get("line") is not None else f"{w['file']}: {w['message']}"


def number(label) -> str:
    """'2/3' of a numbered patch's label, else 'the patch' (a series of one)."""
    head = label.split(" ", 1)[0]
    return head if re.fullmatch(r"\d+/\d+", head) else "the patch"


def checkpatch_status(rec) -> str:
    """b4's words for a checkpatch record: 'fail' with an error, 'warn' with a warning or (asked for with
    ``--strict``) a check, else 'pass'."""
    return "fail" if rec["errors"] else "warn" if rec["warnings"] or rec["checks"] else "pass"


def warnings_status(rec) -> str:
    """b4's words for a warnings record: 'fail' with a new warning, else 'pass' (a removed one is no fault)."""
    return "fail" if rec["new"] else "pass"


def said(kernel) -> list[str]:
    """The sentences of the static checks a kernel's record kept: its warnings', then its checkpatch's."""
    return [text(kernel[name]) for name, text in (("warnings", warnings_text), ("checkpatch", checkpatch_text))
            if kernel.get(name) is not None]


def facts_text(kernel) -> str:
    """'; <warnings>; <checkpatch>' for a kernel whose record has them, else ''."""
    return "".join(f"; {sentence}" for sentence in said(kernel))

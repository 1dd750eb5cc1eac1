"""`balloon-harness series`: check a series (integrity, and how it applies to a base) or range-diff two versions.

A series is a directory of patches, an mbox or a patch file, or a message-id (``<id@host>`` or ``id@host``) that
b4 fetches into the cache (harness/intake/fetch.py), with a clear error where the network does not allow it.
"""

from collections import Counter
from dataclasses import replace
from pathlib import Path

from tabulate import tabulate

from harness import cache
from harness.build import kernel
from harness.config import loader, specs
from harness.intake import checkpatch, origin, tree
from harness.intake.apply import Outcome, check_series, range_diff
from harness.intake.fetch import fetched, source
from harness.intake.series import count, read_series
from harness.judge import static

FAILED = ("conflict", "already-applied")
ERROR_NOUNS = {"hunk-mismatch": "malformed hunk", "wrapped-line": "wrapped line", "undecoded-qp": "undecoded QP line",
               "duplicate-member": "duplicate member", "no-diff": "patch without a diff"}


def add_parser(subparsers):
    """Register `series check` and `series diff`; each sets ``func`` to the function that runs it."""
    parser = subparsers.add_parser("series", help="check a patch series, or diff two versions of it")
    actions = parser.add_subparsers(dest="series_action", metavar="ACTION", required=True)
    check_p = actions.add_parser("check", help="integrity findings and, with --base, how each patch applies")
    check_p.add_argument("path", type=source, help="a directory of .patch files, an .mbox/.mbx, a .patch/.diff, or "
                         "a message-id (fetched with b4)")
    check_p.add_argument("--base", type=Path, metavar="DIR", help="a source tree to dry-run the series on")
    check_p.add_argument("--prerequisite", action="append", type=source, default=[], metavar="SERIES",
                         help="with --base or --build: a series applied first (repeat for several, in order)")
    check_p.add_argument("--build", type=Path, metavar="JOB.yaml", help="build the series on the job's base and "
                         "kernel configuration, and name its new compiler warnings and checkpatch's findings")
    check_p.add_argument("--strict", action="store_true", help="checkpatch --strict")
    check_p.set_defaults(func=check)
    diff_p = actions.add_parser("diff", help="git range-diff of two versions applied to the same base")
    diff_p.add_argument("old", type=source, help="the older version of the series (a path or a message-id)")
    diff_p.add_argument("new", type=source, help="the newer version of the series (a path or a message-id)")
    diff_p.add_argument("--base", type=Path, metavar="DIR", required=True, help="the source tree both apply to")
    diff_p.set_defaults(func=diff)
    return parser


def check(args) -> int:
    """Print a table of the patches, every finding, and a verdict; 1 when the series is unusable or fails to apply."""
    series = read_series(fetched(args.path))
    before = [read_series(fetched(p)) for p in args.prerequisite]
    job = loader.load(args.build, count) if args.build else None
    base = args.base or (tree.pristine(tree.resolve(job.base), cache.root()) if job else
                         None)  # with --build alone, the job's base: where the series is built
    outcomes = check_series(base, series, before) if base else \
        tuple(Outcome(p.label, "not-checked", "no --base given") for p in series.patches)
    rows = [(_number(p), p.subject, ", ".join(p.files), o.status, _codes(p.findings))
            for p, o in zip(series.patches, outcomes)]
    print(tabulate(rows, headers=("patch", "subject", "files", "status", "finding")))
    for f in series.findings:
        print(f"{f.severity}: {f.code} at {f.where}: {f.message}")
    for o in outcomes:
        if o.status not in ("clean", "not-checked"):
            print(f"{o.status}: {o.patch}: {o.detail}")
    found = origin.origins(base, series, *origin.history_of(base)) if base and not before else ()
    for f in found:
        print(f"tree: {f.text()}")
    for line in origin.named(series, before):
        print(f"prerequisite: {line}")
    for line in _static(args, job, series, base):
        print(line)
    print(verdict(series, outcomes, checked=bool(base), elsewhere=sum(not f.same for f in found)))
    return 1 if not series.usable or any(o.status in FAILED for o in outcomes) else 0


def _static(args, job, series, base):
    """What the list's robots say first: with ``--build`` the new compiler warnings and checkpatch of the built
    series, with ``--base`` checkpatch alone; nothing without either."""
    if job:
        job = replace(job, kernel=replace(job.kernel, checkpatch_strict=args.strict or job.kernel.checkpatch_strict))
        built = kernel.build(job, specs.Variant("series-check", fetched(args.path),
                                                prerequisites=tuple(fetched(p) for p in args.prerequisite)),
                             cache.root())
        said, rec = [f"warnings: {static.warnings_text(built.warnings)}"], built.checkpatch
    elif base and not (base / checkpatch.SCRIPT).is_file():
        return [f"checkpatch: not run: {base} has no {checkpatch.SCRIPT}"]
    elif base:
        said, rec = [], checkpatch.record(checkpatch.check(base, series, args.strict), args.strict)
    else:
        return []
    return [*said, static.checkpatch_text(rec),
            *(f"  {p['patch']}: {line}" for p in rec["patches"] for line in p["lines"])]


def verdict(series, outcomes, checked: bool, elsewhere: int = 0) -> str:
    """One line: 'verdict: WORD — vN, i of n present (missing ...); N malformed hunks; ...; made on another
    version of N files; what applied'."""
    errors = Counter(f.code for f in series.findings if f.severity == "error")
    warnings = sum(f.severity == "warning" for f in series.findings)
    failed = [o for o in outcomes if o.status in FAILED]
    word = "unusable" if errors else "does not apply" if failed else "applies" if checked else "usable"
    versions = sorted({p.version or 1 for p in series.patches}) or [series.version or 1]
    head = "+".join(f"v{v}" for v in versions) + ", "
    if series.expected:
        missing = series.missing()
        head += f"{series.expected - len(missing)} of {series.expected} present"
        head += f" (missing {', '.join(map(str, missing))})" if missing else ""
    else:
        head += _plural(len(series.patches), "patch", "es")
    parts = [head] + [_plural(n, ERROR_NOUNS[code]) for code, n in errors.items() if code in ERROR_NOUNS]
    parts += [_plural(warnings, "warning")] if warnings else []
    parts += [f"made on another version of {_plural(elsewhere, 'file')}"] if elsewhere else []
    if errors:
        parts.append("nothing applied")
    elif not checked:
        parts.append("not checked against a base (pass --base DIR)")
    else:
        parts.append(", ".join(f"{n} {status}" for status, n in Counter(o.status for o in outcomes).items()))
    return f"verdict: {word} — " + "; ".join(parts)


def diff(args) -> int:
    """Print `git range-diff` of OLD and NEW applied to the same base."""
    print(range_diff(args.base, read_series(fetched(args.old)), read_series(fetched(args.new))), end="")
    return 0


def _number(patch) -> str:
    return f"{patch.index}/{patch.total}" if patch.index is not None else patch.path.name


def _codes(findings) -> str:
    counts = Counter(f.code for f in findings)
    return ", ".join(f"{code} ×{n}" if n > 1 else code for code, n in counts.items())


def _plural(n: int, noun: str, suffix: str = "s") -> str:
    return f"{n} {noun}{suffix if n != 1 else ''}"

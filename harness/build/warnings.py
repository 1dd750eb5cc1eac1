"""New compiler warnings of a series, as the kernel test robot reports them: against the base, per level.

Only the objects the series touches are compiled again (each changed ``.c`` whose object the configuration builds,
and for a changed header the objects whose dependency record names it, at most ``MAX_OBJECTS``), in the base
(with the variant's prerequisites) and in the variant's tree, at each ``LEVELS``: the kernel's default, ``W=1``,
and sparse (``C=2``) where Debian's ``sparse`` is installed.  A warning is matched by file and message, not line
(lines move), so code that only moves is not flagged; one the variant has more often than the base is **new**,
named ``file:line: message`` with the patch whose added line it sits on, and one the base has more often is
**removed**.  The base's side is cached per base, prerequisites and objects.
"""

import json
import re
import shutil
from collections import Counter
from pathlib import Path

from harness import cache
from harness.build import make, sandbox
from harness.intake.apply import applied_in_place

LEVELS = (("default", []), ("W=1", ["W=1"]), ("sparse", ["C=2"]))
MAX_OBJECTS = 20
QUOTES = str.maketrans("\u2018\u2019", "''")  # GCC's typographic quotes, where a locale asked for them
WARNING_RE = re.compile(r"^(?P<file>[\w./+-]+\.[ch]):(?P<line>\d+):(?:\d+:)? (?P<kind>warning|error): "
                        r"(?P<message>.*?)\s*$", re.M)


def levels():
    """The levels compared here: sparse only where it is installed."""
    return [(name, args) for name, args in LEVELS if name != "sparse" or shutil.which("sparse")]


def objects(tree, files):
    """The objects to compile again for the changed ``files`` in the built ``tree``."""
    tree, out = Path(tree), []
    for name in files:
        if name.endswith(".c") and (tree / name).with_suffix(".o").is_file():
            out.append(str(Path(name).with_suffix(".o")))
        elif name.endswith(".h"):
            out += [str(cmd.parent.relative_to(tree) / cmd.name[1:-4]) for cmd in sorted(tree.rglob(".*.o.cmd"))
                    if name in cmd.read_text(errors="replace")]
    return sorted(set(out))[:MAX_OBJECTS]


def compiled(tree, objs, log, sandboxed):
    """{level: [(file, line, message)]} of compiling ``objs`` again in ``tree`` at every level (BuildError where
    one does not compile: there is nothing to compare then)."""
    found = {}
    if not objs:  # nothing the series changes compiles here (make without targets would build everything)
        return {name: [] for name, _ in levels()}
    for name, args in levels():
        for o in objs:
            (Path(tree) / o).unlink(missing_ok=True)  # the default level recompiles only what is missing
        output = make.run(tree, [*args, *objs], log, f"warnings {name}", sandboxed=sandboxed).output
        found[name] = [(m["file"], int(m["line"]), f"{m['kind']}: {m['message']}".translate(QUOTES))
                       for m in WARNING_RE.finditer(output)]
    return found


def of_base(built, prerequisites, objs, base_key, cache_dir, log):
    """The base's (with ``prerequisites`` applied) warnings for ``objs``, compiled once in a copy of the built
    base tree and cached."""
    if not objs:
        return compiled(built, objs, log, sandboxed=False)  # nothing to compile: no copy of the tree either
    key = cache.digest(base_key, *(p.diff for s in prerequisites for p in s.patches), *objs, *dict(levels()))

    def compile_base(dest):
        with applied_in_place(built, prerequisites, log) as copy:
            sandbox.own(copy)  # the prerequisites are series too: they compile in the sandbox
            (dest / "warnings.json").write_text(json.dumps(compiled(copy, objs, log, sandboxed=bool(prerequisites))))

    entry = cache.entry(cache_dir / "warnings" / key, compile_base)
    return {level: [tuple(w) for w in ws] for level, ws in json.loads((entry / "warnings.json").read_text()).items()}


def compare(base, variant, tree, series):
    """The record results.json keeps (``kernel.warnings``): the levels, and the warnings ``variant`` has that
    ``base`` has not (new, with the patch whose added line each sits on) and the other way round (removed)."""
    new, removed, seen = [], [], set()
    for level in variant:
        theirs, mine = Counter((f, m) for f, _, m in base.get(level, [])), Counter((f, m) for f, _, m in variant[level])
        for (file, message), extra in (mine - theirs).items():
            if (file, message) in seen:
                continue  # new at an earlier level already (W=1 repeats the default's warnings)
            seen.add((file, message))
            lines = [line for f, line, m in variant[level] if (f, m) == (file, message)][-extra:]
            new += [{"level": level, "file": file, "line": line, "message": message,
                     "patch": _patch_of(tree, file, line, series)} for line in lines]
        removed += [{"level": level, "file": file, "message": message} for (file, message) in theirs - mine
                    if not any(r["file"] == file and r["message"] == message for r in removed)]
    return {"levels": list(variant), "new": new, "removed": removed}


def _patch_of(tree, file, line, series):
    """The label of the last patch of ``series`` that adds the text at ``file``:``line`` of ``tree``, or None."""
    try:
        text = (Path(tree) / file).read_text(errors="replace").splitlines()[line - 1].strip()
    except (OSError, IndexError):
        return None
    adding = [p.label for p in series.patches for h in p.hunks if h.file == file for body in h.body
              if body.startswith("+") and body[1:].strip() == text] if text else []
    return adding[-1] if adding else None

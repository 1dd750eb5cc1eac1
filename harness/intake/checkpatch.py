"""checkpatch per patch, as ``b4 prep --check`` and the list's robots run it: the base tree's own
``scripts/checkpatch.pl`` on each patch as posted (its mail, not only its diff: a missing Signed-off-by is an
error), the cover letter left out, nothing fetched.  Each patch's errors, warnings and checks are counted and the
first few quoted; ``--strict`` where the job asks for it.  A base without git history cannot know commit ids, so
there the checks of them (a ``Fixes:`` tag's id) are left out rather than reported unknown.
"""

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import command
from harness.errors import PrerequisiteError

LINE_RE = re.compile(r"^[^:]*:\d+: (?P<kind>ERROR|WARNING|CHECK):(?P<type>\w+): (?P<message>.*)$", re.M)
SCRIPT = "scripts/checkpatch.pl"
QUOTED = 3  # lines quoted per patch
NO_HISTORY = ("--ignore", "UNKNOWN_COMMIT_ID,GIT_COMMIT_ID")  # checks that need the base's git history


@dataclass(frozen=True)
class Checked:
    """What checkpatch said of one patch: counts by kind, and its first lines ('ERROR:TYPE: message')."""

    patch: str
    errors: int
    warnings: int
    checks: int
    lines: tuple[str, ...]


def check(tree, series, strict=False) -> tuple[Checked, ...]:
    """checkpatch.pl of the base ``tree`` on every patch of ``series``."""
    script = Path(tree) / SCRIPT
    if not script.is_file():
        raise PrerequisiteError(f"{tree}: no scripts/checkpatch.pl in the base tree", hint="use a kernel tree as base")
    out = []
    for patch in series.patches:
        said = command.run(["perl", script, f"--root={tree}", "--terse", "--show-types", "--no-summary",
                            *(["--strict"] if strict else []), *NO_HISTORY * (not (Path(tree) / ".git").exists()),
                            "-"], input=patch.mail, check=False, cwd=tree)
        found = list(LINE_RE.finditer(said.stdout))
        kinds = [m["kind"] for m in found]
        out.append(Checked(patch.label, kinds.count("ERROR"), kinds.count("WARNING"), kinds.count("CHECK"),
                           tuple(f"{m['kind']}:{m['type']}: {m['message']}" for m in found[:QUOTED])))
    return tuple(out)


def record(checked, strict=False) -> dict:
    """The record results.json keeps (``kernel.checkpatch``): totals and every patch."""
    return {"strict": strict, "errors": sum(c.errors for c in checked), "warnings": sum(c.warnings for c in checked),
            "checks": sum(c.checks for c in checked), "patches": [asdict(c) for c in checked]}

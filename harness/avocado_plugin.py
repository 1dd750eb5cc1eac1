"""Avocado plugin: at the end of a job, gather the balloon results, compare the variants and print the table.

Registered in setup.cfg as the ``balloon`` result plugin.  It writes ``<job dir>/balloon/results.json`` (the
samples of every test plus the comparisons) and ``<job dir>/balloon/table.txt``, and prints the table on the
console.  Jobs without balloon tests are left alone.
"""

from dataclasses import asdict
from pathlib import Path

from avocado.core.output import LOG_UI
from avocado.core.plugin_interfaces import Result

from . import report, results
from .errors import HarnessError


def finish(job_dir):
    """Write results.json and table.txt for a finished job directory; return the printed text."""
    data = results.gather(job_dir)
    if not data["samples"]:
        return None
    comps = report.comparisons(data)
    data["comparisons"] = [asdict(c) for c in comps]
    out = f"{report.facts(data)}\n\n{report.table(data, comps)}\n"
    results.write_json(job_dir / "balloon" / "results.json", data)
    (job_dir / "balloon" / "table.txt").write_text(out)
    return out


class BalloonResult(Result):
    name = "balloon"
    description = "balloon-harness comparison table and results.json"

    def render(self, result, job):
        try:
            text = finish(Path(job.logdir))
        except HarnessError as exc:
            LOG_UI.error("balloon-harness: %s", exc)
            return
        if text:
            LOG_UI.info("\n%s", text)
            LOG_UI.info("BALLOON    : %s", Path(job.logdir) / "balloon" / "results.json")

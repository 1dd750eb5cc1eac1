"""Avocado plugins: check the job file before any test runs; at the end, gather, compare and report.

``BalloonJobCheck`` (job pre/post plugin) validates every ``-m`` file that is a balloon job with
``config.load``, so a mistyped key stops the job at once with the file, line and closest valid key.
``BalloonResult`` (result plugin) writes ``<job dir>/balloon/results.json`` (the
samples of every test that finished, the comparisons, the tests that left no samples with their status, and the
``git range-diff`` between consecutive series versions of the job),
``table.txt`` and ``report.html`` beside it, and prints the table.  Jobs without balloon tests are left alone.
"""

from dataclasses import asdict
from pathlib import Path

from avocado.core.exceptions import JobError
from avocado.core.output import LOG_UI
from avocado.core.plugin_interfaces import JobPre, Result

from . import cache, config, report, results, tree
from .apply import range_diff
from .errors import ConfigError, HarnessError
from .series import read_series


def missing(tests):
    """The tests of the job that left no samples (failed, cancelled, interrupted), with why."""
    return [{"test": str(t.get("name")), "status": t.get("status"), "reason": str(t.get("fail_reason") or "")}
            for t in tests if not (Path(t.get("logdir", "")) / "data" / results.TEST_FILE).exists()]


def range_diffs(job_files):
    """`git range-diff` from each series version of the jobs to the next, by the later variant's name."""
    out = {}
    for path in job_files:
        if not config.is_job_file(path):
            continue
        job = config.load(path)
        versions = [v for v in job.variants if v.series]
        if len(versions) > 1:
            base = tree.pristine(tree.resolve(job.base), cache.root())
            for before, after in zip(versions, versions[1:]):
                out[after.name] = range_diff(base, read_series(before.series), read_series(after.series))
    return out


def finish(job_dir, tests=(), job_files=()):
    """Write results.json, table.txt and report.html for a finished job directory; return the printed text."""
    data = results.gather(job_dir)
    if not data["samples"]:
        return None
    data["missing"] = missing(tests)
    data["range_diff"] = range_diffs(job_files)
    comps = report.comparisons(data)
    data["comparisons"] = [asdict(c) for c in comps]
    out = f"{report.facts(data)}\n\n{report.table(data, comps)}\n"
    if data["missing"]:
        out += "\nno samples from: " + "; ".join(f"{m['test']} ({m['status']})" for m in data["missing"]) + "\n"
    results.write_json(job_dir / "balloon" / "results.json", data)
    (job_dir / "balloon" / "table.txt").write_text(out)
    (job_dir / "balloon" / "report.html").write_text(report.html(data, comps))
    return out


class BalloonResult(Result):
    name = "balloon"
    description = "balloon-harness results.json, comparison table and HTML report"

    def render(self, result, job):
        job_dir = Path(job.logdir)
        try:
            text = finish(job_dir, result.tests, job.config.get("yaml_to_mux.files") or [])
        except HarnessError as exc:
            LOG_UI.error("balloon-harness: %s", exc)
            return
        if text:
            LOG_UI.info("\n%s", text)
            LOG_UI.info("BALLOON    : %s", job_dir / "balloon" / "results.json")
            LOG_UI.info("REPORT     : %s", job_dir / "balloon" / "report.html")


class BalloonJobCheck(JobPre):
    name = "balloon"
    description = "validate balloon-harness job files before any test runs"

    def pre(self, job):
        for path in job.config.get("yaml_to_mux.files") or []:
            if config.is_job_file(path):
                try:
                    config.load(path)
                except ConfigError as exc:
                    raise JobError(str(exc)) from exc

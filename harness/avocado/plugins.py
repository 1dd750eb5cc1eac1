"""Avocado plugins: check the job file before any test runs; at the end, gather, compare and report.

``BalloonJobCheck`` (job pre/post plugin) validates every ``-m`` file that is a balloon job with ``loader.load``, so
a mistyped key stops the job at once with the file, line and closest valid key; after the job it fails it (exit
status 2, the cause on the console) if the results could not be written. ``BalloonResult`` (result plugin, run after
Avocado's own json and xunit results) writes ``<job dir>/balloon/results.json`` (the samples of every test that
finished, every test's outcome with its variant, every variant the job declares, the comparisons, and the ``git
range-diff`` between consecutive series versions of the job), ``table.txt`` (every metric) and ``report.html``
beside it, and prints the job's outcome and the primary metrics' table. Jobs without balloon tests are left alone.
"""

import json
from pathlib import Path

from avocado.core import exit_codes
from avocado.core.exceptions import JobError
from avocado.core.extension_manager import PluginPriority
from avocado.core.output import LOG_UI
from avocado.core.plugin_interfaces import JobPost, JobPre, Result

from harness import cache
from harness.config import loader
from harness.errors import ConfigError, HarnessError
from harness.intake import series, tree
from harness.intake.apply import range_diff
from harness.intake.series import read_series
from harness.judge import answers, html, policy, report, stats
from harness.results import contract
from harness.run import console


def outcomes(tests):
    """Every test of the job with its variant, check, status, reason, the first trouble line of its guests'
    consoles, and its log: what outcomes.outcomes sums up per variant."""
    out = []
    for t in tests:
        logdir = Path(t.get("logdir") or "")
        ident = logdir / "data" / contract.IDENTITY_FILE
        who = json.loads(ident.read_text()) if ident.is_file() else {"variant": "(unknown)"}
        consoles = sorted(logdir.glob("**/console.log")) if t.get("logdir") else []
        trouble = next((line for c in consoles if (line := console.first_trouble(c.read_text(errors="replace")))),
                       None)
        out.append({**who, "test": str(t.get("name")), "check": check_name(str(t.get("name"))),
                    "status": t.get("status") or "not run", "reason": str(t.get("fail_reason") or ""),
                    "trouble": trouble, "log": t.get("logfile"),
                    "samples": (logdir / "data" / contract.TEST_FILE).exists()})
    return out


def check_name(test):
    """The check a test ID names: ``benchmark`` or the functional check (``test_reboot``)."""
    method = test.split(";")[0].rsplit(".", 1)[-1]
    return "benchmark" if method == "test" else method


def job_variants(jobs):
    """The variants the job files declare, as results.json variant records without a kernel (not built yet)."""
    return [{"name": v.name, "series": [str(v.series)] if v.series else [],
             "prerequisites": [str(p) for p in v.prerequisites], "kernel": {}} for job in jobs for v in job.variants]


def range_diffs(jobs):
    """`git range-diff` from each series version of the jobs to the next, by the later variant's name."""
    out = {}
    for job in jobs:
        versions = [v for v in job.variants if v.series and not v.patches]  # a staircase's prefixes: none
        if len(versions) > 1:
            base = tree.pristine(tree.resolve(job.base), cache.root())
            for before, after in zip(versions, versions[1:]):
                if before.prerequisites == after.prerequisites:  # else the versions are not on one base
                    out[after.name] = range_diff(base, read_series(before.series), read_series(after.series),
                                                 [read_series(p) for p in after.prerequisites])
    return out


def finish(job_dir, tests=(), job_files=()):
    """Write results.json, table.txt and report.html for a finished job directory; return the printed text (None
    for a job that is not a balloon job)."""
    jobs = [loader.load(p, series.count) for p in job_files if loader.is_job_file(p)]
    data = contract.gather(job_dir)
    if not data["samples"] and not jobs:
        return None
    data["outcomes"] = outcomes(tests)
    declared = job_variants(jobs)
    for v in declared:
        if v["name"] not in {w["name"] for w in data["variants"]}:
            data["variants"].append(v)
    order = [v["name"] for v in declared]
    data["variants"].sort(key=lambda v: order.index(v["name"]) if v["name"] in order else len(order))
    data["range_diff"] = range_diffs(jobs)
    looks = next((job.looks for job in jobs if job.looks), None)
    if looks and (at := policy.stop(data, looks)):
        data["sequential"] = {"looks": list(looks), "round": at.round, "index": at.index, "alpha": at.alpha,
                              "decided": at.decided, "how": at.how()}
    comps = policy.comparisons(data)
    data["comparisons"] = [stats.record(c) for c in comps]
    data["answers"] = [answers.record(a) for a in answers.answers(comps)]
    short = f"{report.facts(data)}\n\n{report.table(data, comps)}\n"
    contract.write_json(job_dir / "balloon" / "results.json", data)
    (job_dir / "balloon" / "table.txt").write_text(f"{report.facts(data)}\n\n{report.table(data, comps, full=True)}\n")
    (job_dir / "balloon" / "report.html").write_text(html.page(data, comps))
    return short


FAILED = "balloon_harness_failed"  # the job attribute that carries a failed render to the post hook


class BalloonResult(Result):
    name = "balloon"
    description = "balloon-harness results.json, comparison table and HTML report"
    priority = PluginPriority.LAST_RESORT  # after Avocado's own results.json and xunit

    def render(self, result, job):
        job_dir = Path(job.logdir)
        try:
            text = finish(job_dir, result.tests, job.config.get("yaml_to_mux.files") or [])
        except Exception as exc:  # noqa: BLE001 -- whatever lost the results must fail the job, not only a log line
            LOG_UI.error("balloon-harness: cannot write the job's results: %s", exc,
                         exc_info=not isinstance(exc, HarnessError))
            setattr(job, FAILED, str(exc))
            return
        if text:
            LOG_UI.info("\n%s", text)
            LOG_UI.info("BALLOON    : %s", job_dir / "balloon" / "results.json")
            LOG_UI.info("REPORT     : %s", job_dir / "balloon" / "report.html")


class BalloonJobCheck(JobPre, JobPost):
    name = "balloon"
    description = "validate balloon-harness job files before any test runs; fail a job whose results were lost"
    priority = PluginPriority.LAST_RESORT  # the post hook ends the job: every other post hook runs first

    def pre(self, job):
        for path in job.config.get("yaml_to_mux.files") or []:
            if loader.is_job_file(path):
                try:
                    loader.load(path, series.count)
                except ConfigError as exc:
                    raise JobError(str(exc)) from exc

    def post(self, job):
        """A job whose results.json or report could not be written exits 2 (Avocado's job failure)."""
        if hasattr(job, FAILED):
            LOG_UI.error("balloon-harness: job failed: its results could not be written: %s", getattr(job, FAILED))
            raise SystemExit(job.exitcode | exit_codes.AVOCADO_JOB_FAIL)

"""``balloon-harness nightly CONFIG``: run the job, add it to the history, and say what changed since the last nights.

Runs the Avocado job as a child process (one test at a time), stores ``<job>/balloon/results.json`` as a night in
the history database, compares every variant with its own previous nights (``harness.history``) and writes
``<job>/balloon/nightly.md`` (also printed), ``b4-check.json`` and ``kcidb.json``.  Exit status: 0 no regression,
1 a regression (a significant "slower" or "more CPU") or a test that FAILed, 2 a harness error.
"""

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from tabulate import tabulate

from .. import config, history, report, results
from ..command import Process
from ..errors import ConfigError, HarnessError, PrerequisiteError

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/balloon/benchmark.py"
ORIGIN = "balloon_harness"
STR = "tag:yaml.org,2002:str"


def add_parser(subparsers):
    p = subparsers.add_parser("nightly", help="run the nightly job, keep its history, report regressions")
    p.add_argument("config", type=Path, help="job YAML, e.g. configs/nightly.yaml")
    p.add_argument("--results-dir", type=Path, default=Path("results/nightly"), metavar="DIR",
                   help="where Avocado puts the job directories (default results/nightly)")
    p.add_argument("--db", type=Path, metavar="PATH", help=f"history database (default RESULTS_DIR/{history.DB_NAME})")
    p.add_argument("--set-series", action="append", default=[], type=_override, metavar="VARIANT=PATH",
                   help="tonight, build VARIANT with the series at PATH instead (repeatable)")
    p.add_argument("--nights", type=int, default=7, metavar="N", help="previous nights to compare with (default 7)")
    p.set_defaults(func=run)


def _override(text):
    name, sep, path = text.partition("=")
    if not (name and sep and path):
        raise argparse.ArgumentTypeError(f"{text!r} is not VARIANT=PATH")
    if not Path(path).exists():
        raise argparse.ArgumentTypeError(f"{path}: no such series directory or file")
    return name, Path(path).resolve()


@dataclass(frozen=True)
class Tonight:
    """Tonight's verdicts: the job, every variant's trends, the nights compared with, what changed, failed tests."""

    job_dir: Path
    time: str
    trends: tuple
    nights: tuple
    changes: tuple
    failed: tuple

    @property
    def regressions(self):
        return [t for t in self.trends if t.regression]

    @property
    def status(self):
        """b4's words: fail (a regression or a failed test), warn (nothing to compare with yet), pass."""
        if self.regressions or self.failed:
            return "fail"
        return "pass" if any(t.comparison for t in self.trends) else "warn"


def run(args):
    when = datetime.now(UTC).isoformat(timespec="seconds")
    results_dir = args.results_dir.resolve()
    job_yaml = job_config(args.config.resolve(), dict(args.set_series), results_dir)
    job_dir = run_job(job_yaml, results_dir)
    failed = test_failures(job_dir)
    data = results.load(job_dir)
    conn = history.connect((args.db or results_dir / history.DB_NAME).resolve())
    try:
        tonight = judge(conn, data, job_yaml.read_text(encoding="utf-8"), when, args.nights, failed)
    finally:
        conn.close()
    print(publish(tonight, data))
    return 1 if tonight.status == "fail" else 0


def job_config(path, overrides, results_dir):
    """The job YAML to run: ``path`` itself, or a copy in ``results_dir`` with the series of some variants replaced."""
    config.load(path)
    if not overrides:
        return path
    out = results_dir / "nightly-config.yaml"
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        out.write_text(with_series(path, overrides), encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {out}: {exc.strerror}", hint="choose another --results-dir") from exc
    config.load(out)
    return out


def with_series(path, overrides):
    """The text of job YAML ``path`` with ``{variant: series path}`` applied (``!mux`` tags kept, comments not)."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    leaves = {}
    for key, node in root.value:
        if key.value == "variants":
            for leaf, values in node.value:
                leaves[next((v.value for k, v in values.value if k.value == "variant"), leaf.value)] = values
    for name, series in overrides.items():
        if name not in leaves:
            raise ConfigError(f"{path}: --set-series names no variant {name!r}", hint=f"variants: {', '.join(leaves)}")
        node = leaves[name]
        node.value = [(k, v) for k, v in node.value if k.value != "series"] + [
            (yaml.ScalarNode(STR, "series"), yaml.ScalarNode(STR, str(series)))]
    return f"# {path} with --set-series {' '.join(f'{n}={s}' for n, s in overrides.items())}\n" + yaml.serialize(root)


def run_job(job_yaml, results_dir):
    """Run the Avocado job on ``job_yaml`` with its console on ours; return the new job directory."""
    results_dir.mkdir(parents=True, exist_ok=True)
    before = set(results_dir.glob("job-*"))
    argv = [Path(sys.executable).with_name("avocado"), "run", "--max-parallel-tasks", "1", "--job-results-dir",
            results_dir, TEST, "-m", job_yaml]
    try:
        with Process(argv, stdout=None, stderr=None, cwd=ROOT) as proc:
            rc = proc.popen.wait()
    except OSError as exc:
        raise PrerequisiteError(f"{argv[0]}: cannot run Avocado: {exc.strerror}", hint="make deps installs it") from exc
    new = sorted(set(results_dir.glob("job-*")) - before)
    if not new:
        raise HarnessError(f"Avocado exited {rc} and left no job directory in {results_dir}")
    return new[-1]


def test_failures(job_dir):
    """Avocado's FAILed tests as lines; a test that ended otherwise (ERROR, CANCEL, …) is a harness error."""
    path = job_dir / "results.json"
    try:
        tests = json.loads(path.read_text())["tests"]
    except (OSError, ValueError, KeyError) as exc:
        raise HarnessError(f"{path}: no Avocado test results ({exc})", log=job_dir / "job.log") from exc
    for t in tests:
        if t["status"] not in ("PASS", "WARN", "FAIL"):
            raise HarnessError(f"{t['name']} ended {t['status']}: {t['fail_reason']}", log=t.get("logfile"))
    return tuple(f"`{t['name']}`: FAIL — {t['fail_reason']}" for t in tests if t["status"] == "FAIL")


def judge(conn, data, config_text, when, count, failed):
    """Store tonight's results as a night and compare every variant with its previous ``count`` nights."""
    night = history.store(conn, data, config_text, when)
    trends, nights, changes = [], {}, []
    for variant in data["variants"]:
        previous, samples = history.previous(conn, variant["name"], night, count)
        trends += history.trends(data["samples"], samples, variant["name"])
        nights.update({n.id: n for n in previous})
        changes += history.changes(variant, samples)
    return Tonight(Path(data["job"]["dir"]), when, tuple(trends), tuple(nights[i] for i in sorted(nights)),
                   tuple(changes), failed)


def publish(tonight, data):
    """Write nightly.md, b4-check.json and kcidb.json into ``<job>/balloon/``; return the Markdown."""
    out = tonight.job_dir / "balloon"
    text = summary(tonight)
    try:
        (out / "nightly.md").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {out / 'nightly.md'}: {exc.strerror}") from exc
    results.write_json(out / "b4-check.json", b4_check(tonight))
    results.write_json(out / "kcidb.json", kcidb(tonight, data))
    return text


def headline(tonight):
    parts = []
    if tonight.regressions:
        parts.append(f"{len(tonight.regressions)} regression(s)")
    if tonight.failed:
        parts.append(f"{len(tonight.failed)} test(s) failed")
    return ", ".join(parts) or ("no regression" if tonight.status == "pass" else "no previous night to compare with")


def regression_line(t):
    c = t.comparison
    return (f"**{t.variant}** {t.op}, {report.LABELS[t.metric]}: **{c.verdict}** {report.change_text(c)}, "
            f"p = {c.p:.3g} (Q1 tonight {t.tonight:.4f} s, previous nights {t.tonight / c.ratio:.4f} s)")


def summary(tonight):
    """The Markdown summary for a CI page or a mail."""
    comps = [t.comparison for t in tonight.trends if t.comparison]
    lines = [f"## balloon-harness nightly: {headline(tonight)}", "",
             f"Job `{tonight.job_dir}` · report `{tonight.job_dir / 'balloon' / 'report.html'}`", "",
             (f"Tonight against the previous {len(tonight.nights)} night(s) of each variant, pooled: ratio of "
              "lower quartiles (Q1) with its 95 % bootstrap CI and the Mann-Whitney p, as in the job report; "
              "warm-up excluded."), ""]
    if tonight.regressions:
        lines += ["### Regressions", *(f"- {regression_line(t)}" for t in tonight.regressions), ""]
    elif comps:
        seen = sorted(c.detectable * 100 for c in comps)
        lines += [(f"No significant slowdown or CPU increase in {len(comps)} comparisons (changes below "
                   f"±{seen[0]:.0f}–{seen[-1]:.0f} % could not have been seen)."), ""]
    if tonight.failed:
        lines += ["### Tests that failed", *(f"- {f}" for f in tonight.failed), ""]
    if tonight.changes:
        lines += ["### Changed since the previous night", *(f"- {c}" for c in tonight.changes), ""]
    return "\n".join(lines + ["### History (Q1 per night, s)", "", history_table(tonight), ""])


def history_table(tonight):
    rows = []
    for t in tonight.trends:
        by_night, c = dict(t.nights), t.comparison
        verdict = (f"**{c.verdict}**" if t.regression else c.verdict) if c else "no history"
        rows.append([t.variant, t.op, report.LABELS[t.metric],
                     *(f"{by_night[n.id]:.4f}" if n.id in by_night else "" for n in tonight.nights),
                     f"{t.tonight:.4f}", report.change_text(c) if c else "", verdict])
    nights = [f"#{n.id} {n.time[5:16].replace('T', ' ')}" for n in tonight.nights]
    return tabulate(rows, headers=["variant", "op", "metric", *nights, "tonight", "vs history (95 % CI)", "verdict"],
                    tablefmt="github", disable_numparse=True)


def b4_check(tonight):
    """A b4 review external-check record."""
    details = [regression_line(t) for t in tonight.regressions] + list(tonight.failed) + list(tonight.changes)
    text = f"nightly: {headline(tonight)}"
    if worst := max(tonight.regressions, key=lambda t: t.comparison.ratio, default=None):
        text += (f"; worst: {worst.variant} {worst.op} {report.LABELS[worst.metric]} {worst.comparison.verdict} "
                 f"{report.change_text(worst.comparison)}")
    return [{"tool": "balloon-harness", "status": tonight.status, "summary": text,
             "url": str(tonight.job_dir / "balloon" / "report.html"), "details": "\n".join(details)}]


def kcidb(tonight, data):
    """A KCIDB v4.3 submission: a checkout and a build per variant, a test per variant, op and metric."""
    job, facts = tonight.job_dir.name, data["job"]
    checkouts, builds = [], []
    for v in data["variants"]:
        k, key = v["kernel"], f"{ORIGIN}:{job}:{v['name']}"
        checkouts.append(_present({"id": key, "origin": ORIGIN, "tree_name": k.get("base"), "valid": True,
                                   "comment": f"{k.get('base')} + {' | '.join(v['series']) or 'no series'}",
                                   "start_time": tonight.time}))
        builds.append(_present({"id": key, "origin": ORIGIN, "checkout_id": key, "architecture": "x86_64",
                                "compiler": k.get("compiler"), "duration": k.get("build_s"), "valid": True,
                                "misc": _present({"kernel_release": k.get("release"),
                                                  "config_sha256": k.get("config_sha256"),
                                                  "bzimage_sha256": k.get("bzimage_sha256")})}))
    environment = {"comment": f"{facts.get('host')}, QEMU {facts.get('qemu_version')}, accel {facts.get('accel')}"}
    tests = [_present({"id": f"{ORIGIN}:{job}:{t.variant}:{t.op}.{t.metric}", "origin": ORIGIN,
                       "build_id": f"{ORIGIN}:{job}:{t.variant}", "path": f"balloon.{t.op}.{t.metric}",
                       "status": "FAIL" if t.regression else "PASS" if t.comparison else "DONE",
                       "comment": t.comparison.verdict if t.comparison else "no history", "start_time": tonight.time,
                       "environment": environment, "misc": _test_misc(t)}) for t in tonight.trends]
    return {"version": {"major": 4, "minor": 3}, "checkouts": checkouts, "builds": builds, "tests": tests}


def _test_misc(t):
    misc = {"q1_s": t.tonight, "history_q1_s": [m for _, m in t.nights]}
    if t.comparison:
        c = t.comparison
        misc.update(ratio=c.ratio, ci95=list(c.ci95), p=c.p, verdict=c.verdict, n=c.n)
    return misc


def _present(record):
    """KCIDB allows no nulls: drop the fields we do not know."""
    return {k: v for k, v in record.items() if v is not None}

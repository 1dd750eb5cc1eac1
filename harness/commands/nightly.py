"""``balloon-harness nightly CONFIG``: run the job, add it to the history, and say what changed since the last nights.

Runs the Avocado job as a child process (one test at a time), stores ``<job>/balloon/results.json`` as a night in
the history database, judges tonight against the previous nights alike (``harness.judge.history``) and writes
``<job>/balloon/nightly.md`` (also printed), ``b4-check.json`` and ``kcidb.json``.  Exit status: 0 no regression,
1 a regression of a candidate's time to target or a variant that FAILed, 2 a harness error (a test that ended
ERROR or CANCEL, a bad job file, a crash: ``harness.cli``).
"""

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from tabulate import tabulate

from harness.avocado import jobs
from harness.config import loader
from harness.errors import ConfigError, HarnessError
from harness.judge import answers, history, outcomes, report
from harness.results import contract
from harness.results.metrics import LABELS

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
    p.add_argument("--nights", type=int, default=14, metavar="N",
                   help="previous nights alike to compare with (default 14)")
    p.add_argument("--min-nights", type=int, default=history.MIN_NIGHTS, metavar="N",
                   help=f"nights alike a verdict needs (default {history.MIN_NIGHTS}; fewer see only large changes)")
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
    """Tonight's verdicts: the job, every trend, the nights alike compared with, what changed, every variant's
    outcome."""

    job_dir: Path
    time: str
    trends: tuple
    nights: tuple
    changes: tuple
    outcomes: tuple
    min_nights: int = history.MIN_NIGHTS
    answers: tuple = ()  # tonight's job's answers that its time did not decide (harness/judge/answers.py)

    @property
    def regressions(self):
        return [t for t in self.trends if t.regression]

    @property
    def failed(self):
        return [o for o in self.outcomes if o["status"] != "PASS"]

    @property
    def status(self):
        """b4's words: fail (a regression or a variant that did not pass), warn (too few nights alike), pass."""
        if self.regressions or self.failed:
            return "fail"
        return "pass" if any(t.judged for t in self.trends if t.alerting) else "warn"


def run(args):
    when = datetime.now(UTC).isoformat(timespec="seconds")
    results_dir = args.results_dir.resolve()
    source = args.config.resolve()
    job_yaml = job_config(source, dict(args.set_series), results_dir)
    job_dir = jobs.run(jobs.BENCHMARK, job_yaml, results_dir)
    data = contract.load(job_dir)
    harness_errors(data)
    overrides = " ".join(f"{n}={p}" for n, p in args.set_series)
    conn = history.connect((args.db or results_dir / history.DB_NAME).resolve())
    try:
        night = history.store(conn, data, source.read_text(encoding="utf-8"), job_yaml.read_text(encoding="utf-8"),
                              overrides, when)
        tonight = judge(conn, night, data, when, args.nights, args.min_nights)
    finally:
        conn.close()
    print(publish(tonight, data))
    return 1 if tonight.status == "fail" else 0


def job_config(path, overrides, results_dir):
    """The job YAML to run: ``path`` itself, or a copy in ``results_dir`` with the series of some variants replaced."""
    loader.load(path)
    if not overrides:
        return path
    out = results_dir / "nightly-config.yaml"
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        out.write_text(with_series(path, overrides), encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {out}: {exc.strerror}", hint="choose another --results-dir") from exc
    loader.load(out)
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


def harness_errors(data):
    """Raise HarnessError for a test that ended for a reason other than the kernel under test (ERROR, CANCEL, …):
    such a night says nothing about the kernels and is not stored."""
    for o in data.get("outcomes", []):
        if o["status"] not in ("PASS", "WARN", "FAIL"):
            raise HarnessError(f"{o['test']} ({o['variant']}) ended {o['status']}: {o['reason']}", log=o.get("log"))


def judge(conn, night, data, when, count=14, min_nights=history.MIN_NIGHTS):
    """Tonight (stored as ``night``) against up to ``count`` nights alike before it."""
    trends, nights = history.judge(conn, night, min_nights, count)
    return Tonight(Path(data["job"]["dir"]), when, tuple(trends), tuple(nights),
                   tuple(history.changes(conn, night, nights)), tuple(outcomes.outcomes(data)), min_nights,
                   tuple(f"{a['variant']} {a['op']}: {a['text']}" for a in data.get("answers", [])
                         if a["by"] != answers.TIME))


def publish(tonight, data):
    """Write nightly.md, b4-check.json and kcidb.json into ``<job>/balloon/``; return the Markdown."""
    out = tonight.job_dir / "balloon"
    text = summary(tonight)
    try:
        (out / "nightly.md").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {out / 'nightly.md'}: {exc.strerror}") from exc
    contract.write_json(out / "b4-check.json", b4_check(tonight))
    contract.write_json(out / "kcidb.json", kcidb(tonight, data))
    return text


def headline(tonight):
    parts = []
    if tonight.regressions:
        parts.append(f"{len(tonight.regressions)} regression(s)")
    if tonight.failed:
        parts.append(f"{len(tonight.failed)} of {len(tonight.outcomes)} variant(s) did not pass: "
                     + ", ".join(f"{o['label']} {o['status']}" for o in tonight.failed))
    if parts:
        return "; ".join(parts)
    return "no regression" if tonight.status == "pass" else \
        f"no verdict yet: fewer than {tonight.min_nights} nights alike to compare with"


def value_text(t, value):
    return f"×{value:.3f}" if t.relative else f"{value:.4f} s"


def regression_line(t):
    previous = [x for _, x in t.nights]
    return (f"**{t.variant}**{_setting(t)} {t.op}, {LABELS[t.metric]}: **{t.verdict}**, "
            f"{report.pct(t.tonight)} of the same night's base tonight against {value_text(t, min(previous))}–"
            f"{value_text(t, max(previous))} on {len(previous)} nights alike (p {_ps(t)})")


def _setting(t):
    return f" [{t.setting}]" if t.setting else ""


def _ps(t):
    return ", ".join(f"{name} {p:.2g}" for name, p in (("tonight", t.p_tonight), ("two nights", t.p_two))
                     if p is not None)


def summary(tonight):
    """The Markdown summary for a CI page or a mail."""
    lines = [f"## balloon-harness nightly: {headline(tonight)}", "",
             f"Job `{tonight.job_dir}` · report `{tonight.job_dir / 'balloon' / 'report.html'}`", "",
             (f"Each candidate's time to target as a ratio to the same night's base (geometric mean of its boots' "
              f"Q1), against the same ratio on up to {len(tonight.nights)} previous nights alike (same job file, "
              f"host, accelerator and QEMU): a one-sided prediction interval for tonight and for the last two "
              f"nights, together at most {history.FALSE_ALARM * 100:g} % false alarms a night. The base's own Q1 "
              f"and the other metrics are shown, never alerting (the other metrics Holm-corrected). No verdict "
              f"before {tonight.min_nights} nights alike."), ""]
    if tonight.regressions:
        lines += ["### Regressions", *(f"- {regression_line(t)}" for t in tonight.regressions), ""]
    lines += ["### Variants", "", outcomes.markdown(tonight.outcomes), ""]
    if tonight.answers:
        lines += ["### Tonight's job, where its time is undecided", *(f"- {a}" for a in tonight.answers), ""]
    if tonight.changes:
        lines += ["### Changed since the previous night alike", *(f"- {c}" for c in tonight.changes), ""]
    return "\n".join(lines + ["### History (nights alike, then tonight)", "", history_table(tonight), ""])


def history_table(tonight):
    rows = []
    for t in tonight.trends:
        by_night = dict(t.nights)
        verdict = f"**{t.verdict}**" if t.regression else t.verdict
        rows.append([t.variant + _setting(t), t.op, LABELS[t.metric] + (" (vs base)" if t.relative else " (Q1)"),
                     *(value_text(t, by_night[n.id]) if n.id in by_night else "" for n in tonight.nights),
                     value_text(t, t.tonight), _ps(t), verdict])
    nights = [f"#{n.id} {n.time[5:16].replace('T', ' ')}" for n in tonight.nights]
    return tabulate(rows, headers=["variant", "op", "metric", *nights, "tonight", "p (one-sided)", "verdict"],
                    tablefmt="github", disable_numparse=True)


def b4_check(tonight):
    """A b4 review external-check record."""
    details = ([regression_line(t) for t in tonight.regressions]
               + [f"{o['label']}: {o['status']} — {o['trouble'] or o['reason']}" for o in tonight.failed]
               + list(tonight.changes))
    text = f"nightly: {headline(tonight)}"
    if worst := max(tonight.regressions, key=lambda t: t.tonight, default=None):
        text += f"; worst: {worst.variant} {worst.op} {LABELS[worst.metric]} {report.pct(worst.tonight)}"
    return [{"tool": "balloon-harness", "status": tonight.status, "summary": text,
             "url": str(tonight.job_dir / "balloon" / "report.html"), "details": "\n".join(details)}]


KCIDB_VERSION = {"major": 5, "minor": 3}
STAGE_STATUS = {"apply": "MISS", "build": "FAIL"}  # a build's KCIDB status when its test stopped at that stage


def kcidb(tonight, data):
    """A KCIDB v5.3 submission: per variant a checkout (valid unless its series did not apply) and a build (its real
    status), a test per variant for its outcome (``balloon.outcome``), and one per variant, op and metric that was
    judged against the history."""
    job, facts = tonight.job_dir.name, data["job"]
    outs = {o["variant"]: o for o in tonight.outcomes}
    checkouts, builds, tests = [], [], []
    environment = {"comment": f"{facts.get('host')}, QEMU {facts.get('qemu_version')}, accel {facts.get('accel')}"}
    for v in data["variants"]:
        k, key, o = v["kernel"], f"{ORIGIN}:{job}:{v['name']}", outs.get(v["name"], {})
        stage = o.get("stage")
        checkouts.append(_present({"id": key, "origin": ORIGIN, "tree_name": k.get("base"),
                                   "valid": stage != "apply" if o else None,
                                   "comment": f"{k.get('base') or 'base'} + {' | '.join(v['series']) or 'no series'}",
                                   "start_time": tonight.time}))
        builds.append(_present({"id": key, "origin": ORIGIN, "checkout_id": key, "architecture": "x86_64",
                                "compiler": k.get("compiler"), "duration": k.get("build_s"),
                                "status": STAGE_STATUS.get(stage, "PASS" if k.get("release") else "MISS"),
                                "log_excerpt": o.get("reason") if stage in STAGE_STATUS else None,
                                "misc": _present({"kernel_release": k.get("release"),
                                                  "config_sha256": k.get("config_sha256"),
                                                  "bzimage_sha256": k.get("bzimage_sha256")}) or None}))
        if o and stage not in STAGE_STATUS:
            tests.append(_present({"id": f"{key}:outcome", "origin": ORIGIN, "build_id": key,
                                   "path": "balloon.outcome", "status": KCIDB_STATUS.get(o["status"], "ERROR"),
                                   "comment": f"{o['passed']} of {o['tests']} tests passed",
                                   "log_excerpt": (o.get("trouble") or o.get("reason") or None),
                                   "start_time": tonight.time, "environment": environment}))
    for t in tonight.trends:
        tests.append(_present({"id": f"{ORIGIN}:{job}:{t.variant}:{_ident(t.setting or '')}:{_ident(t.op)}.{t.metric}",
                               "origin": ORIGIN, "build_id": f"{ORIGIN}:{job}:{t.variant}",
                               "path": f"balloon.{_ident(t.op)}.{t.metric}",
                               "status": "FAIL" if t.regression else "PASS" if t.judged else "DONE",
                               "comment": t.verdict, "start_time": tonight.time, "environment": environment,
                               "misc": _present({"tonight": t.tonight, "nights": [x for _, x in t.nights],
                                                 "relative_to_base": t.relative, "p_tonight": t.p_tonight,
                                                 "p_two_nights": t.p_two, "setting": t.setting or None})}))
    return {"version": KCIDB_VERSION, "checkouts": checkouts, "builds": builds, "tests": tests}


KCIDB_STATUS = {"PASS": "PASS", "WARN": "PASS", "FAIL": "FAIL", "ERROR": "ERROR", "CANCEL": "MISS",
                "SKIP": "SKIP", "INTERRUPTED": "ERROR", "not run": "MISS"}


def _ident(text):
    """``text`` as a KCIDB path or id part: letters, digits, ``_`` and ``-`` only."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in text)


def _present(record):
    """KCIDB allows no nulls: drop the fields we do not know."""
    return {k: v for k, v in record.items() if v is not None}

"""The nightly history: every night's samples in an SQLite database, and tonight's verdicts against the nights before.

A night is one row of ``runs`` (time, job dir, host, accel, QEMU version, the job YAML it ran) with its samples in
``samples``, one row per metric (variant, kernel release, config hash, series, op, metric, value, warm-up, boot,
cycle).  Tonight is judged with the statistics of the job report: the previous nights' samples of the same variant
are pooled as the baseline ``<variant>@history`` (each night's boot its own boot, so night-to-night variance
counts) and ``stats.compare`` gives the ratio of lower quartiles (Q1), its bootstrap CI, the Mann-Whitney p and
the verdict.
"""

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from . import stats
from .errors import HarnessError
from .metrics import METRICS

DB_NAME = "history.sqlite"
REGRESSIONS = ("slower", "more CPU")
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, job_dir TEXT NOT NULL, host TEXT, accel TEXT, qemu_version TEXT,
    config TEXT);
CREATE TABLE IF NOT EXISTS samples (
    run INTEGER NOT NULL REFERENCES runs(id), variant TEXT NOT NULL, kernel_release TEXT, config_sha256 TEXT,
    series TEXT, op TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, warmup INTEGER NOT NULL,
    boot INTEGER NOT NULL, cycle INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS samples_variant_run ON samples (variant, run);
"""


@dataclass(frozen=True)
class Night:
    id: int
    time: str
    job_dir: str


@dataclass(frozen=True)
class Trend:
    """One metric of one variant: tonight's Q1, the previous nights' Q1s, and the comparison (or None)."""

    op: str
    metric: str
    variant: str
    tonight: float
    nights: tuple          # ((night id, Q1), ...) oldest first
    comparison: stats.Comparison | None

    @property
    def regression(self):
        return self.comparison is not None and self.comparison.verdict in REGRESSIONS


def connect(path):
    """Open (creating if needed) the history database at ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
        conn.executescript(SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise HarnessError(f"{path}: cannot open the history database: {exc}",
                           hint="choose another file with --db") from exc
    return conn


def store(conn, data, config_text, when=None):
    """Store a results.json document as a new night; return its id."""
    job = data["job"]
    when = when or datetime.now(UTC).isoformat(timespec="seconds")
    kernels = {v["name"]: (v["kernel"].get("release"), v["kernel"].get("config_sha256"), " | ".join(v["series"]))
               for v in data["variants"]}
    try:
        with conn:
            run = conn.execute("INSERT INTO runs (time, job_dir, host, accel, qemu_version, config) "
                               "VALUES (?,?,?,?,?,?)", (when, job["dir"], job.get("host"), job.get("accel"),
                                                        job.get("qemu_version"), config_text)).lastrowid
            conn.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                             [(run, s["variant"], *kernels[s["variant"]], s["op"], m.name, s[m.name], s["warmup"],
                               s["boot"], s["cycle"])
                              for s in data["samples"] for m in METRICS if s.get(m.name) is not None])
    except sqlite3.Error as exc:
        raise HarnessError(f"cannot store {job['dir']} in the history database: {exc}") from exc
    return run


def previous(conn, variant, before, count):
    """The last ``count`` nights before night ``before`` that measured ``variant``: (nights, samples).

    Samples come back in the shape of results.json samples plus ``run``, ``kernel_release``, ``config_sha256`` and
    ``series``; ``boot`` becomes ``(night id, boot)`` so every night's boot stays a boot of its own.
    """
    rows = conn.execute("SELECT id, time, job_dir FROM runs WHERE id < ? AND id IN "
                        "(SELECT run FROM samples WHERE variant = ?) ORDER BY id DESC LIMIT ?",
                        (before, variant, count)).fetchall()
    nights = [Night(*r) for r in reversed(rows)]
    wide = {}
    for run, release, config, series, op, metric, value, warm, boot, cycle in conn.execute(
            "SELECT run, kernel_release, config_sha256, series, op, metric, value, warmup, boot, cycle FROM samples "
            f"WHERE variant = ? AND run IN ({','.join('?' * len(nights))}) ORDER BY run, boot, cycle, op",
            (variant, *(n.id for n in nights))):
        sample = wide.setdefault((run, boot, cycle, op), {
            "variant": variant, "run": run, "boot": (run, boot), "cycle": cycle, "op": op, "warmup": bool(warm),
            "kernel_release": release, "config_sha256": config, "series": series})
        sample[metric] = value
    return nights, list(wide.values())


def trends(tonight, history, variant, seed=0):
    """Tonight's samples of ``variant`` against its ``history``: a Trend per (op, metric), warm-up excluded."""
    mine = [s for s in tonight if s["variant"] == variant]
    baseline = f"{variant}@history"
    comps = {(c.op, c.metric): c for c in stats.compare(mine + [{**s, "variant": baseline} for s in history],
                                                        baseline, seed)}
    per_night = defaultdict(lambda: defaultdict(list))
    for s in history:
        per_night[s["run"]][s["op"]].append(s)
    out = []
    for summary in stats.summarize(mine):
        if summary.warmup:
            continue
        nights = tuple((run, m) for run, ops in sorted(per_night.items())
                       if (m := _q1(ops[summary.op], summary.metric)) is not None)
        out.append(Trend(summary.op, summary.metric, variant, summary.q1, nights,
                         comps.get((summary.op, summary.metric))))
    names = [m.name for m in METRICS]
    return sorted(out, key=lambda t: (not t.op.startswith("inflate"), t.op, names.index(t.metric)))


def changes(variant, samples):
    """What differs between ``variant`` (of results.json) and its latest night in ``samples``, as lines."""
    if not samples:
        return []
    last = max(samples, key=lambda s: s["run"])
    now = {"kernel": variant["kernel"].get("release"), "config": variant["kernel"].get("config_sha256"),
           "series": " | ".join(variant["series"])}
    was = {"kernel": last["kernel_release"], "config": last["config_sha256"], "series": last["series"]}
    diffs = [f"{key} `{was[key] or '(none)'}` → `{now[key] or '(none)'}`" for key in now if now[key] != was[key]]
    return [f"{variant['name']}: {', '.join(diffs)}"] if diffs else []


def _q1(samples, metric):
    xs = [s[metric] for s in samples if not s["warmup"] and s.get(metric) is not None]
    return stats.lower_quartile(xs) if xs else None

"""The nightly history: every night's samples in an SQLite database, and tonight judged against the nights alike.

A night is one row of ``runs`` (time, job dir, host, accel, QEMU version, the job file as written, the
``--set-series`` overrides, the YAML that ran) with its samples in ``samples``, one row per metric (variant, its
axis leaves, host, kernel release, config hash, series, op, metric, value, warm-up, boot, cycle).

Each night is summarised per (variant, setting, op, metric) by the mean of its boots' log Q1 (``levels``).  A
candidate's value for the night is its level minus the base's level of the same night and setting — the host's
mood that night moves both, and cancels — and the base's value is its level.  Tonight's value is compared with
the same value on the previous nights *alike*: the same job file run without overrides, on the same host, with the
same accelerator and QEMU, for the same variant, setting and kernel config.  Two looks, each a one-sided
prediction interval (Student's t with k−1 degrees of freedom over the k nights' values): tonight alone, and the
mean of tonight and the night before it against the nights before those.  Only the primary metric (time to target)
of a candidate can fail the night, at a false-alarm rate of ``FALSE_ALARM`` per night split evenly (Bonferroni)
over every look at every such metric; the base's level and the secondary metrics are reported, with Holm for the
latter, but never fail it.  With fewer than ``min_nights`` nights alike there is no verdict.  A night whose tests
ended for a reason other than the kernels under test (``harness_errors``) is not stored.  ``Tonight`` gathers a
night's verdicts for harness/judge/exports.py to publish.
benchmarks/nightly_replay.py measures the false alarms and the detection of a step.
"""

import json
import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scipy import stats as scipy_stats

from harness.errors import HarnessError
from harness.judge import answers, outcomes, stats
from harness.results.metrics import METRICS, metric

DB_NAME = "history.sqlite"
BASE = "base"
FALSE_ALARM = 0.02   # nights of an unchanged kernel that may alert: one in fifty
MIN_NIGHTS = 5       # nights alike a verdict needs
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, job_dir TEXT NOT NULL, host TEXT, accel TEXT, qemu_version TEXT,
    config TEXT, config_source TEXT, overrides TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS samples (
    run INTEGER NOT NULL REFERENCES runs(id), variant TEXT NOT NULL, kernel_release TEXT, config_sha256 TEXT,
    series TEXT, op TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, warmup INTEGER NOT NULL,
    boot INTEGER NOT NULL, cycle INTEGER NOT NULL, axes TEXT NOT NULL DEFAULT '{}', host TEXT);
CREATE INDEX IF NOT EXISTS samples_variant_run ON samples (variant, run);
"""
ADDED = {"runs": ("config_source TEXT", "overrides TEXT NOT NULL DEFAULT ''"),  # columns older databases lack
         "samples": ("axes TEXT NOT NULL DEFAULT '{}'", "host TEXT")}


@dataclass(frozen=True)
class Night:
    id: int
    time: str
    job_dir: str


@dataclass(frozen=True)
class Trend:
    """One metric of one variant in one setting: tonight's value and the nights' values (ratios: a candidate's to
    the same night's base, the base's Q1 in seconds), the looks' one-sided p-values, and the verdict."""

    variant: str
    setting: str
    op: str
    metric: str
    relative: bool         # a ratio to the same night's base (else the base's own Q1, s)
    tonight: float
    nights: tuple          # ((night id, value), ...) oldest first: the nights alike
    p_tonight: float | None  # P(a value this high | no change): tonight alone
    p_two: float | None      # ... the mean of tonight and the night before
    verdict: str
    alerting: bool         # a primary metric of a candidate: it can fail the night

    @property
    def regression(self):
        return self.alerting and self.verdict == "regression"

    @property
    def judged(self):
        return self.p_tonight is not None


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
    min_nights: int = MIN_NIGHTS
    answers: tuple = ()  # tonight's job's answers that its time did not decide (harness/judge/answers.py)

    @classmethod
    def of(cls, conn, night, data, when, count=14, min_nights=MIN_NIGHTS):
        """Night ``night`` (stored from results.json ``data`` at ``when``) against up to ``count`` nights alike
        before it."""
        trends_, nights = judge(conn, night, min_nights, count)
        return cls(Path(data["job"]["dir"]), when, tuple(trends_), tuple(nights), tuple(changes(conn, night, nights)),
                   tuple(outcomes.outcomes(data)), min_nights,
                   tuple(f"{a['variant']} {a['op']}: {a['text']}" for a in data.get("answers", [])
                         if a["by"] != answers.TIME))

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


def harness_errors(data):
    """Raise HarnessError for a test that ended for a reason other than the kernel under test (ERROR, CANCEL, …):
    such a night says nothing about the kernels and is not stored."""
    for o in data.get("outcomes", []):
        if o["status"] not in ("PASS", "WARN", "FAIL"):
            raise HarnessError(f"{o['test']} ({o['variant']}) ended {o['status']}: {o['reason']}", log=o.get("log"))


def connect(path):
    """Open (creating or extending if needed) the history database at ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
        conn.executescript(SCHEMA)
        for table, columns in ADDED.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    except (OSError, sqlite3.Error) as exc:
        raise HarnessError(f"{path}: cannot open the history database: {exc}",
                           hint="choose another file with --db") from exc
    return conn


def store(conn, data, config_source, config_ran=None, overrides="", when=None):
    """Store a results.json document as a new night; return its id.  ``config_source`` is the job file as written,
    ``config_ran`` the YAML that ran (with ``overrides`` applied, when there are any)."""
    job = data["job"]
    when = when or datetime.now(UTC).isoformat(timespec="seconds")
    kernels = {v["name"]: (v["kernel"].get("release"), v["kernel"].get("config_sha256"), " | ".join(v["series"]))
               for v in data["variants"]}
    try:
        with conn:
            run = conn.execute("INSERT INTO runs (time, job_dir, host, accel, qemu_version, config, config_source, "
                               "overrides) VALUES (?,?,?,?,?,?,?,?)",
                               (when, job["dir"], job.get("host"), job.get("accel"), job.get("qemu_version"),
                                config_ran or config_source, config_source, overrides)).lastrowid
            conn.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             [(run, s["variant"], *kernels.get(s["variant"], (None, None, "")), s["op"], m.name,
                               s[m.name], s["warmup"], s["boot"], s["cycle"],
                               json.dumps(s.get("axes") or {}, sort_keys=True), s.get("host"))
                              for s in data["samples"] for m in METRICS if s.get(m.name) is not None])
    except sqlite3.Error as exc:
        raise HarnessError(f"cannot store {job['dir']} in the history database: {exc}") from exc
    return run


def alike(conn, night, count):
    """The last ``count`` nights before ``night`` run alike: the same job file without overrides, on the same host
    with the same accelerator and QEMU; oldest first."""
    key = conn.execute("SELECT config_source, host, accel, qemu_version FROM runs WHERE id = ?", (night,)).fetchone()
    rows = conn.execute("SELECT id, time, job_dir FROM runs WHERE id < ? AND overrides = '' AND config_source IS ? "
                        "AND host IS ? AND accel IS ? AND qemu_version IS ? ORDER BY id DESC LIMIT ?",
                        (night, *key, count)).fetchall()
    return [Night(*r) for r in reversed(rows)]


def samples_of(conn, nights):
    """The samples of ``nights`` in the shape of results.json samples plus ``run``, ``kernel_release``,
    ``config_sha256`` and ``series``."""
    wide = {}
    ids = [n.id if isinstance(n, Night) else n for n in nights]
    for run, variant, release, config, series, op, name, value, warm, boot, cycle, axes, host in conn.execute(
            "SELECT run, variant, kernel_release, config_sha256, series, op, metric, value, warmup, boot, cycle, "
            f"axes, host FROM samples WHERE run IN ({','.join('?' * len(ids))}) ORDER BY run, boot, cycle, op",
            ids):
        sample = wide.setdefault((run, variant, axes, host, boot, cycle, op), {
            "variant": variant, "run": run, "boot": boot, "cycle": cycle, "op": op, "warmup": bool(warm),
            "kernel_release": release, "config_sha256": config, "series": series, "host": host,
            **({"axes": json.loads(axes)} if axes != "{}" else {})})
        sample[name] = value
    return list(wide.values())


def levels(samples):
    """{(variant, setting, op, metric): mean log boot Q1} of one night's samples, and {(variant, setting): config
    hash}; a setting is the host and axis leaves (``stats.setting``)."""
    groups = defaultdict(list)
    configs = {}
    for s in samples:
        setting = stats.setting(s, per_host=True)
        groups[(s["variant"], setting, s["op"])].append(s)
        configs[(s["variant"], setting)] = s.get("config_sha256")
    out = {}
    for (variant, setting, op), group in groups.items():
        for m in METRICS:
            q1s = [q for q in stats.boot_q1s(group, m.name).values() if q > 0]
            if q1s:
                out[(variant, setting, op, m.name)] = sum(map(math.log, q1s)) / len(q1s)
    return out, configs


def values(samples, configs=None, measured=None):
    """{(variant, setting, op, metric): the night's value}: a candidate's level minus the same night's base level in
    the same setting, the base's own level.  With ``configs`` ({(variant, setting): config hash}, tonight's), a
    variant whose kernel config differs is left out.  ``measured`` is ``levels(samples)`` where already known."""
    level, mine = measured or levels(samples)
    out = {}
    for (variant, setting, op, name), x in level.items():
        if configs is not None and configs.get((variant, setting)) != mine.get((variant, setting)):
            continue
        if variant == BASE:
            out[(variant, setting, op, name)] = x
        elif (BASE, setting, op, name) in level:
            out[(variant, setting, op, name)] = x - level[(BASE, setting, op, name)]
    return out


def prediction_p(x, history, new=1):
    """One-sided p of the mean of ``new`` new nights being at least ``x`` when they are like ``history`` (a
    prediction interval: t with k−1 degrees of freedom over the k values); None with fewer than 2 values."""
    k = len(history)
    if k < 2:
        return None
    mean = sum(history) / k
    sd = math.sqrt(sum((h - mean) ** 2 for h in history) / (k - 1))
    if sd == 0:
        return 0.0 if x > mean else 1.0
    return float(scipy_stats.t.sf((x - mean) / (sd * math.sqrt(1 / new + 1 / k)), k - 1))


def trends(tonight, nights, by_night, min_nights=MIN_NIGHTS):
    """Tonight's values (``values`` of its samples) against ``by_night`` ({night id: its values}) of the ``nights``
    alike: a Trend per (variant, setting, op, metric)."""
    keys = sorted(tonight, key=lambda k: (k[0] != BASE, k[0], k[1] or "", not k[2].startswith("inflate"), k[2],
                                         [m.name for m in METRICS].index(k[3])))
    alerting = [k for k in keys if k[0] != BASE and metric(k[3]).primary]
    alpha = FALSE_ALARM / (2 * len(alerting)) if alerting else FALSE_ALARM
    out = []
    for key in keys:
        seen = [(n.id, by_night[n.id][key]) for n in nights if key in by_night.get(n.id, {})]
        xs = [x for _, x in seen]
        p1 = p2 = None
        if len(xs) >= min_nights:
            p1 = prediction_p(tonight[key], xs)
            p2 = prediction_p((xs[-1] + tonight[key]) / 2, xs[:-1], new=2) if len(xs) > min_nights else None
        out.append((key, seen, p1, p2))
    secondary = [i for i, (key, _, p1, _) in enumerate(out) if not metric(key[3]).primary and p1 is not None]
    holm = dict(zip(secondary, stats.holm([min(1.0, 2 * min(out[i][2], 1 - out[i][2])) for i in secondary])))
    trends_ = []
    for i, (key, seen, p1, p2) in enumerate(out):
        variant, setting, op, name = key
        verdict = _verdict(key, seen, p1, p2, alpha, holm.get(i), min_nights)
        trends_.append(Trend(variant, setting, op, name, variant != BASE, math.exp(tonight[key]),
                             tuple((n, math.exp(x)) for n, x in seen), p1, p2, verdict, key in alerting))
    return trends_


def _verdict(key, seen, p1, p2, alpha, p_holm, min_nights):
    if p1 is None:
        return f"no verdict: {len(seen)} of {min_nights} nights alike"
    if not metric(key[3]).primary:
        if p_holm is not None and p_holm < stats.ALPHA:
            return "higher" if p1 < 0.5 else "lower"
        return "no change"
    if min(p for p in (p1, p2) if p is not None) < alpha:
        return "regression"
    if 1 - p1 < alpha or (p2 is not None and 1 - p2 < alpha):
        return "improvement"
    return "no change"


def judge(conn, night, min_nights=MIN_NIGHTS, count=14):
    """Trends of night ``night`` (already stored) against up to ``count`` nights alike before it: (trends, nights)."""
    nights = alike(conn, night, count)
    tonight_samples = samples_of(conn, [night])
    measured = levels(tonight_samples)
    tonight, configs = values(tonight_samples, measured=measured), measured[1]
    every = samples_of(conn, nights) if nights else []
    by_night = {n.id: values([s for s in every if s["run"] == n.id], configs) for n in nights}
    return trends(tonight, nights, by_night, min_nights), nights


def changes(conn, night, nights):
    """What differs between night ``night`` and the last of ``nights`` (kernel release, config, series) per
    variant, as lines."""
    if not nights:
        return []
    now, was = _kernels(conn, night), _kernels(conn, nights[-1].id)
    out = []
    for variant, mine in now.items():
        if variant in was:
            diffs = [f"{key} `{was[variant][key] or '(none)'}` → `{mine[key] or '(none)'}`" for key in mine
                     if mine[key] != was[variant][key]]
            out += [f"{variant}: {', '.join(diffs)}"] if diffs else []
    return out


def _kernels(conn, run):
    return {v: {"kernel": r, "config": c, "series": s} for v, r, c, s in conn.execute(
        "SELECT DISTINCT variant, kernel_release, config_sha256, series FROM samples WHERE run = ?", (run,))}

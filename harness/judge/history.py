"""Tonight judged against the nights alike in the nightly database (harness/judge/nights.py).

Each night is summarised per (variant, setting, op, metric) by the mean of its boots' log Q1 (``levels``).  A
candidate's value for the night is its level minus the base's level of the same night and setting — the host's
mood that night moves both, and cancels — and the base's value is its level.  Tonight's value is compared with
the same value on the previous nights *alike*: the same job file run without overrides, on the same host, with the
same accelerator and QEMU, for the same variant, setting and kernel config.  Two looks, each a one-sided
prediction interval (Student's t with k−1 degrees of freedom over the k nights' values): tonight alone, and the
mean of tonight and the night before it against the nights before those.  Only the primary metric (time to target)
of a candidate can fail the night, at a false-alarm rate of ``FALSE_ALARM`` per night split evenly (Bonferroni)
over every look at every such metric; the base's level and the secondary metrics are reported, with Holm for the
latter, but never fail it.  With fewer than ``min_nights`` nights alike there is no verdict.  ``Tonight`` gathers a
night's verdicts for harness/judge/exports.py to publish.
A night that moved on a git base that moved since the night alike before it asks for a bisection of that range
(``bisect_request``: ``nightly --bisect`` runs it); ``bisected`` words what it found.  A candidate's regression asks
for the candidate's series on every commit; without one, the base's own level asks — its counted work higher, or its
time a regression — since a base commit that slows base and candidate alike leaves the candidate's ratio unmoved.
benchmarks/nightly_replay.py measures the false alarms and the detection of a step.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from scipy import stats as scipy_stats

from harness.judge import answers, outcomes, stats
from harness.judge.nights import Bisected, alike, changes, samples_of
from harness.results.metrics import LABELS, METRICS, metric

BASE = "base"
BISECTED_OPS = ("inflate", "deflate")  # the ops balloon-harness bisect measures
CONCLUSION = ("first bad commit:", "bisection undecided", "bisection unfinished")  # bisect.txt's last word
FALSE_ALARM = 0.02   # nights of an unchanged kernel that may alert: one in fifty
MIN_NIGHTS = 5       # nights alike a verdict needs
SAME = 1e-9          # log values closer than this are one value (a fixed count's mean of logs rounds)


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
    bisection: Bisected | str | None = None  # nightly --bisect: what it found, or the line saying why none ran

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


@dataclass(frozen=True)
class BisectRequest:
    """What a moved night asks ``balloon-harness bisect`` for: the base's range ``good``..``bad`` (commit ids), the
    variant that moved with its series (None: the base, bisected bare), the op, the metric (None: bisect's default,
    counted work first), and the verdict that asked."""

    variant: str
    series: Path | None
    op: str
    metric: str | None
    good: str
    bad: str
    why: str


def moved(tonight):
    """The trend that asks for a bisection: a candidate's regression, else the base's counted work higher, else the
    base's time a regression; None."""
    base = [t for t in tonight.trends if t.variant == BASE]
    return next((t for t in (*tonight.regressions,
                             *(t for t in base if metric(t.metric).counted and t.verdict == "higher"),
                             *(t for t in base if metric(t.metric).primary and t.verdict == "regression"))), None)


def bisect_request(tonight, base, before, variants):
    """The ``BisectRequest`` of ``tonight``, or the line that says why there is none.  ``base`` and ``before`` are
    the base identities of tonight and of the last night alike (``nights.base_of``), ``variants`` {name: Variant} of
    the job that ran."""
    t = moved(tonight)
    if t is None:
        return ("no bisection: the night did not move (no candidate regression; the base's time and counted work "
                "unchanged, or too few nights alike to say)")
    said = f"{t.variant} {t.op} {LABELS[t.metric]}: {t.verdict}"
    previous = tonight.nights[-1].id
    if not (base or "").startswith("git:"):
        return f"no bisection of {said}: the base {base or '(unknown)'} is not a git tree, so it has no history"
    if not (before or "").startswith("git:"):
        return f"no bisection of {said}: the night alike before (#{previous}) has no git base ({before or 'none'})"
    if before == base:
        return f"no bisection of {said}: the base did not move since night #{previous} ({base[4:16]})"
    if t.op not in BISECTED_OPS:
        return f"no bisection of {said}: bisect measures {' and '.join(BISECTED_OPS)} only"
    series = None
    if t.variant != BASE:
        v = variants.get(t.variant)
        lacks = ("has no series in the job that ran" if v is None or v.series is None else
                 "has prerequisites" if v.prerequisites else
                 f"is the first {v.patches} patches of its series" if v.patches else None)
        if lacks:
            return f"no bisection of {said}: bisect --with applies one whole series, and {t.variant} {lacks}"
        series = v.series
    return BisectRequest(t.variant, series, t.op, None if t.variant != BASE else t.metric, before[4:], base[4:], said)


def bisected(request, command, directory=None, record=None, transcript="", error=""):
    """The ``Bisected`` of ``request`` that ran as ``command`` into ``directory``: from its bisect.json ``record``
    (the metric it chose) and bisect.txt ``transcript``, or without a record the ``error`` it stopped with."""
    line = next((x for x in transcript.splitlines() if x.startswith(CONCLUSION)), "bisection unfinished")
    first = (record or {}).get("first_bad")
    if first:
        n = next((i for i, s in enumerate(record["steps"], 1) if s["commit"] == first), None)
        outcome, said = "found", line + (f" (bisection step {n} of {len(record['steps'])})" if n else
                                         " (the bad end itself, measured against the good end first)")
    elif record:
        outcome, said = "undecided", line if line.startswith("bisection") else f"bisection undecided: {line}"
    else:
        outcome, said = "error", f"bisection undecided: it stopped with an error: {error or 'no bisect.json'}"
    return Bisected(request.variant, request.op, (record or {}).get("metric") or request.metric, request.good,
                    request.bad, outcome, first, said, transcript or error, str(directory) if directory else None,
                    command)


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
        for m in (m for m in METRICS if m.compared):
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
    prediction interval: t with k−1 degrees of freedom over the k values); None with fewer than 2 values.  Values
    without spread (a count that never varies) are 0 or 1 where ``x`` differs from them, 0.5 where it equals them
    within ``SAME`` (their log's rounding), neither higher nor lower."""
    k = len(history)
    if k < 2:
        return None
    mean = sum(history) / k
    sd = math.sqrt(sum((h - mean) ** 2 for h in history) / (k - 1))
    if sd < SAME:
        return 0.5 if abs(x - mean) < SAME else 0.0 if x > mean else 1.0
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

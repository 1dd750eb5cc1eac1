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
benchmarks/nightly_replay.py measures the false alarms and the detection of a step.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from scipy import stats as scipy_stats

from harness.judge import answers, outcomes, stats
from harness.judge.nights import alike, changes, samples_of
from harness.results.metrics import METRICS, metric

BASE = "base"
FALSE_ALARM = 0.02   # nights of an unchanged kernel that may alert: one in fifty
MIN_NIGHTS = 5       # nights alike a verdict needs


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

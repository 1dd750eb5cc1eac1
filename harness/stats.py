"""Statistics for comparing variants: robust summaries, confidence intervals of ratios, rank tests, verdicts.

What is compared is the lower quartile (Q1) of the measured cycles, not the median: the host only ever adds time
(another process on the core, a preempted vCPU thread), so a balloon operation's times have a steady floor and a
tail that comes and goes with the host, and Q1 follows the floor — the balloon's own cost — while the median moves
with the tail (docs/statistics.md has the measurement). Samples of a variant are grouped by boot. The ratio of a
variant's Q1 to the baseline's Q1 gets a 95 % confidence interval from a seeded cluster bootstrap (whole boots
drawn with replacement), so boot-to-boot variance counts without counting the cycles' own spread twice; with fewer
than three boots a side has too few clusters to draw from, and the cycles within each drawn boot are resampled too
(two-level). The Mann-Whitney U test (normal approximation with tie correction) gives a p-value. A change is called
only when the interval excludes 1 and p < 0.05; otherwise the verdict is "no significant change" and
``detectable`` says how large a change the job could have seen. Warm-up samples are summarised but never compared.
A variant is compared only with the baseline measured alike: in the same leaf of every other axis of the job (a
sample's ``axes``) and, with ``per_host``, on the same host (its ``host``) — two machines or two kernel configs
differ more than two series do. ``compare_axes`` compares along the other axes the same way: each leaf against the
axis's first, among samples alike in everything else.
"""

import math
import random
from collections import defaultdict
from dataclasses import dataclass, replace

from .metrics import METRICS

BOOTSTRAP = 2000
ALPHA = 0.05
MIN_CLUSTERS = 3  # boots a side needs for the cluster bootstrap


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def quantile(xs, q):
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (pos - lo)


def lower_quartile(xs):
    """Q1, the statistic compared."""
    return quantile(xs, 0.25)


@dataclass(frozen=True)
class Summary:
    op: str
    metric: str
    variant: str
    warmup: bool
    n: int
    median: float
    q1: float          # lower quartile: what ``compare`` compares
    iqr: float
    cv: float          # standard deviation / mean
    where: str | None = None  # the host and axis leaves the samples share (None: one setting, pooled hosts)


@dataclass(frozen=True)
class Comparison:
    op: str
    metric: str
    variant: str
    baseline: str
    n: int
    ratio: float       # Q1 of the variant / Q1 of the baseline
    ci95: tuple
    p: float
    verdict: str
    detectable: float  # half-width of the CI as a fraction: smaller changes would not have been seen
    where: str | None = None  # where both were measured, as in ``Summary``
    axis: str = "variant"     # what is compared: the variants, or the leaves of this axis


def hosts(samples):
    """The hosts the samples were measured on, sorted (None for samples that do not say)."""
    return sorted({s.get("host") for s in samples}, key=lambda h: h or "")


def where(sample, per_host=False):
    """The setting a sample is compared within: its host (with ``per_host``) and its leaf of every axis."""
    parts = ([sample.get("host") or "?"] if per_host else []) + [
        f"{a}={v}" for a, v in sorted((sample.get("axes") or {}).items())]
    return ", ".join(parts) or None


def along(samples, axis):
    """The samples that have ``axis``, relabelled to be compared along it: the leaf (``axis=leaf``) takes the
    place of the variant, and the variant becomes one of the settings held equal."""
    out = []
    for s in samples:
        axes = dict(s.get("axes") or {})
        if axis in axes:
            leaf = axes.pop(axis)
            out.append({**s, "variant": f"{axis}={leaf}", "axes": {**axes, "variant": s["variant"]}})
    return out


def axes_of(samples):
    """{axis: its leaves in job order} for the axes with more than one leaf among ``samples``."""
    leaves = {}
    for s in samples:
        for a, v in (s.get("axes") or {}).items():
            leaves.setdefault(a, {})[v] = None  # an ordered set
    return {a: list(v) for a, v in leaves.items() if len(v) > 1}


def summarize(samples, per_host=False):
    """Summaries per (op, metric, variant, warm-up or not), per setting (``where``)."""
    groups = defaultdict(list)
    for s in samples:
        for m in METRICS:
            if s.get(m.name) is not None:
                groups[(s["op"], m.name, s["variant"], s["warmup"], where(s, per_host))].append(s[m.name])
    out = []
    for (op, metric, variant, warm, setting), xs in groups.items():
        mean = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
        out.append(Summary(op, metric, variant, warm, len(xs), median(xs), lower_quartile(xs),
                           quantile(xs, 0.75) - quantile(xs, 0.25), sd / mean if mean else 0.0, setting))
    return out


def mann_whitney_p(a, b):
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected)."""
    n1, n2 = len(a), len(b)
    ranked = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks, ties, i = [0.0] * len(ranked), 0.0, 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, ranked) if g == 0)
    u = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / math.sqrt(var)
    return min(1.0, math.erfc(max(z, 0) / math.sqrt(2)))


def _resample(by_boot, rng):
    boots = list(by_boot.values())
    drawn = [rng.choice(boots) for _ in boots] if len(boots) > 1 else boots
    if len(boots) < MIN_CLUSTERS:
        return [rng.choice(b) for b in drawn for _ in b]
    return [x for b in drawn for x in b]


def ratio_ci(base_by_boot, var_by_boot, seed=0):
    """95 % bootstrap interval of Q1(variant) / Q1(base)."""
    rng = random.Random(seed)
    ratios = sorted(lower_quartile(_resample(var_by_boot, rng)) / lower_quartile(_resample(base_by_boot, rng))
                    for _ in range(BOOTSTRAP))
    return quantile(ratios, ALPHA / 2), quantile(ratios, 1 - ALPHA / 2)


def verdict(metric, ci, p):
    if p >= ALPHA or ci[0] <= 1.0 <= ci[1]:
        return "no significant change"
    better = ci[1] < 1.0 if metric.lower_is_better else ci[0] > 1.0
    if metric.name.startswith(("qemu_cpu", "guest_cpu")):
        return "less CPU" if better else "more CPU"
    return "faster" if better else "slower"


def compare(samples, baseline, seed=0, per_host=False):
    """Compare every non-baseline variant with ``baseline`` on every metric and op (warm-up excluded), within each
    setting (``where``; a setting without the baseline: no comparison)."""
    data = defaultdict(lambda: defaultdict(list))
    for s in samples:
        if not s["warmup"]:
            for m in METRICS:
                if s.get(m.name) is not None:
                    data[(s["op"], m.name, s["variant"], where(s, per_host))][(s.get("host"), s["boot"])].append(
                        s[m.name])
    out = []
    for (op, name, variant, setting), by_boot in sorted(data.items(), key=lambda kv: (*kv[0][:3], kv[0][3] or "")):
        base = data.get((op, name, baseline, setting))
        if variant == baseline or not base:
            continue
        metric = next(m for m in METRICS if m.name == name)
        a = [x for xs in base.values() for x in xs]
        b = [x for xs in by_boot.values() for x in xs]
        ci = ratio_ci(base, by_boot, seed)
        p = mann_whitney_p(a, b)
        out.append(Comparison(op, name, variant, baseline, len(b), lower_quartile(b) / lower_quartile(a), ci, p,
                              verdict(metric, ci, p), (ci[1] - ci[0]) / 2, setting))
    return out


def compare_axes(samples, seed=0, per_host=False):
    """Compare along every axis with several leaves: each leaf against the axis's first, within each setting of
    the other axes and the variant."""
    return [replace(c, axis=axis) for axis, leaves in axes_of(samples).items()
            for c in compare(along(samples, axis), f"{axis}={leaves[0]}", seed, per_host)]

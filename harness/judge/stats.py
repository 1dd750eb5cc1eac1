"""Statistics for comparing variants: boots as the unit, a Welch t-test on their log Q1s, Holm, power, verdicts.

Cycles within one boot are not independent (the host's mood lasts a boot), so a variant is judged by its boots:
each boot gives one number, the lower quartile (Q1) of its measured cycles (the host only ever adds time; Q1
follows the balloon's own floor, docs/statistics.md), and the boots' log Q1s of the variant and of the baseline go
into Welch's t-test (``scipy.stats.ttest_ind``, unequal variances).  The change is the ratio of geometric means of
the boots' Q1s, with its ``LEVEL`` interval from the same test.  ``MIN_BOOTS`` boots a side are needed to judge at
all; a comparison with fewer says "inconclusive" and how many it needs, with the ratio still shown.

The primary metric (time to target, per op) decides; counted work (guest instructions, requests: counts the
host's speed cannot move) answers where the time does not (harness/judge/answers.py); the other metrics are secondary.
Within each variant and setting, the primary comparisons form one family, the counted ones another and the
secondary ones a third, each Holm-corrected, so neither the two ops nor the many metrics inflate the false-change
rate of the job.  A comparison whose adjusted p < ``ALPHA`` says the metric's words: faster/slower, fewer/more
(instructions, requests), less/more CPU.  Otherwise it says "no significant change" only if the
job could have seen a change of ``MARGIN``: ``detectable`` is the change found with ``POWER`` (80 %) at this
noise and boot count; where that exceeds ``MARGIN`` the verdict is "inconclusive" with the boots it would take.
The test's own arithmetic and its power (``Welch``, ``detectable``, ``boots_needed``, with ``MARGIN``, ``POWER``
and ``MIN_BOOTS``) are harness/judge/welch.py; this module groups the samples, judges and words the verdicts.

A variant is compared only with the baseline measured alike: in the same leaf of every other axis of the job (a
sample's ``axes``) and, with ``per_host``, on the same host.  ``compare_axes`` compares along the other axes the
same way: each leaf against the axis's first, among samples alike in everything else; ``compare_pairs`` compares
the pairs of variants a job names besides.  benchmarks/calibration.py measures the false-change rate and the power
of these rules.
"""

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, replace

from harness.judge.welch import MARGIN, MIN_BOOTS, POWER, Welch, boots_needed, detectable
from harness.results.metrics import METRICS, metric

ALPHA = 0.05     # false-change rate of each family of comparisons
LEVEL = 1 - ALPHA


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
    """Q1, a boot's statistic."""
    return quantile(xs, 0.25)


@dataclass(frozen=True)
class Summary:
    op: str
    metric: str
    variant: str
    warmup: bool
    n: int             # cycles
    boots: int
    median: float
    q1: float          # lower quartile of all the cycles
    iqr: float
    cv: float          # standard deviation / mean of the cycles
    setting: str | None = None  # the host and axis leaves the samples share (None: one setting, pooled hosts)


@dataclass(frozen=True)
class Comparison:
    op: str
    metric: str
    variant: str
    baseline: str
    boots: int                 # the variant's boots
    baseline_boots: int
    ratio: float | None        # geometric mean of the variant's boot Q1s / the baseline's (None: not comparable)
    ci: tuple | None           # its LEVEL interval (None with fewer than MIN_BOOTS boots a side)
    p: float | None            # Welch's two-sided p
    p_adjusted: float | None   # Holm-adjusted within the family (primary or secondary) of the variant
    verdict: str
    detectable: float | None   # the change found with POWER at this noise and boot count, as a fraction
    needs: int                 # boots a side for ``detectable`` <= MARGIN (0: already there)
    primary: bool
    setting: str | None = None  # where both were measured, as in ``Summary`` (results.json: ``where``)
    axis: str = "variant"      # what is compared: the variants, or the leaves of this axis
    counted: bool = False      # counted work (``Metric.counted``)
    spread: float | None = None  # the host's speed over both sides' measured operations of the op: max / min
    one_qemu: bool = True      # both sides ran one QEMU build (the samples' ``qemu``)

    @property
    def decided(self):
        """A change was called, or no change with the power to see MARGIN."""
        return not self.verdict.startswith("inconclusive")

    @property
    def changed(self):
        return self.verdict in metric(self.metric).words


def hosts(samples):
    """The hosts the samples were measured on, sorted (None for samples that do not say)."""
    return sorted({s.get("host") for s in samples}, key=lambda h: h or "")


def setting(sample, per_host=False):
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
    """Summaries per (op, metric, variant, warm-up or not), per setting (``setting``)."""
    groups = defaultdict(list)
    for s in samples:
        for m in METRICS:
            if s.get(m.name) is not None:
                groups[(s["op"], m.name, s["variant"], s["warmup"], setting(s, per_host))].append(s)
    out = []
    for (op, name, variant, warm, at), group in groups.items():
        xs = [s[name] for s in group]
        mean = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
        out.append(Summary(op, name, variant, warm, len(xs), len({(s.get("host"), s["boot"]) for s in group}),
                           median(xs), lower_quartile(xs), quantile(xs, 0.75) - quantile(xs, 0.25),
                           sd / mean if mean else 0.0, at))
    return out


def boot_q1s(samples, name):
    """{(host, boot): Q1 of that boot's measured values of metric ``name``}."""
    by_boot = defaultdict(list)
    for s in samples:
        if not s["warmup"] and s.get(name) is not None:
            by_boot[(s.get("host"), s["boot"])].append(s[name])
    return {b: lower_quartile(xs) for b, xs in by_boot.items()}


def holm(ps):
    """Holm's step-down adjustment of the p-values ``ps`` (None stays None), in their order."""
    order = sorted((p, i) for i, p in enumerate(ps) if p is not None)
    out, running = list(ps), 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p))
        out[i] = running
    return out


def judge(m, base, variant, family_size=1, alpha=ALPHA):
    """(ratio, ci, p, detectable, needs, verdict-before-Holm) of boot Q1s ``variant`` against ``base``; the
    detectable change is figured at the family's Bonferroni level, Holm's first step."""
    if min(base + variant, default=0) <= 0:
        return None, None, None, None, MIN_BOOTS, f"inconclusive: a boot's Q1 is 0 (below the {m.resolution:g} " \
                                                  f"{m.unit} the metric resolves)"
    if min(len(base), len(variant)) < MIN_BOOTS:
        ratio = math.exp(sum(map(math.log, variant)) / len(variant) - sum(map(math.log, base)) / len(base))
        return ratio, None, None, None, MIN_BOOTS, \
            f"inconclusive: {min(len(base), len(variant))} boot(s) a side, needs ≥ {MIN_BOOTS}"
    w = Welch.of(base, variant, 1 - alpha)
    seen = detectable(w.se, w.df, alpha / family_size) if w.se else 0.0
    needs = 0 if seen <= MARGIN else boots_needed(w.sd, alpha / family_size)
    return w.ratio, w.ci, w.p, seen, needs, None


def words(m, ratio, p_adjusted, seen, boots, needs, alpha=ALPHA):
    """The verdict of a compared metric from its Holm-adjusted p and its power."""
    if p_adjusted is not None and p_adjusted < alpha:
        return m.words[(ratio < 1) != m.lower_is_better]
    if seen is not None and seen <= MARGIN:
        return f"no significant change (could detect ±{seen * 100:.1f} % with {POWER * 100:.0f} % power)"
    if seen is None:
        return None
    return f"inconclusive: {boots} boots a side could detect only ±{seen * 100:.0f} %, needs ≥ {needs}"


def compare(samples, baseline, per_host=False, alpha=ALPHA):
    """Compare every non-baseline variant with ``baseline`` on every metric and op (warm-up excluded), within each
    setting (``setting``; a setting without the baseline: no comparison), each family at ``alpha`` (a sequential
    job's look sets it lower), its intervals at 1 - ``alpha``."""
    groups = defaultdict(list)
    for s in samples:
        groups[(s["variant"], setting(s, per_host))].append(s)
    out = []
    for (variant, at), mine in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        base = groups.get((baseline, at))
        if variant == baseline or not base:
            continue
        out += _family(mine, base, variant, baseline, at, alpha)
    return out


FAMILIES = ("primary", "counted", "secondary")


def family_of(m):
    """The family of comparisons metric ``m`` is Holm-corrected in."""
    return "primary" if m.primary else "counted" if m.counted else "secondary"


def _family(mine, base, variant, baseline, at, alpha):
    """The comparisons of one variant in one setting, Holm-adjusted per family (primary, counted, secondary)."""
    ops = list(dict.fromkeys(s["op"] for s in mine if not s["warmup"]))
    q1s = {(op, m): (list(boot_q1s([s for s in base if s["op"] == op], m.name).values()),
                     list(boot_q1s([s for s in mine if s["op"] == op], m.name).values()))
           for op in ops for m in METRICS if m.compared}
    keys = [key for key, (b, v) in q1s.items() if b and v]
    size = {f: sum(1 for _, m in keys if family_of(m) == f) for f in FAMILIES}
    judged = {}
    for op, m in keys:
        b, v = q1s[(op, m)]
        judged[(op, m.name)] = (len(v), len(b), *judge(m, b, v, size[family_of(m)], alpha))
    adjusted = {}
    for f in FAMILIES:
        keys_ = [k for k in judged if family_of(metric(k[1])) == f]
        adjusted.update(zip(keys_, holm([judged[k][4] for k in keys_])))
    one_qemu = len({s.get("qemu") for s in mine + base}) == 1
    spreads = {op: spread([s for s in mine + base if s["op"] == op]) for op in ops}
    out = []
    for op, m in keys:
        n, nb, ratio, ci, p, seen, needs, said = judged[(op, m.name)]
        verdict = said or words(m, ratio, adjusted[(op, m.name)], seen, min(n, nb), needs, alpha)
        out.append(Comparison(op, m.name, variant, baseline, n, nb, ratio, ci, p, adjusted[(op, m.name)], verdict,
                              seen, needs, m.primary, at, counted=m.counted,
                              spread=spreads[op], one_qemu=one_qemu))
    return out


def spread(samples):
    """How much the host's speed (``host_speed``) varied over the measured ``samples``: max / min (None where
    not counted)."""
    speeds = [s["host_speed"] for s in samples if not s["warmup"] and s.get("host_speed")]
    return max(speeds) / min(speeds) if speeds else None


def compare_pairs(samples, pairs, per_host=False, alpha=ALPHA):
    """Compare each (variant, another) of ``pairs`` (the job's ``compare``) as ``compare`` compares a variant with
    the baseline, each pair a family of its own."""
    return [c for variant, other in pairs
            for c in compare([s for s in samples if s["variant"] in (variant, other)], other, per_host, alpha)]


def compare_axes(samples, per_host=False, alpha=ALPHA):
    """Compare along every axis with several leaves: each leaf against the axis's first, within each setting of
    the other axes and the variant."""
    return [replace(c, axis=axis) for axis, leaves in axes_of(samples).items()
            for c in compare(along(samples, axis), f"{axis}={leaves[0]}", per_host, alpha)]


def record(c):
    """A comparison for results.json: its fields in order, the setting under the key ``where`` it has always had."""
    return {("where" if k == "setting" else k): v for k, v in asdict(c).items()}


def from_record(r):
    """The ``Comparison`` of a results.json record (``record``'s inverse)."""
    return Comparison(**{("setting" if k == "where" else k): tuple(v) if k == "ci" and v else v for k, v in r.items()})

"""One comparison's arithmetic: Welch's t-test of two sets of boot statistics on their logs, and its power — the
change it could detect (``detectable``) and the boots a side it would need to see ``MARGIN`` (``boots_needed``).

``harness.judge.stats`` applies it to every variant, op and metric and turns its numbers into verdicts; the
constants here are the power half of that rule: "no significant change" is said only where a change of ``MARGIN``
would have been found with ``POWER``, and nothing is judged with fewer than ``MIN_BOOTS`` boots a side.
"""

import math
import warnings
from dataclasses import dataclass

from scipy import stats as scipy_stats
from scipy.special import stdtrit

POWER = 0.8      # "could detect": the change found this often
MARGIN = 0.10    # "no significant change" only where a change of this size would have been detected
MIN_BOOTS = 3    # boots a side a verdict needs
MAX_BOOTS = 500  # beyond this "needs" is not worth saying


def detectable(se, df, alpha, power=POWER):
    """The change (a fraction, upwards) a two-sided test at ``alpha`` finds with ``power`` given the standard error
    ``se`` of a log ratio with ``df`` degrees of freedom."""
    return math.expm1((stdtrit(df, 1 - alpha / 2) + stdtrit(df, power)) * se)  # t quantiles, as t.ppf


def boots_needed(sd, alpha, margin=MARGIN):
    """Boots a side (equal sides, boot-to-boot standard deviation ``sd`` of log Q1) for ``detectable`` <= margin at
    ``alpha``; ``detectable`` falls as boots are added, so a bisection finds the fewest."""
    lo, hi = MIN_BOOTS, MAX_BOOTS
    while lo < hi:
        n = (lo + hi) // 2
        if detectable(sd * math.sqrt(2 / n), 2 * n - 2, alpha) <= margin:
            hi = n
        else:
            lo = n + 1
    return lo


@dataclass(frozen=True)
class Welch:
    """Welch's t-test of two sets of boot statistics, on their logs: the ratio, its interval, p, and power."""

    ratio: float
    ci: tuple
    p: float
    se: float
    df: float
    sd: float  # the pooled boot-to-boot standard deviation of log Q1

    @classmethod
    def of(cls, base, variant, level):
        """``variant`` against ``base``, the interval at ``level``."""
        ref = math.log(base[0])  # centred: counts vary by 0.01 %, which the moments of raw logs would lose
        lb, lv = [math.log(x) - ref for x in base], [math.log(x) - ref for x in variant]
        diff = sum(lv) / len(lv) - sum(lb) / len(lb)
        vb, vv = _var(lb), _var(lv)
        se = math.sqrt(vb / len(lb) + vv / len(lv))
        if se == 0:  # every boot alike on each side: the difference is exact
            return cls(math.exp(diff), (math.exp(diff),) * 2, 0.0 if diff else 1.0, 0.0, len(lb) + len(lv) - 2, 0.0)
        with warnings.catch_warnings():  # one side's counts all alike (requests) is exact, not a precision loss
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
            res = scipy_stats.ttest_ind(lv, lb, equal_var=False)
        lo, hi = res.confidence_interval(level)
        sd = math.sqrt(((len(lb) - 1) * vb + (len(lv) - 1) * vv) / (len(lb) + len(lv) - 2))
        return cls(math.exp(diff), (math.exp(lo), math.exp(hi)), float(res.pvalue), se, float(res.df), sd)


def _var(xs):
    mean = sum(xs) / len(xs)
    return sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)

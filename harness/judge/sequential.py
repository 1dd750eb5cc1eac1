"""Rounds that stop when decided: a group-sequential rule over a job's interleaved rounds.

A job with ``looks: [n1, n2, ..., nK]`` looks at its results after round n1, n2, ... (nK, its last round, is the
most it runs).  The looks share ``ALPHA`` by Lan and DeMets' Pocock-type spending function

    spend(t) = ALPHA * ln(1 + (e - 1) * t),    t = nj / nK

(it spends early, so a clear change stops the job soon): look j's boundary is the one that a test statistic with
no change behind it crosses for the first time at look j with probability spend(tj) - spend(tj-1), the looks'
statistics correlated as sqrt(ti / tj) since they share their boots (``scipy.stats.multivariate_normal``).  So
over all looks the chance of calling a change that is not there is ``ALPHA`` per family, whichever look stops the
job.  Each look judges every comparison as ``stats.compare`` does, at its boundary's nominal level alpha_j.  The
job stops at the first look where every question (an op of a variant against the baseline, ``answers.answers``) is
decided — by its time to target, or where that is undecided by its counted work (a change called at alpha_j, or "no
significant change" with the power to see ``MARGIN`` at alpha_j: that depends on the noise, not on the change, so it
cannot bias the call) — or where there is none, every version having failed so far — and its verdicts are that
look's.  Counted work cannot decide for a variant on another QEMU build than its baseline's (how long QEMU takes
over a request is not counted): such questions wait for their time.  The tests of the rounds after it SKIP with a
reason that starts with ``STOPPED``.  ``benchmarks/sequential.py`` measures the false-change rate, the
share decided and the rounds used by resampling recorded boots.
"""

import functools
import math
from dataclasses import dataclass

from scipy.optimize import brentq
from scipy.stats import multivariate_normal, norm

from harness.judge.answers import COUNTED, answers
from harness.judge.stats import ALPHA, compare, compare_pairs

STOPPED = "not needed: the rounds stopped"  # the start of the reason of every test skipped by the rule


def spend(t):
    """The share of ``ALPHA`` spent by information fraction ``t`` (0..1)."""
    return ALPHA * math.log(1 + (math.e - 1) * t)


def levels(looks):
    """{look round: its nominal two-sided alpha} for the looks (rounds, ascending)."""
    return dict(_levels(tuple(looks)))


@functools.cache
def _levels(looks):
    t = [n / looks[-1] for n in looks]
    cov = [[math.sqrt(min(a, b) / max(a, b)) for b in t] for a in t]
    bounds, out = [], {}
    for j, n in enumerate(looks):
        def inside(c):  # P(no look up to j crosses), the boundary at j being c
            limits = [*bounds, c]
            if j == 0:
                return 1 - 2 * norm.sf(c)
            return multivariate_normal.cdf(limits, cov=[row[:j + 1] for row in cov[:j + 1]],
                                           lower_limit=[-x for x in limits], rng=0, abseps=1e-4)
        target = 1 - spend(t[j])  # P(no crossing up to j) with no change behind the statistic
        c = brentq(lambda c: inside(c) - target, 1, 5, xtol=1e-3)  # levels to 3 digits, in 0.3 s for 6 looks
        bounds.append(c)
        out[n] = float(2 * norm.sf(c))
    return tuple(out.items())


@dataclass(frozen=True)
class Look:
    round: int          # the rounds judged: 1 .. round
    index: int          # 1-based, of ``len(looks)``
    alpha: float
    decided: bool       # every question decided
    comparisons: list
    answers: list

    def how(self):
        """How the questions were decided: on time, or which on counted work."""
        counted = [f"{a.variant} {a.op}" for a in self.answers if a.by == COUNTED]
        return f"on counted work: {', '.join(counted)}; the rest on time" if counted else "on time"


def look(samples, baseline, looks, upto, per_host=False, pairs=()):
    """The look that judges a job whose rounds 1..``upto`` are done: the first decided look, else the last look
    reached (None before the first)."""
    reached = None
    for index, (n, alpha) in enumerate(levels(looks).items(), 1):
        if n > upto:
            break
        judged = [s for s in samples if s["boot"] <= n]
        comps = compare(judged, baseline, per_host, alpha) + compare_pairs(judged, pairs, per_host, alpha)
        said = answers(comps)
        reached = Look(n, index, alpha, all(a.decided for a in said), comps, said)  # none: nothing to wait for
        if reached.decided:
            break
    return reached


def stop_reason(samples, baseline, looks, round_, per_host=False, pairs=()):
    """Why a test of ``round_`` need not run (None: it must): an earlier look decided every question."""
    done = look(samples, baseline, looks, round_ - 1, per_host, pairs)
    if done and done.decided:
        return (f"{STOPPED} at round {done.round} (look {done.index} of {len(looks)}): every question was decided "
                f"at alpha {done.alpha:.4f}, {done.how()}")
    return None

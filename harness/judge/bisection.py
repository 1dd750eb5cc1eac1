"""How a bisection decides: the change between its ends, each step's word, and the transcript with its bill.

A bisection first measures its two ends against each other (``span``): if the job cannot call a change of the
metric between them, "the change is not between these commits" and nothing is bisected.  The change found, D, sets
the line a commit is judged against: ``threshold`` (default half of D, in D's direction; LKP's robot likewise
judges a commit by which end it is nearer).  Each step measures a commit against the good end, interleaved, and
``word`` calls it

- ``bad`` where its interval lies wholly beyond the line, ``good`` where wholly short of it;
- ``skip`` where it did not apply, build or boot (``git bisect skip``), naming the cause;
- undecided (None) where its interval straddles the line, or there are too few boots for one, after the step's
  job has run its rounds: the bisection then stops and says so instead of guessing.

The metric is counted work where the ends' job counted it (guest instructions: the host's speed cannot move
them), else the time to target; ``--metric`` chooses.  This module reads results.json records only.
"""

from dataclasses import dataclass

from harness.judge import answers, outcomes
from harness.judge.policy import baseline_of
from harness.results.metrics import LABELS, metric

COUNTED_FIRST = ("guest_insns", "wall_s")


@dataclass(frozen=True)
class Span:
    """The change between the ends: its comparison record, and the line steps are judged against (a fraction)."""

    op: str
    metric: str
    comparison: dict
    line: float

    @property
    def change(self):
        return self.comparison["ratio"] - 1


@dataclass(frozen=True)
class Step:
    """One commit tested: git's word for it (None: undecided), why, and what it cost."""

    commit: str
    subject: str
    word: str | None
    why: str
    comparison: dict | None
    boots: int
    built: int
    job: str


def comparison(results, variant, op, name):
    """The record of ``variant`` against the job's baseline for ``op`` and metric ``name``, or None."""
    base = baseline_of(results)
    return next((c for c in results.get("comparisons", []) if c["variant"] == variant and c["baseline"] == base
                 and c["op"] == op and c["metric"] == name and c.get("axis", "variant") == "variant"), None)


def span(results, bad, op, name=None, threshold=None):
    """The ``Span`` of the ends' job (``bad`` against the good end), or the reason there is nothing to bisect.

    ``name`` None takes the first of ``COUNTED_FIRST`` the job measured; ``threshold`` is a fraction (its sign is
    D's), default D / 2."""
    names = [name] if name else COUNTED_FIRST
    found = [(n, c) for n in names if (c := comparison(results, bad, op, n)) and c["ratio"] is not None]
    failed = [o for o in outcomes.outcomes(results) if o["status"] != "PASS"]
    if not found:
        why = "; ".join(f"{o['variant']}: {outcomes.failure_text(o)}" for o in failed) or "no samples"
        return f"the ends were not both measured ({why})"
    n, c = found[0]
    if not (c["verdict"] in metric(n).words and c["ci"]):
        return (f"the change is not between these commits: {op} {LABELS[n]} of the bad end against the good "
                f"{answers.interval_text(c['ratio'], c['ci'], 2)} {answers.short(c['verdict'])}")
    d = c["ratio"] - 1
    line = d / 2 if threshold is None else abs(threshold) * (1 if d > 0 else -1)
    if abs(line) >= abs(d):
        return (f"the ends differ by {d * 100:+.2f} %, within the threshold {line * 100:+.2f} %: no commit between "
                "them can be beyond it")
    return Span(op, n, c, line)


def word(results, candidate, sp):
    """(git's word for ``candidate``: good, bad, skip or None for undecided; why) from its step's job."""
    mine = next((o for o in outcomes.outcomes(results) if o["variant"] == candidate), None)
    if mine and mine["stage"] in ("apply", "build", "boot"):
        return "skip", f"did not {mine['stage']}: {outcomes.failure_text(mine, 200)}"
    c = comparison(results, candidate, sp.op, sp.metric)
    if c is None or c["ci"] is None:
        why = outcomes.failure_text(mine) if mine and mine["status"] != "PASS" else "too few boots for an interval"
        return None, f"not measured: {why}"
    lo, hi = (x - 1 for x in c["ci"])
    near, far = (lo, hi) if sp.line > 0 else (-hi, -lo)
    line = abs(sp.line)
    said = f"{answers.interval_text(c['ratio'], c['ci'], 2)} against the good end, line {sp.line * 100:+.2f} %"
    if near > line:
        return "bad", said
    if far < line:
        return "good", said
    return None, f"{said}: the interval straddles the line"


def transcript(rng_text, sp, steps, first, possible, minutes, subject, ends):
    """The bisection as a reviewer reads it: the ends, each step, the first bad commit and the bill (``ends``: the
    ends' job's ``builds`` and ``boots``)."""
    label = f"{sp.op} {LABELS[sp.metric]}"
    out = [f"bisect {rng_text}: {label} {answers.interval_text(sp.comparison['ratio'], sp.comparison['ci'], 2)} "
           f"from the good end to the bad; a commit is bad beyond {sp.line * 100:+.2f} %", ""]
    for n, s in enumerate(steps, 1):
        out.append(f"  step {n}: {s.commit[:12]} {s.subject}: {s.word or 'undecided'} ({s.why})")
    out.append("")
    if first:
        step = next((s for s in steps if s.commit == first), None)  # none: git named the bad end, measured first
        c = step.comparison if step else sp.comparison
        size = f": {label} {answers.interval_text(c['ratio'], c['ci'], 2)} against the good end" if c else ""
        out.append(f"first bad commit: {first[:12]} {subject(first)}{size}")
    elif possible:
        out.append("first bad commit: one of " + ", ".join(f"{c[:12]} {subject(c)}" for c in possible)
                   + " (the others were skipped)")
    else:
        undecided = next((s for s in steps if s.word is None), None)
        out.append(f"bisection undecided at {undecided.commit[:12]} {undecided.subject}: {undecided.why}"
                   if undecided else "bisection unfinished")
    skipped = [s for s in steps if s.word == "skip"]
    if skipped:
        out.append("skipped: " + "; ".join(f"{s.commit[:12]} {s.subject} ({s.why})" for s in skipped))
    builds, boots = ends["builds"] + sum(s.built for s in steps), ends["boots"] + sum(s.boots for s in steps)
    out.append(f"bill: {len(steps)} commit{'s' * (len(steps) != 1)} tried besides the ends, {builds} kernel "
               f"build{'s' * (builds != 1)}, {boots} boots, {minutes:.1f} min")
    return "\n".join(out) + "\n"

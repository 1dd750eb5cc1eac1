"""Which patch carries the change: the steps of a series' staircase, each prefix against the one before.

A job whose variants are prefixes of one series (``patches: N``, or ``per_patch: true`` on a variant) compared each
with the prefix before it (``compare``; the first with the baseline) has a staircase: a comparison is a step where
the variant's applied patches are those of the prefix it is compared with plus the patch the step measures.  A
prefix that did not run (it did not apply, build or boot) is skipped: the next prefix is judged against the last
one before it that ran (``chain``; ``spans`` gives policy the pairs), and its step spans the patches of both, named
with the skipped prefix's cause.  The steps of one staircase, per op, metric and setting, are one family: their
p-values are Holm-adjusted together and the verdicts follow (``adjust``; the power each verdict quotes stays the
step's own).  ``text`` gives each patch its line per op: counted work first, then the time, each with its interval
and verdict.
"""

from dataclasses import dataclass, replace

from harness.judge import answers
from harness.judge.outcomes import outcomes, short
from harness.judge.stats import holm, words
from harness.results.metrics import LABELS, metric

CAUSES = ("apply", "build", "boot")  # the stages a prefix that did not run is named by


@dataclass(frozen=True)
class Step:
    op: str
    variant: str
    baseline: str     # the prefix before it that ran, or the job's baseline
    patch: str        # the patch's label, "3–4/4 subject" where the step spans a skipped prefix
    skipped: tuple    # the words of each prefix skipped: "3/4 did not build: …"
    comparisons: list  # counted metrics first, then the primary ones


def chain(results, variant, baseline):
    """(the variant ``variant``'s step is judged against, the prefixes skipped on the way): the one the job
    compares it with (``compare``), else the baseline; past every prefix that left no sample."""
    before = {}
    for a, b in results["job"].get("pairs") or []:
        before.setdefault(a, b)
    ran = {s["variant"] for s in results.get("samples", [])}
    other, skipped = before.get(variant, baseline), []
    while other != baseline and other not in ran and other not in skipped:
        skipped.append(other)
        other = before.get(other, baseline)
    return other, skipped


def spans(results, pairs, baseline):
    """``pairs`` with a pair whose other side did not run judged against the last prefix before that did (dropped
    where that is ``baseline``, with which every variant is compared anyway)."""
    ran = {s["variant"] for s in results.get("samples", [])}
    out = [(a, b if b in ran else chain(results, a, baseline)[0]) for a, b in pairs]
    return list(dict.fromkeys((a, b) for a, b in out if b != baseline))


def steps(results, comps, baseline):
    """Every ``Step`` of the job's staircases, inflate first, each in the order of its series."""
    applied = {v["name"]: v.get("series") or [] for v in results.get("variants", [])}
    found = {}
    for c in comps:
        other, skipped = chain(results, c.variant, baseline)
        mine, before = applied.get(c.variant) or [], applied.get(c.baseline)
        if (c.axis == "variant" and c.baseline == other and before is not None and len(mine) == len(before) + 1 +
                len(skipped) and mine[:len(before)] == before and any(len(s) > 1 and s[0] == mine[0]
                                                                      for s in applied.values())):
            found.setdefault((c.op, c.variant, other, tuple(skipped)), []).append(c)
    ordered = sorted(found.items(), key=lambda kv: (not kv[0][0].startswith("inflate"), kv[0][0],
                                                    len(applied[kv[0][1]])))
    return [Step(op, variant, other, _label(applied[variant], len(applied[other])), _causes(results, skipped,
                                                                                              applied[variant]),
                 sorted([c for c in cs if c.counted or c.primary], key=lambda c: not c.counted))
            for (op, variant, other, skipped), cs in ordered if any(c.counted or c.primary for c in cs)]


def _label(patches, before):
    """The label of the patches a step adds to the ``before`` it had: "2/4 subject", or "3–4/4 subject"."""
    return patches[-1] if len(patches) == before + 1 else f"{before + 1}–{patches[-1]}"


def _causes(results, skipped, patches):
    """Why each skipped prefix did not run, numbered as its patch: "3/4 did not build: <first error>"."""
    total = patches[-1].split(" ")[0].split("/")[-1]
    known = {o["variant"]: o for o in outcomes(results)}
    first = len(patches) - len(skipped)
    return tuple(f"{first + i}/{total} " + _cause(known.get(name)) for i, name in enumerate(reversed(skipped)))


def _cause(o):
    """A prefix's failure in a few words, from its outcome (harness/judge/outcomes.py)."""
    if not o or o["status"] == "not run":
        return "did not run"
    why = short(o["trouble"] or o["reason"], 60)
    said = f"did not {o['stage']}" if o.get("stage") in CAUSES else o["status"]
    return f"{said}: {why}" if why else said


def staircases(found):
    """The ``Step``s grouped by staircase and op, as [(op, [Step, ...])], each in the order of its series."""
    before = {s.variant: s.baseline for s in found}

    def head(variant):  # the staircase's first prefix stands for the staircase
        return head(before[variant]) if before.get(variant) in before else variant
    groups = {}
    for s in found:
        groups.setdefault((head(s.variant), s.op), []).append(s)
    return [(op, mine) for (_, op), mine in groups.items()]


def adjust(results, comps, baseline, alpha):
    """``comps`` with the steps of each staircase, per op, metric and setting, Holm-adjusted as one family."""
    families = {}
    for n, (_, found) in enumerate(staircases(steps(results, comps, baseline))):
        for c in (c for s in found for c in s.comparisons):
            families.setdefault((n, c.metric, c.setting), []).append(c)
    adjusted = {}
    for family in families.values():
        for c, p in zip(family, holm([c.p for c in family])):
            adjusted[id(c)] = c if c.p is None else replace(c, p_adjusted=p, verdict=words(
                metric(c.metric), c.ratio, p, c.detectable, min(c.boots, c.baseline_boots), c.needs, alpha))
    return [adjusted.get(id(c), c) for c in comps]


def line(step):
    """One patch's step: counted work first, then the time, each with its interval and verdict; the prefixes it
    spans that did not run, and why."""
    said = "; ".join(f"{LABELS[c.metric]} {answers.change(c)} {answers.short(c.verdict)}" for c in step.comparisons)
    return f"{step.op} {step.patch}: {said}" + (f" ({'; '.join(step.skipped)})" if step.skipped else "")


def of_version(results, comps, baseline, name):
    """The steps of the staircase that ends in variant ``name`` (a version with all its patches)."""
    applied = {v["name"]: v.get("series") or [] for v in results.get("variants", [])}
    whole = applied.get(name) or []
    return [s for s in steps(results, comps, baseline) if whole[:len(applied[s.variant])] == applied[s.variant]]


def text(results, comps, baseline):
    """The staircase under the tables ("" where the job has none)."""
    lines = [f"  {line(s)}" for s in steps(results, comps, baseline)]
    return "Which patch carries the change (each step against the one before it):\n" + "\n".join(lines) if lines \
        else ""

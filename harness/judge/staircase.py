"""Which patch carries the change: the steps of a series' staircase, each prefix against the one before.

A job whose variants are prefixes of one series (``patches: N`` on a variant) compared each with the prefix before
it (``compare``; the first with the base) has a staircase: a comparison is a step where the variant's applied
patches are its baseline's plus one, of a series of more than one patch, and that one is the patch the step
measures.  ``text`` gives each patch its
line per op: counted work first, then the time, each with its interval and verdict.
"""

from harness.judge import answers
from harness.results.metrics import LABELS


def steps(results, comps):
    """[(op, patch label, [comparisons of that step, counted metrics first])], in the order of the series."""
    applied = {v["name"]: v.get("series") or [] for v in results.get("variants", [])}
    found = {}
    for c in comps:
        mine, before = applied.get(c.variant) or [], applied.get(c.baseline)
        if mine and before == mine[:-1] and any(len(s) > 1 and s[0] == mine[0] for s in applied.values()):
            found.setdefault((c.op, len(mine), mine[-1]), []).append(c)
    ordered = sorted(found.items(), key=lambda kv: (not kv[0][0].startswith("inflate"), kv[0][0], kv[0][1]))
    return [(op, patch, sorted(cs, key=lambda c: (not c.counted, not c.primary)))
            for (op, _, patch), cs in ordered if any(c.counted or c.primary for c in cs)]


def line(op, patch, cs):
    """One patch's step: counted work first, then the time, each with its interval and verdict."""
    return f"{op} {patch}: " + "; ".join(f"{LABELS[c.metric]} {answers.change(c)} {answers.short(c.verdict)}"
                                         for c in cs if c.counted or c.primary)


def of_version(results, comps, name):
    """The steps of the staircase that ends in variant ``name`` (a version with all its patches)."""
    applied = {v["name"]: v.get("series") or [] for v in results.get("variants", [])}
    whole = applied.get(name) or []
    return [(op, patch, cs) for op, patch, cs in steps(results, comps)
            if whole[:len(applied[cs[0].variant])] == applied[cs[0].variant]]


def text(results, comps):
    """The staircase under the tables ("" where the job has none)."""
    lines = [f"  {line(op, patch, cs)}" for op, patch, cs in steps(results, comps)]
    return "Which patch carries the change (each step against the one before it):\n" + "\n".join(lines) if lines \
        else ""

"""Which comparisons a job makes, and when its rounds stop: the baseline, the pairs it names, per host or pooled,
the axes, and the look that judges a sequential job.

Samples measured on several hosts are compared per host (each variant against the baseline of its own host)
unless the job says ``compare_across_hosts: true`` or the caller passes ``across_hosts=True``.  A job with axes is
compared once for the variants (per setting of the axes) and once per axis (its leaves against the first, per
variant and setting of the other axes); ``views`` says what each of those tables compares.
"""

from harness.judge import sequential, staircase
from harness.judge.stats import ALPHA, along, axes_of, compare, compare_axes, compare_pairs, hosts


def variant_names(results):
    return list(dict.fromkeys(v["name"] for v in results["variants"]))


def baseline_of(results):
    names = variant_names(results)
    return "base" if "base" in names else names[0]


def pairs_of(results):
    """The pairs of variants the job compares besides each with the baseline (its ``compare``)."""
    return [tuple(p) for p in results["job"].get("pairs") or []]


def per_host(results, across_hosts=None):
    """Whether to compare per host: samples from several hosts, and pooling them not asked for."""
    across = results["job"].get("compare_across_hosts", False) if across_hosts is None else across_hosts
    return not across and len(hosts(results["samples"])) > 1


def comparisons(results, across_hosts=None):
    """The variants against the baseline, the pairs the job names (a pair with a prefix of a series that did not run
    against the last prefix that did), then the leaves of every other axis against that axis's first; for a
    sequential job, on the rounds its deciding look judged, at that look's level.  The steps of each staircase are
    one family (harness/judge/staircase.py)."""
    split = per_host(results, across_hosts)
    samples, alpha, baseline = results["samples"], ALPHA, baseline_of(results)
    if results.get("sequential"):
        alpha = results["sequential"]["alpha"]
        samples = [s for s in samples if s["boot"] <= results["sequential"]["round"]]
    comps = (compare(samples, baseline, split, alpha)
             + compare_pairs(samples, staircase.spans(results, pairs_of(results), baseline), split, alpha)
             + compare_axes(samples, split, alpha))
    return staircase.adjust(results, comps, baseline, alpha)


def stop(results, looks):
    """The ``sequential.Look`` that judges a job's results so far (None before its first look)."""
    upto = max((s["boot"] for s in results["samples"]), default=0)
    return sequential.look(results["samples"], baseline_of(results), looks, upto, per_host(results), pairs_of(results))


def level(results):
    """The intervals' level: 95 %, or a sequential job's deciding look's."""
    return 1 - (results.get("sequential") or {}).get("alpha", ALPHA)


def views(results):
    """(what is compared, its samples, its baseline, its order) for the variants, for each variant another is
    compared with (``compare``, past a prefix of a series that did not run), and for each axis."""
    names = variant_names(results)
    out = [("variant", results["samples"], baseline_of(results), names)]
    pairs = staircase.spans(results, pairs_of(results), baseline_of(results))
    for other in dict.fromkeys(o for _, o in pairs):
        mine = {other, *(v for v, o in pairs if o == other)}
        samples = [s for s in results["samples"] if s["variant"] in mine]
        if samples:
            out.append(("variant", samples, other, [n for n in names if n in mine]))
    for axis, leaves in axes_of(results["samples"]).items():
        out.append((axis, along(results["samples"], axis), f"{axis}={leaves[0]}", [f"{axis}={l}" for l in leaves]))
    return out

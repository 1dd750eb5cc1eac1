"""Where an operation's time goes: per op and variant, the median split of its measured operations into QEMU's
handling of the guest's requests (kick to interrupt), the guest's own work, and waiting for the guest to notice
the target (``balloon.Phases``), with the requests, their size, and — where the job traced them — the ranges and
discards; beside it, for the seed series' scenario, the profile its cover letter gave.
"""

from tabulate import tabulate

from harness.judge.outcomes import label
from harness.judge.stats import median
from harness.units import MIB

SEED_SCENARIO = (8192 * MIB, 1024 * MIB)  # the 2017 series: an idle 8 GiB guest inflated by 7 GiB
SEED_PROFILE = {"allocating pages": 6.5, "sending PFNs to the host": 68.3, "address translation": 6.1,
                "madvise": 19.0}  # % of the inflate, under KVM (its cover letter)
SEED_GUEST = ("allocating pages",)  # the rest of its profile is the host's side of the requests


def split(samples):
    """[(op, variant label, {column: median})] over the measured samples that carry requests, in job order."""
    groups = {}
    for s in samples:
        if not s["warmup"] and s.get("requests"):
            groups.setdefault((s["op"], label(s)), []).append(s)
    rows = []
    for (op, name), group in sorted(groups.items(), key=lambda kv: not kv[0][0].startswith("inflate")):
        share = lambda f: median([f(s) / s["wall_s"] for s in group]) * 100  # noqa: E731
        counted = lambda key: median([s[key] for s in group]) if group[0].get(key) is not None else None  # noqa: E731
        rows.append((op, name, {
            "operations": len(group), "time to target s": median([s["wall_s"] for s in group]),
            "requests": counted("requests"),
            "KiB a request": median([abs(s["from_bytes"] - s["to_bytes"]) / 1024 / s["requests"] for s in group]),
            "ranges": counted("ranges"), "discards": counted("discards"),
            "host %": share(lambda s: s["host_s"]), "guest %": share(lambda s: s["wall_s"] - s["host_s"] - s["wait_s"]),
            "waiting %": share(lambda s: s["wait_s"])}))
    return rows


def seed_scenario(samples):
    """Whether the samples include the seed series' own scenario (its profile is then shown beside them)."""
    return any((s.get("from_bytes"), s.get("to_bytes")) == SEED_SCENARIO for s in samples)


def seed_text():
    host = sum(v for k, v in SEED_PROFILE.items() if k not in SEED_GUEST)
    guest = sum(SEED_PROFILE[k] for k in SEED_GUEST)
    parts = ", ".join(f"{k} {v:g} %" for k, v in SEED_PROFILE.items())
    return (f"the 2017 series' inflate of 7 GiB of an 8 GiB guest under KVM (its cover letter): {parts} — the "
            f"host's side of the requests {host:.1f} %, the guest's {guest:.1f} %")


def table(results):
    """The split as a text table ('' for results without traced requests)."""
    rows = split(results["samples"])
    if not rows:
        return ""
    cols = list(rows[0][2])
    text = tabulate([[op, name, *(cell(c, r[c]) for c in cols)] for op, name, r in rows],
                    headers=["op", "variant", *cols], disable_numparse=True)
    head = "Where the time goes (medians of the measured operations; QEMU's trace):"
    return f"{head}\n{text}" + (f"\nbeside: {seed_text()}" if seed_scenario(results["samples"]) else "")


def cell(column, value):
    """A value of ``column`` as the tables show it."""
    if value is None:
        return "—"
    return f"{value:.1f}" if column.endswith("%") else f"{value:.3f}" if column.endswith(" s") else f"{value:.0f}"

"""Turn results into what a reviewer reads: the comparison table (tabulate) for the console."""

from tabulate import tabulate

from .metrics import METRICS
from .stats import compare, summarize

LABELS = {m.name: m.label for m in METRICS}


def baseline_of(results):
    names = [v["name"] for v in results["variants"]]
    return "base" if "base" in names else names[0]


def comparisons(results, seed=0):
    return compare(results["samples"], baseline_of(results), seed)


def table(results, comps=None):
    """Per op, metric and variant: median, IQR, CV, n, and the change versus the baseline with its verdict."""
    comps = comparisons(results) if comps is None else comps
    by_key = {(c.op, c.metric, c.variant): c for c in comps}
    order = {v["name"]: i for i, v in enumerate(results["variants"])}
    rows = []
    for s in sorted(summarize(results["samples"]),
                    key=lambda s: (s.op != "inflate", [m.name for m in METRICS].index(s.metric), s.warmup,
                                   order.get(s.variant, 99))):
        c = by_key.get((s.op, s.metric, s.variant)) if not s.warmup else None
        change = f"{(c.ratio - 1) * 100:+.1f} % [{(c.ci95[0] - 1) * 100:+.1f}, {(c.ci95[1] - 1) * 100:+.1f}]" if c else ""
        rows.append([s.op, LABELS[s.metric] + (" (warm-up)" if s.warmup else ""), s.variant, s.n,
                     f"{s.median:.4f}", f"{s.iqr:.4f}", f"{s.cv * 100:.1f} %", change,
                     f"{c.p:.3g}" if c else "", c.verdict if c else ""])
    return tabulate(rows, headers=["op", "metric", "variant", "n", "median s", "IQR s", "CV",
                                   "vs base (95 % CI)", "p", "verdict"])


def facts(results):
    """One line per variant with the kernel identity, and the job's host/QEMU/accel facts."""
    job = results["job"]
    lines = [f"host {job.get('host', '?')}, QEMU {job.get('qemu_version', '?')}, accel {job.get('accel', '?')}, "
             f"guest {job.get('memory_mib', '?')} MiB / {job.get('cpus', '?')} vCPU"]
    for v in results["variants"]:
        k = v["kernel"]
        lines.append(f"{v['name']}: {k.get('release')} config {k.get('config_sha256')} "
                     f"bzImage {k.get('bzimage_sha256', '')[:16]} series {', '.join(v['series']) or '(none)'}")
    return "\n".join(lines)

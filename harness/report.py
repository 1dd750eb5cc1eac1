"""Turn results into what a reviewer reads: the comparison table (tabulate) and the HTML report (jinja2 + SVG).

Samples measured on several hosts are summarised and compared per host (each variant against the baseline of its
own host) unless the job says ``compare_across_hosts: true`` or the caller passes ``across_hosts=True``.
"""

from collections import defaultdict
from pathlib import Path

import jinja2
from tabulate import tabulate

from . import plots
from .metrics import METRICS
from .stats import compare, hosts, summarize

LABELS = {m.name: m.label for m in METRICS}
TONES = {"faster": "better", "less CPU": "better", "slower": "worse", "more CPU": "worse"}


def baseline_of(results):
    names = [v["name"] for v in results["variants"]]
    return "base" if "base" in names else names[0]


def per_host(results, across_hosts=None):
    """Whether to compare per host: samples from several hosts, and pooling them not asked for."""
    across = results["job"].get("compare_across_hosts", False) if across_hosts is None else across_hosts
    return not across and len(hosts(results["samples"])) > 1


def comparisons(results, seed=0, across_hosts=None):
    return compare(results["samples"], baseline_of(results), seed, per_host(results, across_hosts))


def change_text(c):
    """The change versus the baseline with its 95 % interval, in percent."""
    return f"{(c.ratio - 1) * 100:+.1f} % [{(c.ci95[0] - 1) * 100:+.1f}, {(c.ci95[1] - 1) * 100:+.1f}]"


def table(results, comps=None, across_hosts=None):
    """Per op, metric, (host,) and variant: median, IQR, CV, n, and the change versus the baseline with its verdict."""
    split = per_host(results, across_hosts)
    comps = comparisons(results, across_hosts=across_hosts) if comps is None else comps
    by_key = {(c.op, c.metric, c.variant, c.host): c for c in comps}
    order = {v["name"]: i for i, v in enumerate(results["variants"])}
    baseline = baseline_of(results)
    rows = []
    for s in sorted(summarize(results["samples"], split),
                    key=lambda s: (s.op != "inflate", [m.name for m in METRICS].index(s.metric), s.warmup,
                                   s.host or "", order.get(s.variant, 99))):
        c = by_key.get((s.op, s.metric, s.variant, s.host)) if not s.warmup else None
        alone = split and not s.warmup and not c and s.variant != baseline
        change = change_text(c) if c else ""
        rows.append([s.op, LABELS[s.metric] + (" (warm-up)" if s.warmup else ""), *([s.host] if split else []),
                     s.variant, s.n, f"{s.median:.4f}", f"{s.iqr:.4f}", f"{s.cv * 100:.1f} %", change,
                     f"{c.p:.3g}" if c else "", c.verdict if c else f"no {baseline} on {s.host}" if alone else ""])
    text = tabulate(rows, headers=["op", "metric", *(["host"] if split else []), "variant", "n", "median s",
                                   "IQR s", "CV", "vs base (95 % CI)", "p", "verdict"])
    return text + hosts_note(results, split)


def hosts_note(results, split):
    """Under a table of several hosts' samples: how they were compared."""
    names = [h or "?" for h in hosts(results["samples"])]
    if len(names) < 2:
        return ""
    if split:
        return (f"\ncompared per host ({', '.join(names)}): each variant against {baseline_of(results)} measured on "
                "the same host (compare_across_hosts: true in the job, or --across-hosts, pools the hosts)")
    return f"\nhosts pooled as asked (compare_across_hosts): {', '.join(names)}"


def facts(results):
    """One line per variant with the kernel identity, and the job's host/QEMU/accel facts."""
    job = results["job"]
    names = hosts(results["samples"])
    host = ", ".join(h or "?" for h in names) if len(names) > 1 else job.get("host", "?")
    lines = [f"host {host}, QEMU {job.get('qemu_version', '?')}, accel {job.get('accel', '?')}, "
             f"guest {job.get('memory_mib', '?')} MiB / {job.get('cpus', '?')} vCPU"]
    for v in results["variants"]:
        k = v["kernel"]
        lines.append(f"{v['name']}: {k.get('release')} config {k.get('config_sha256')} "
                     f"bzImage {k.get('bzimage_sha256', '')[:16]} series {', '.join(v['series']) or '(none)'}")
    return "\n".join(lines)


def verdict_rows(results, comps):
    """One row per comparison for the HTML verdict table, formatted as in ``table()``, in its order."""
    split = any(c.host for c in comps)
    medians = {(s.op, s.metric, s.variant, s.host): s.median for s in summarize(results["samples"], split)
               if not s.warmup}
    order = {v["name"]: i for i, v in enumerate(results["variants"])}
    names = [m.name for m in METRICS]
    return [{"op": c.op, "metric": LABELS[c.metric] + (f" on {c.host}" if c.host else ""), "variant": c.variant,
             "n": c.n, "median": f"{medians[(c.op, c.metric, c.variant, c.host)]:.4f}",
             "base": f"{medians[(c.op, c.metric, c.baseline, c.host)]:.4f}", "change": change_text(c),
             "ratio": f"×{c.ratio:.3f} [{c.ci95[0]:.3f}, {c.ci95[1]:.3f}]", "p": f"{c.p:.3g}",
             "verdict": c.verdict, "tone": TONES.get(c.verdict, "same"), "detectable": f"±{c.detectable * 100:.1f} %"}
            for c in sorted(comps, key=lambda c: (c.op != "inflate", names.index(c.metric), c.host or "",
                                                  order.get(c.variant, 99)))]


def distributions(results, palette):
    """A strip plot per (op, metric) that has samples, as ``[(op, [svg, ...])]``, inflate first."""
    values = defaultdict(list)
    for s in results["samples"]:
        for m in METRICS:
            if s.get(m.name) is not None:
                values[(s["op"], m.name, s["variant"], s["warmup"])].append(s[m.name])
    out = []
    for op in sorted({s["op"] for s in results["samples"]}, key=lambda op: op != "inflate"):
        svgs = []
        for m in METRICS:
            groups = [(v["name"], values[(op, m.name, v["name"], False)], values[(op, m.name, v["name"], True)])
                      for v in results["variants"]]
            groups = [g for g in groups if g[1] or g[2]]
            if groups:
                svgs.append(plots.strip(f"{op}: {m.label}", f"{m.label} ({m.unit})", groups, palette))
        out.append((op, svgs))
    return out


def trace_plot(results, palette):
    """The balloon's ``actual`` (MiB) over time in the first measured inflate of each variant; None without traces."""
    warm = {(s["variant"], s["boot"], s["cycle"], s["op"]) for s in results["samples"] if s["warmup"]}
    first = {}
    for t in sorted(results.get("traces", []), key=lambda t: (t["boot"], t["cycle"])):
        if t["op"] == "inflate" and t["points"] and (t["variant"], t["boot"], t["cycle"], t["op"]) not in warm:
            first.setdefault(t["variant"], t)
    series = [(v["name"], f"{v['name']} (boot {t['boot']}, cycle {t['cycle']})",
               [(s, b / 2 ** 20) for s, b in t["points"]])
              for v in results["variants"] if (t := first.get(v["name"]))]
    return plots.lines("balloon actual during one measured inflate", "time (s)", "actual (MiB)", series,
                       palette) if series else None


def html(results, comps):
    """The self-contained HTML report of a job: verdicts, plots, kernel identities, job facts, range-diffs."""
    palette = plots.colors([v["name"] for v in results["variants"]])
    names = [h or "?" for h in hosts(results["samples"])]
    job = {**results["job"], **({"host": ", ".join(names)} if len(names) > 1 else {})}
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(
        title=Path(results["job"].get("dir", "")).name, job=job, baseline=baseline_of(results),
        variants=results["variants"], palette=palette, rows=verdict_rows(results, comps),
        distributions=distributions(results, palette), trace=trace_plot(results, palette),
        range_diff=results.get("range_diff") or {})

"""Turn results into what a reviewer reads: the comparison table (tabulate) and the HTML report (jinja2 + SVG).

Samples measured on several hosts are summarised and compared per host (each variant against the baseline of its
own host) unless the job says ``compare_across_hosts: true`` or the caller passes ``across_hosts=True``.  A job
with axes gets one table for the variants (per setting of the axes) and one per axis (its leaves against the
first, per variant and setting of the other axes).
"""

from collections import defaultdict
from pathlib import Path

import jinja2
from tabulate import tabulate

from . import plots
from .metrics import METRICS
from .stats import along, axes_of, compare, compare_axes, hosts, summarize

LABELS = {m.name: m.label for m in METRICS}
TONES = {"faster": "better", "less CPU": "better", "slower": "worse", "more CPU": "worse"}


def variant_names(results):
    return list(dict.fromkeys(v["name"] for v in results["variants"]))


def baseline_of(results):
    names = variant_names(results)
    return "base" if "base" in names else names[0]


def per_host(results, across_hosts=None):
    """Whether to compare per host: samples from several hosts, and pooling them not asked for."""
    across = results["job"].get("compare_across_hosts", False) if across_hosts is None else across_hosts
    return not across and len(hosts(results["samples"])) > 1


def comparisons(results, seed=0, across_hosts=None):
    """The variants against the baseline, then the leaves of every other axis against that axis's first."""
    split = per_host(results, across_hosts)
    samples = results["samples"]
    return compare(samples, baseline_of(results), seed, split) + compare_axes(samples, seed, split)


def views(results):
    """(what is compared, its samples, its baseline, its order) for the variants and for each axis."""
    out = [("variant", results["samples"], baseline_of(results), variant_names(results))]
    for axis, leaves in axes_of(results["samples"]).items():
        out.append((axis, along(results["samples"], axis), f"{axis}={leaves[0]}", [f"{axis}={l}" for l in leaves]))
    return out


def change_text(c):
    """The change versus the baseline with its 95 % interval, in percent."""
    return f"{(c.ratio - 1) * 100:+.1f} % [{(c.ci95[0] - 1) * 100:+.1f}, {(c.ci95[1] - 1) * 100:+.1f}]"


def table(results, comps=None, across_hosts=None):
    """Per op, metric, (setting,) and variant or leaf: median, lower quartile, IQR, CV, n, and the change of the
    lower quartile versus the baseline with its verdict; one table per thing compared."""
    split = per_host(results, across_hosts)
    comps = comparisons(results, across_hosts=across_hosts) if comps is None else comps
    texts = [_table(what, samples, [c for c in comps if c.axis == what], baseline, order, split)
             for what, samples, baseline, order in views(results)]
    return "\n\n".join(texts) + hosts_note(results, split)


def _table(what, samples, comps, baseline, order, split):
    by_key = {(c.op, c.metric, c.variant, c.where): c for c in comps}
    summaries = summarize(samples, split)
    settings = any(s.where for s in summaries)
    rows = []
    names = [m.name for m in METRICS]
    for s in sorted(summaries, key=lambda s: (not s.op.startswith("inflate"), s.op, names.index(s.metric), s.warmup,
                                              s.where or "", order.index(s.variant) if s.variant in order else 99)):
        c = by_key.get((s.op, s.metric, s.variant, s.where)) if not s.warmup else None
        alone = settings and not s.warmup and not c and s.variant != baseline
        rows.append([s.op, LABELS[s.metric] + (" (warm-up)" if s.warmup else ""), *([s.where] if settings else []),
                     s.variant, s.n, f"{s.median:.4f}", f"{s.q1:.4f}", f"{s.iqr:.4f}", f"{s.cv * 100:.1f} %",
                     change_text(c) if c else "", f"{c.p:.3g}" if c else "",
                     c.verdict if c else f"no {baseline} in {s.where}" if alone else ""])
    return tabulate(rows, headers=["op", "metric", *(["setting"] if settings else []), what, "n", "median s", "Q1 s",
                                   "IQR s", "CV", f"Q1 vs {baseline} (95 % CI)", "p", "verdict"])


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
        lines.append(f"{v['name']}{setting_text(v)}: {k.get('release')} config {k.get('config_sha256')} "
                     f"bzImage {k.get('bzimage_sha256', '')[:16]} series {', '.join(v['series']) or '(none)'}")
    settings = results.get("settings", [])
    for st in settings if len(settings) > 1 or any(st.get("axes") for st in settings) else []:
        q = st.get("qemu_build") or {}
        lines.append(f"setting {setting_text(st) or '(default)'}: QEMU {q.get('version', '?')} from "
                     f"{q.get('source', '?')}{' + ' + ', '.join(q['series']) if q.get('series') else ''}, guest "
                     f"{st.get('memory_mib')} MiB, kernel command line {st.get('cmdline') or '(none)'!r}")
    return "\n".join(lines)


def setting_text(entry):
    """`` [axis=leaf, ...]`` for a record with axes, else empty."""
    axes = entry.get("axes") or {}
    return f" [{', '.join(f'{a}={v}' for a, v in sorted(axes.items()))}]" if axes else ""


def verdict_rows(results, comps):
    """One row per comparison for the HTML verdict table, formatted as in ``table()``, in its order."""
    split = per_host(results)
    rows = []
    names = [m.name for m in METRICS]
    for what, samples, _, order in views(results):
        q1s = {(s.op, s.metric, s.variant, s.where): s.q1 for s in summarize(samples, split) if not s.warmup}
        mine = sorted((c for c in comps if c.axis == what), key=lambda c: (
            not c.op.startswith("inflate"), c.op, names.index(c.metric), c.where or "", order.index(c.variant)))
        rows += [{"op": c.op, "metric": LABELS[c.metric] + (f" in {c.where}" if c.where else ""),
                  "variant": c.variant, "baseline": c.baseline, "n": c.n,
                  "q1": f"{q1s[(c.op, c.metric, c.variant, c.where)]:.4f}",
                  "base": f"{q1s[(c.op, c.metric, c.baseline, c.where)]:.4f}", "change": change_text(c),
                  "ratio": f"×{c.ratio:.3f} [{c.ci95[0]:.3f}, {c.ci95[1]:.3f}]", "p": f"{c.p:.3g}",
                  "verdict": c.verdict, "tone": TONES.get(c.verdict, "same"),
                  "detectable": f"±{c.detectable * 100:.1f} %"} for c in mine]
    return rows


def label(record):
    """A variant with its setting of the axes: what one strip, trace or colour stands for."""
    return record["variant"] + setting_text(record)


def labels(results):
    """Every variant-and-setting of the job, in job order."""
    return list(dict.fromkeys(label(s) for s in results["samples"])) or variant_names(results)


def distributions(results, palette):
    """A strip plot per (op, metric) that has samples, as ``[(op, [svg, ...])]``, inflate first."""
    values = defaultdict(list)
    for s in results["samples"]:
        for m in METRICS:
            if s.get(m.name) is not None:
                values[(s["op"], m.name, label(s), s["warmup"])].append(s[m.name])
    out, names = [], labels(results)
    for op in sorted({s["op"] for s in results["samples"]}, key=lambda op: (not op.startswith("inflate"), op)):
        svgs = []
        for m in METRICS:
            groups = [(name, values[(op, m.name, name, False)], values[(op, m.name, name, True)]) for name in names]
            groups = [g for g in groups if g[1] or g[2]]
            if groups:
                svgs.append(plots.strip(f"{op}: {m.label}", f"{m.label} ({m.unit})", groups, palette))
        out.append((op, svgs))
    return out


def trace_plot(results, palette):
    """The balloon's ``actual`` (MiB) over time in the first measured inflate of each variant and setting; None
    without traces."""
    warm = {(label(s), s["boot"], s["cycle"], s["op"]) for s in results["samples"] if s["warmup"]}
    first = {}
    for t in sorted(results.get("traces", []), key=lambda t: (t["boot"], t["cycle"])):
        if t["op"].startswith("inflate") and t["points"] and (label(t), t["boot"], t["cycle"], t["op"]) not in warm:
            first.setdefault(label(t), t)
    series = [(name, f"{name} (boot {t['boot']}, cycle {t['cycle']})", [(s, b / 2 ** 20) for s, b in t["points"]])
              for name in labels(results) if (t := first.get(name))]
    return plots.lines("balloon actual during one measured inflate", "time (s)", "actual (MiB)", series,
                       palette) if series else None


def html(results, comps):
    """The self-contained HTML report of a job: verdicts, plots, kernel identities, job facts, range-diffs."""
    axis_leaves = [f"{a}={l}" for a, ls in axes_of(results["samples"]).items() for l in ls]
    palette = plots.colors(list(dict.fromkeys(variant_names(results) + labels(results) + axis_leaves)))
    names = [h or "?" for h in hosts(results["samples"])]
    job = {**results["job"], **({"host": ", ".join(names)} if len(names) > 1 else {})}
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(
        title=Path(results["job"].get("dir", "")).name, job=job, baseline=baseline_of(results),
        variants=results["variants"], palette=palette, rows=verdict_rows(results, comps),
        distributions=distributions(results, palette), trace=trace_plot(results, palette),
        settings=results.get("settings", []), setting_text=setting_text, range_diff=results.get("range_diff") or {})

"""The self-contained HTML report of a job (jinja2 + SVG): its outcome, the verdict table, a series' staircase as
waterfalls, the plots' data — distributions, drift across the job, one balloon trace — the kernel identities and
their static checks, the job's facts and range-diffs.

The words and numbers are formatted as the console table formats them (``harness.judge.report``); what is compared
with what is ``harness.judge.policy``'s.
"""

import os
from collections import defaultdict
from pathlib import Path

import jinja2

from harness.judge import answers, phases, plots, staircase, static
from harness.judge.outcomes import headline, interference_text, label, not_measured, outcomes, setting_text
from harness.judge.policy import baseline_of, level, per_host, variant_names, views
from harness.judge.report import change_text, labels, ops, p_text, rule, sequential_text, value_text
from harness.judge.stats import axes_of, boot_q1s, hosts, summarize
from harness.results.metrics import LABELS, METRICS

TONE = {"fail": "worse", "warn": "same", "pass": "better"}  # a static check's status, as the page colours it
BAR = {"better": "#59a14f", "worse": "#e15759", "same": "#bab0ac"}  # a waterfall's step, by its verdict's tone
TONES = {word: tone for m in METRICS for word, tone in zip(m.words, ("better", "worse"))}


def verdict_rows(results, comps):
    """One row per comparison for the HTML verdict table, formatted as in ``report.table``, in its order; then a "not
    measured" row for each variant that left no samples."""
    split = per_host(results)
    rows = []
    names = [m.name for m in METRICS]
    for what, samples, baseline, order in views(results):
        q1s = {(s.op, s.metric, s.variant, s.setting): s.q1 for s in summarize(samples, split) if not s.warmup}
        mine = sorted((c for c in comps if c.axis == what and c.baseline == baseline), key=lambda c: (
            not c.op.startswith("inflate"), c.op, not c.primary, names.index(c.metric), c.setting or "",
            order.index(c.variant)))
        rows += [{"op": c.op, "metric": LABELS[c.metric] + (f" in {c.setting}" if c.setting else ""),
                  "primary": c.primary, "variant": c.variant, "baseline": c.baseline,
                  "boots": f"{c.boots} / {c.baseline_boots}",
                  "q1": value_text(c.metric, q1s[(c.op, c.metric, c.variant, c.setting)]),
                  "base": value_text(c.metric, q1s[(c.op, c.metric, c.baseline, c.setting)]), "change": change_text(c),
                  "ratio": f"×{c.ratio:.3f}" + (f" [{c.ci[0]:.3f}, {c.ci[1]:.3f}]" if c.ci else "")
                  if c.ratio is not None else "", "p": p_text(c),
                  "verdict": c.verdict, "tone": TONES.get(c.verdict, "same"),
                  "detectable": f"±{c.detectable * 100:.1f} %" if c.detectable is not None else ""} for c in mine]
    for name, o in not_measured(results):
        rows.append({"op": "", "metric": LABELS["wall_s"], "primary": True, "variant": name,
                     "baseline": baseline_of(results), "boots": "0", "q1": "", "base": "", "change": "", "ratio": "",
                     "p": "", "verdict": f"not measured: {o['status']}", "tone": "worse", "detectable": ""})
    return rows


def distributions(results, palette):
    """A strip plot per (op, metric) that has samples, as ``[(op, [svg, ...])]``, inflate first."""
    values = defaultdict(list)
    for s in results["samples"]:
        for m in METRICS:
            if s.get(m.name) is not None:
                values[(s["op"], m.name, label(s), s["warmup"])].append(s[m.name])
    out, names = [], labels(results)
    for op in ops(results):
        svgs = []
        for m in METRICS:
            groups = [(name, values[(op, m.name, name, False)], values[(op, m.name, name, True)]) for name in names]
            groups = [g for g in groups if g[1] or g[2]]
            if groups:
                svgs.append(plots.strip(f"{op}: {m.label}", f"{m.label} ({m.unit})", groups, palette))
        out.append((op, svgs))
    return out


def drift_plots(results, palette):
    """Per op: each boot's Q1 of the time to target in run order (round), one line per variant, and where counted
    the host's speed in every operation: drift across the job, and the slow spells behind it, at a glance."""
    out = []
    for op in ops(results):
        series = []
        for name in labels(results):
            mine = [s for s in results["samples"] if label(s) == name and s["op"] == op]
            q1s = boot_q1s(mine, "wall_s")
            if q1s:
                series.append((name, name, sorted((boot, q1) for (_, boot), q1 in q1s.items()
                                                  if isinstance(boot, (int, float)))))
        series = [s for s in series if s[2]]
        if series:
            out.append(plots.lines(f"{op}: each boot's Q1 of the time to target, in run order", "round",
                                   "Q1 (s)", series, palette, markers=True))
        speeds = [(name, name, pts) for name in labels(results) if (pts := _speeds(results, name, op))]
        if speeds:
            out.append(plots.lines(f"{op}: the host's speed in every operation, in run order", "round (cycles "
                                   "within it)", "guest instructions per vCPU CPU second (M/s)", speeds, palette,
                                   markers=True))
    return out


def _speeds(results, name, op):
    """(round + the cycle's share of it, host speed in M/s) of each measured operation ``op`` of ``name``: a host
    that ran at half speed for a while shows as a step down."""
    mine = [s for s in results["samples"] if label(s) == name and s["op"] == op and s.get("host_speed")
            and isinstance(s["boot"], (int, float))]
    cycles = max((s["cycle"] for s in mine), default=1)
    return sorted((s["boot"] + (s["cycle"] - 1) / cycles, s["host_speed"] / 1e6) for s in mine if not s["warmup"])


def trace_plot(results, palette):
    """The balloon's ``actual`` (MiB) over time in the first measured inflate of each variant and setting, drawn as
    steps (the balloon moves in whole requests); None without traces."""
    warm = {(label(s), s["boot"], s["cycle"], s["op"]) for s in results["samples"] if s["warmup"]}
    first = {}
    for t in sorted(results.get("traces", []), key=lambda t: (t["boot"], t["cycle"])):
        if t["op"].startswith("inflate") and t["points"] and (label(t), t["boot"], t["cycle"], t["op"]) not in warm:
            first.setdefault(label(t), t)
    series = [(name, f"{name} (boot {t['boot']}, cycle {t['cycle']})", [(s, b / 2 ** 20) for s, b in t["points"]])
              for name in labels(results) if (t := first.get(name))]
    return plots.lines("balloon actual during one measured inflate", "time (s)", "actual (MiB)", series,
                       palette, steps=True) if series else None


def staircase_plots(results, comps):
    """A waterfall per staircase, op, metric and setting on its lines (harness/judge/staircase.py): each patch's
    step from where the steps before it left off, its interval drawn, and the whole series against the baseline
    beside them."""
    baseline, out = baseline_of(results), []
    for op, found in staircase.staircases(staircase.steps(results, comps, baseline)):
        for name, where in dict.fromkeys((c.metric, c.setting) for s in found for c in s.comparisons):
            mine = [next((c for c in s.comparisons if (c.metric, c.setting) == (name, where)), None) for s in found]
            if any(c is None or c.ratio is None for c in mine):
                continue
            whole = next((c for c in comps if (c.variant, c.baseline, c.op, c.metric, c.setting, c.axis) ==
                          (found[-1].variant, baseline, op, name, where, "variant") and c.ratio is not None), None)
            title = f"{op}: {LABELS[name]}, patch by patch" + (f" in {where}" if where else "")
            out.append(plots.waterfall(title, f"change from {baseline} (%)", _bars(found, mine),
                                       _bar("whole", f"{found[-1].variant} against {baseline}", 1.0, whole)
                                       if whole else None))
    return out


def _bars(found, mine):
    """The waterfall's bars of a staircase's steps, each starting where the ones before it ended."""
    bars, at = [], 1.0
    for s, c in zip(found, mine):
        bars.append(_bar(s.patch.split(" ")[0], s.patch + (f" ({'; '.join(s.skipped)})" if s.skipped else ""), at,
                         c))
        at *= c.ratio
    return bars


def _bar(label, tip, at, c):
    """A step ``c`` of the waterfall, from ``at`` (the product of the steps before it) on, in percent."""
    pct = lambda r: (at * r - 1) * 100  # noqa: E731
    lo, hi = (pct(c.ci[0]), pct(c.ci[1])) if c.ci else (None, None)
    return (label, f"{tip}: {answers.change(c)} {c.verdict}", pct(1.0), pct(c.ratio), lo, hi,
            BAR[TONES.get(c.verdict, "same")])


def static_checks(results):
    """Per variant with a series: its new and removed compiler warnings and checkpatch per patch, in the words of
    ``harness.judge.static`` ("not compared" where its kernel kept no record); [] when no kernel of the job kept
    either record."""
    kernels = [(v["name"] + setting_text(v), v.get("kernel") or {}) for v in results["variants"] if v.get("series")]
    if all(k.get("warnings") is None and k.get("checkpatch") is None for _, k in kernels):
        return []
    rows = []
    for name, k in kernels:
        w, c = k.get("warnings"), k.get("checkpatch")
        said = "not compared" if w is None else ((static.plural(len(w["new"]), "new warning") if w["new"] else
                                                   "no new warnings") + f" ({', '.join(w['levels'])})")
        rows.append({"label": name, "warnings": w, "checkpatch": c, "warnings_text": f"warnings: {said}",
                     "warnings_tone": "same" if w is None else TONE[static.warnings_status(w)],
                     "checkpatch_text": static.checkpatch_text(c) if c is not None else "checkpatch: not compared",
                     "checkpatch_tone": "same" if c is None else TONE[static.checkpatch_status(c)]})
    return rows


def log_link(path, job_dir):
    """``path`` relative to the report in ``<job>/balloon/``, for a link that works wherever the job dir is."""
    if not path:
        return None
    try:
        return os.path.relpath(path, Path(job_dir) / "balloon")
    except ValueError:
        return str(path)


def page(results, comps):
    """The self-contained HTML report of a job: outcome, verdicts, plots, kernel identities and static checks, job
    facts, range-diffs."""
    axis_leaves = [f"{a}={l}" for a, ls in axes_of(results["samples"]).items() for l in ls]
    outs = outcomes(results)
    palette = plots.colors(list(dict.fromkeys(variant_names(results) + labels(results) + axis_leaves
                                              + [o["label"] for o in outs])))
    names = [h or "?" for h in hosts(results["samples"])]
    job = {**results["job"], **({"host": ", ".join(names)} if len(names) > 1 else {})}
    for o in outs:
        o["href"] = log_link(o["log"], results["job"].get("dir", ""))
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.judge"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(
        title=Path(results["job"].get("dir", "")).name, job=job, baseline=baseline_of(results),
        headline=headline(results), outcomes=outs, ok=all(o["status"] == "PASS" for o in outs),
        variants=results["variants"], palette=palette, rows=verdict_rows(results, comps), rule=rule(),
        answers=[a for a in answers.answers(comps) if a.by != answers.TIME],
        level=f"{level(results) * 100:.4g} %", sequential=sequential_text(results),
        distributions=distributions(results, palette), staircase=staircase_plots(results, comps),
        drift=drift_plots(results, palette), interference=interference_text(results),
        trace=trace_plot(results, palette), phases=phases.split(results["samples"]), cell=phases.cell,
        seed=phases.seed_text() if phases.seed_scenario(results["samples"]) else "",
        settings=results.get("settings", []), setting_text=setting_text, static=static_checks(results),
        where=static.where, range_diff=results.get("range_diff") or {})

"""Turn results into what a reviewer reads: the outcome of every variant, the comparison table (tabulate) and the
HTML report (jinja2 + SVG).

Every variant of the job appears with its outcome first (``harness.judge.outcomes``), and a variant that left no samples
is listed under the verdicts as "not measured", never dropped.  Samples measured on several hosts are
summarised and compared per host (each variant against the baseline of its own host) unless the job says
``compare_across_hosts: true`` or the caller passes ``across_hosts=True``.  A job with axes gets one table for the
variants (per setting of the axes) and one per axis (its leaves against the first, per variant and setting of
the other axes).
"""

import os
from collections import defaultdict
from pathlib import Path

import jinja2
from tabulate import tabulate

from harness.judge import answers, phases, plots, sequential
from harness.judge.outcomes import (failure_text, headline, interference, interference_text, label, not_measured,
                                    outcomes, setting_text, table as outcome_table)
from harness.judge.stats import (ALPHA, LEVEL, MARGIN, MIN_BOOTS, POWER, along, axes_of, boot_q1s, compare,
                                 compare_axes, compare_pairs, hosts, median, summarize)
from harness.results.metrics import LABELS, METRICS, metric

TONES = {word: tone for m in METRICS for word, tone in zip(m.words, ("better", "worse"))}


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
    """The variants against the baseline, the pairs the job names, then the leaves of every other axis against
    that axis's first; for a sequential job, on the rounds its deciding look judged, at that look's level."""
    split = per_host(results, across_hosts)
    samples, alpha = results["samples"], ALPHA
    if results.get("sequential"):
        alpha = results["sequential"]["alpha"]
        samples = [s for s in samples if s["boot"] <= results["sequential"]["round"]]
    return (compare(samples, baseline_of(results), split, alpha)
            + compare_pairs(samples, pairs_of(results), split, alpha) + compare_axes(samples, split, alpha))


def stop(results, looks):
    """The ``sequential.Look`` that judges a job's results so far (None before its first look)."""
    upto = max((s["boot"] for s in results["samples"]), default=0)
    return sequential.look(results["samples"], baseline_of(results), looks, upto, per_host(results), pairs_of(results))


def level(results):
    """The intervals' level: 95 %, or a sequential job's deciding look's."""
    return 1 - (results.get("sequential") or {}).get("alpha", ALPHA)


def sequential_text(results):
    """How a sequential job's rounds ended (empty for a job of fixed rounds)."""
    seq = results.get("sequential")
    if not seq:
        return ""
    how = ("no version was measured, so nothing was left to decide" if not results.get("comparisons", True) else
           f"every question decided, {seq.get('how', 'on time')}" if seq["decided"] else
           "not every question decided" + (" by the last look" if seq["round"] == seq["looks"][-1] else
                                            ": the job ended before its last look"))
    return (f"Rounds stopped after round {seq['round']} of at most {seq['looks'][-1]} (look {seq['index']} of "
            f"{len(seq['looks'])}): {how}. The looks share alpha {ALPHA:g} between them, so this look's verdicts "
            f"are at alpha {seq['alpha']:.4f} and its intervals at {(1 - seq['alpha']) * 100:.4g} %.")


def views(results):
    """(what is compared, its samples, its baseline, its order) for the variants, for each variant another is
    compared with (``compare``), and for each axis."""
    names = variant_names(results)
    out = [("variant", results["samples"], baseline_of(results), names)]
    for other in dict.fromkeys(o for _, o in pairs_of(results)):
        mine = {other, *(v for v, o in pairs_of(results) if o == other)}
        samples = [s for s in results["samples"] if s["variant"] in mine]
        if samples:
            out.append(("variant", samples, other, [n for n in names if n in mine]))
    for axis, leaves in axes_of(results["samples"]).items():
        out.append((axis, along(results["samples"], axis), f"{axis}={leaves[0]}", [f"{axis}={l}" for l in leaves]))
    return out


def pct(ratio):
    return f"{(ratio - 1) * 100:+.1f} %"


def change_text(c):
    """The change of a ``stats.Comparison`` versus the baseline with its interval, in percent."""
    return answers.change(c)


def value_text(name, x):
    """A value of metric ``name`` as the table shows it: seconds to 4 decimals, counts whole (millions as M)."""
    if metric(name).unit == "s":
        return f"{x:.4f}"
    return f"{x / 1e6:.3f} M" if abs(x) >= 1e6 else f"{x:.0f}"


SLOW = 0.75  # an operation run below this share of the job's median host speed ran in a slow spell


def speed_table(results):
    """The host's speed (guest instructions per second of the vCPU threads' CPU time) per op and variant: median,
    range, and the operations run in a slow spell (below ``SLOW`` × the op's median over the job); empty where
    nothing was counted."""
    measured = [s for s in results["samples"] if not s["warmup"] and s.get("host_speed")]
    rows = []
    for op in _ops({"samples": measured}):
        mine = [s for s in measured if s["op"] == op]
        middle = median([s["host_speed"] for s in mine])
        for name in labels({"samples": mine}):
            speeds = [s["host_speed"] for s in mine if label(s) == name]
            slow = sum(x < SLOW * middle for x in speeds)
            rows.append([op, name, len(speeds), f"{median(speeds) / 1e6:.0f}",
                         f"{min(speeds) / 1e6:.0f}–{max(speeds) / 1e6:.0f}", f"{slow} ({slow / len(speeds):.0%})"])
    return tabulate(rows, headers=["op", "variant", "operations", "host speed M/s (median)", "range",
                                   f"slow (< {SLOW:g}× the op's median)"]) if rows else ""


def answers_text(comps):
    """Under the tables: each question's answer — the time where decided, else the counted work beside it."""
    said = answers.answers(comps)
    if not said or all(a.by == answers.TIME for a in said):
        return ""
    return "Answers (the time where it is decided, else the counted work: harness/judge/answers.py):\n" + "\n".join(
        f"  {a.op} {a.variant} vs {a.baseline}{f' in {a.where}' if a.where else ''}: {a.text()}" for a in said)


def p_text(c):
    return "" if c.p is None else f"{c.p:.3g}" + ("" if c.p_adjusted == c.p else f" ({c.p_adjusted:.3g})")


def rule():
    """How a verdict is made, in one paragraph, with the statistics module's own numbers."""
    return (f"Each boot gives the lower quartile (Q1) of its measured cycles (warm-ups excluded); the boots' log Q1s "
            f"of a variant and of the baseline go into Welch's t-test. The change is the ratio of their geometric "
            f"means with its {LEVEL * 100:.0f} % interval. Time to target is primary and decides; where it is "
            f"undecided, counted work (guest instructions, requests: counts the host's speed cannot move) answers for "
            f"a variant on its baseline's QEMU; the other metrics are secondary. Each family is Holm-corrected per "
            f"variant (p shows the adjusted value in brackets where it differs). A change is called at adjusted p < {ALPHA:g}. \"No significant change\" is said only "
            f"where the job could have detected a ±{MARGIN * 100:.0f} % change with {POWER * 100:.0f} % power; "
            f"otherwise the verdict is inconclusive and says how many boots a side it needs (at least "
            f"{MIN_BOOTS}).")


# the console table ------------------------------------------------------------------------------------------
def table(results, comps=None, across_hosts=None, full=False):
    """The job's outcome, then per op, metric, (setting,) and variant or leaf: boots, median, Q1, IQR, CV, and the
    change versus the baseline with its verdict; one table per thing compared.  Without ``full`` only the primary
    metric's measured rows."""
    split = per_host(results, across_hosts)
    comps = comparisons(results, across_hosts=across_hosts) if comps is None else comps
    texts = [_table(what, samples, [c for c in comps if c.axis == what and c.baseline == baseline], baseline, order,
                    split, full, level(results)) for what, samples, baseline, order in views(results) if samples]
    missing = [f"{name}: not measured ({failure_text(o)})" for name, o in not_measured(results)]
    head = [headline(results), outcome_table(results)] if outcomes(results) else []
    head += [sequential_text(results)] if results.get("sequential") else []
    noisy = [interference_text(results)] if interference(results) else []
    where_time_goes = [text] if (text := phases.table(results)) else []
    said = [text] if (text := answers_text(comps)) else []
    speeds = [text] if (text := speed_table(results)) else []
    return "\n\n".join([*head, *texts, *said, *(["\n".join(missing)] if missing else []), *where_time_goes,
                        *speeds, *noisy]) + \
        hosts_note(results, split)


def _table(what, samples, comps, baseline, order, split, full, level_):
    by_key = {(c.op, c.metric, c.variant, c.where): c for c in comps}
    summaries = [s for s in summarize(samples, split)
                 if full or (not s.warmup and (metric(s.metric).primary or metric(s.metric).counted))]
    settings = any(s.where for s in summaries)
    rows = []
    names = [m.name for m in METRICS]
    for s in sorted(summaries, key=lambda s: (not s.op.startswith("inflate"), s.op, names.index(s.metric), s.warmup,
                                              s.where or "", order.index(s.variant) if s.variant in order else 99)):
        c = by_key.get((s.op, s.metric, s.variant, s.where)) if not s.warmup else None
        alone = settings and not s.warmup and not c and s.variant != baseline
        rows.append([s.op, LABELS[s.metric] + (" (warm-up)" if s.warmup else ""), *([s.where] if settings else []),
                     s.variant, s.boots, s.n, *(value_text(s.metric, x) for x in (s.median, s.q1, s.iqr)),
                     f"{s.cv * 100:.1f} %" if s.cv >= 0.01 else f"{s.cv * 100:.3f} %",
                     change_text(c) if c else "", p_text(c) if c else "",
                     c.verdict if c else f"no {baseline} in {s.where}" if alone else ""])
    return tabulate(rows, headers=["op", "metric", *(["setting"] if settings else []), what, "boots", "n",
                                   "median", "Q1", "IQR", "CV", f"vs {baseline} ({level_ * 100:.4g} % CI)",
                                   "p (Holm)", "verdict"])


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
             f"guest {job.get('memory_mib', '?')} MiB / {job.get('cpus', '?')} vCPU, {setup_text(job)}"]
    if job.get("insns"):  # how the guest's instructions were counted, or why not
        lines.append(f"guest instructions: {job['insns']}")
    own_qemu = job.get("qemu_version") == "per variant"
    for v in results["variants"]:
        k = v["kernel"]
        lines.append(f"{v['name']}{setting_text(v)}: {k.get('release', '(not built)')} config "
                     f"{k.get('config_sha256', '-')} bzImage {k.get('bzimage_sha256', '-')[:16]} series "
                     f"{', '.join(v['series']) or '(none)'}"
                     + (f"; {qemu_text(v.get('qemu_build'), v.get('balloon'))}" if own_qemu else ""))
    settings = results.get("settings", [])
    for st in settings if len(settings) > 1 or any(st.get("axes") for st in settings) else []:
        lines.append(f"setting {setting_text(st) or '(default)'}: {qemu_text(st.get('qemu_build'))}, guest "
                     f"{st.get('memory_mib')} MiB, {setup_text(st)}, kernel command line "
                     f"{st.get('cmdline') or '(none)'!r}")
    return "\n".join(lines)


def qemu_text(build, balloon=None):
    """A QEMU build's version, source and series, from its facts, and the balloon's properties where set."""
    q = build or {}
    return (f"QEMU {q.get('version', '?')} from {q.get('source', '?')}"
            f"{' + ' + ', '.join(q['series']) if q.get('series') else ''}"
            + (f", balloon {','.join(f'{k}={v}' for k, v in balloon.items())}" if balloon else ""))


def setup_text(facts):
    """How the guests ran (placement, and TCG, RAM and balloon options where not QEMU's defaults), from guest facts:
    a job measured another way is never compared without saying so."""
    setup, placed = facts.get("setup") or {}, facts.get("placement", "?")
    if isinstance(placed, dict):  # where guest.Guest.place put the threads
        placed = f"split (vCPUs on CPU {placed.get('vcpus')}, the rest on {placed.get('rest')})"
    if not isinstance(setup, dict):  # "per setting": the job's settings list theirs
        return f"placement {placed}, setup {setup}"
    extra = [f"{k}=" + (",".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v))
             for k, v in setup.items() if v not in ("", 0, False, "anonymous", {}, None)]
    return f"placement {placed}" + "".join(f", {e}" for e in extra)


# the HTML report --------------------------------------------------------------------------------------------
def verdict_rows(results, comps):
    """One row per comparison for the HTML verdict table, formatted as in ``table()``, in its order; then a "not
    measured" row for each variant that left no samples."""
    split = per_host(results)
    rows = []
    names = [m.name for m in METRICS]
    for what, samples, baseline, order in views(results):
        q1s = {(s.op, s.metric, s.variant, s.where): s.q1 for s in summarize(samples, split) if not s.warmup}
        mine = sorted((c for c in comps if c.axis == what and c.baseline == baseline), key=lambda c: (
            not c.op.startswith("inflate"), c.op, not c.primary, names.index(c.metric), c.where or "",
            order.index(c.variant)))
        rows += [{"op": c.op, "metric": LABELS[c.metric] + (f" in {c.where}" if c.where else ""),
                  "primary": c.primary, "variant": c.variant, "baseline": c.baseline,
                  "boots": f"{c.boots} / {c.baseline_boots}",
                  "q1": value_text(c.metric, q1s[(c.op, c.metric, c.variant, c.where)]),
                  "base": value_text(c.metric, q1s[(c.op, c.metric, c.baseline, c.where)]), "change": change_text(c),
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
    for op in _ops(results):
        svgs = []
        for m in METRICS:
            groups = [(name, values[(op, m.name, name, False)], values[(op, m.name, name, True)]) for name in names]
            groups = [g for g in groups if g[1] or g[2]]
            if groups:
                svgs.append(plots.strip(f"{op}: {m.label}", f"{m.label} ({m.unit})", groups, palette))
        out.append((op, svgs))
    return out


def _ops(results):
    return sorted({s["op"] for s in results["samples"]}, key=lambda op: (not op.startswith("inflate"), op))


def labels(results):
    """Every variant-and-setting of the job that has samples, in job order."""
    return list(dict.fromkeys(label(s) for s in results["samples"])) or variant_names(results)


def drift_plots(results, palette):
    """Per op: each boot's Q1 of the time to target in run order (round), one line per variant, and where counted
    the host's speed in every operation: drift across the job, and the slow spells behind it, at a glance."""
    out = []
    for op in _ops(results):
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


def log_link(path, job_dir):
    """``path`` relative to the report in ``<job>/balloon/``, for a link that works wherever the job dir is."""
    if not path:
        return None
    try:
        return os.path.relpath(path, Path(job_dir) / "balloon")
    except ValueError:
        return str(path)


def html(results, comps):
    """The self-contained HTML report of a job: outcome, verdicts, plots, kernel identities, job facts, range-diffs."""
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
        distributions=distributions(results, palette),
        drift=drift_plots(results, palette), interference=interference_text(results),
        trace=trace_plot(results, palette), phases=phases.split(results["samples"]), cell=phases.cell,
        seed=phases.seed_text() if phases.seed_scenario(results["samples"]) else "",
        settings=results.get("settings", []), setting_text=setting_text, range_diff=results.get("range_diff") or {})

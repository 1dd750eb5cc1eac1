"""The console text of a job's results: its outcome, the comparison tables (tabulate), the answers, the host's
speed, the job's facts, and the rule a verdict follows, in words.

Every variant of the job appears with its outcome first (``harness.judge.outcomes``), and a variant that left no
samples is listed under the verdicts as "not measured", never dropped.  What is compared with what, per host or
pooled, is ``harness.judge.policy``'s; the HTML page is ``harness.judge.html``.
"""

from tabulate import tabulate

from harness.judge import answers, phases, staircase, static
from harness.judge.outcomes import (failure_text, headline, interference, interference_text, label, not_measured,
                                    outcomes, setting_text, table as outcome_table)
from harness.judge.policy import baseline_of, comparisons, level, per_host, variant_names, views
from harness.judge.stats import ALPHA, LEVEL, hosts, median, summarize
from harness.judge.welch import MARGIN, MIN_BOOTS, POWER
from harness.results.metrics import LABELS, METRICS, metric


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
    for op in ops({"samples": measured}):
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
        f"  {a.op} {a.variant} vs {a.baseline}{f' in {a.setting}' if a.setting else ''}: {a.text()}" for a in said)


def p_text(c):
    return "" if c.p is None else f"{c.p:.3g}" + ("" if c.p_adjusted == c.p else f" ({c.p_adjusted:.3g})")


def rule():
    """How a verdict is made, in one paragraph, with the statistics module's own numbers."""
    return (f"Each boot gives the lower quartile (Q1) of its measured cycles (warm-ups excluded); the boots' log Q1s "
            f"of a variant and of the baseline go into Welch's t-test. The change is the ratio of their geometric "
            f"means with its {LEVEL * 100:.0f} % interval. Time to target is primary and decides; where it is "
            f"undecided, counted work (guest instructions, requests: counts the host's speed cannot move) answers for "
            f"a variant on its baseline's QEMU; the other metrics are secondary. Each family is Holm-corrected per "
            f"variant (p shows the adjusted value in brackets where it differs). A change is called at adjusted p < "
            f"{ALPHA:g}. \"No significant change\" is said only "
            f"where the job could have detected a ±{MARGIN * 100:.0f} % change with {POWER * 100:.0f} % power; "
            f"otherwise the verdict is inconclusive and says how many boots a side it needs (at least "
            f"{MIN_BOOTS}).")


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
    said += [text] if (text := staircase.text(results, comps, baseline_of(results))) else []
    speeds = [text] if (text := speed_table(results)) else []
    return "\n\n".join([*head, *texts, *said, *(["\n".join(missing)] if missing else []), *where_time_goes,
                        *speeds, *noisy]) + \
        hosts_note(results, split)


def _table(what, samples, comps, baseline, order, split, full, level_):
    by_key = {(c.op, c.metric, c.variant, c.setting): c for c in comps}
    summaries = [s for s in summarize(samples, split)
                 if full or (not s.warmup and (metric(s.metric).primary or metric(s.metric).counted))]
    settings = any(s.setting for s in summaries)
    rows = []
    names = [m.name for m in METRICS]
    for s in sorted(summaries, key=lambda s: (not s.op.startswith("inflate"), s.op, names.index(s.metric), s.warmup,
                                              s.setting or "", order.index(s.variant) if s.variant in order else 99)):
        c = by_key.get((s.op, s.metric, s.variant, s.setting)) if not s.warmup else None
        alone = settings and not s.warmup and not c and s.variant != baseline
        rows.append([s.op, LABELS[s.metric] + (" (warm-up)" if s.warmup else ""), *([s.setting] if settings else []),
                     s.variant, s.boots, s.n, *(value_text(s.metric, x) for x in (s.median, s.q1, s.iqr)),
                     f"{s.cv * 100:.1f} %" if s.cv >= 0.01 else f"{s.cv * 100:.3f} %",
                     change_text(c) if c else "", p_text(c) if c else "",
                     c.verdict if c else f"no {baseline} in {s.setting}" if alone else ""])
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
    """One line per variant with the kernel identity and its static checks (``harness.judge.static``), and the job's
    host/QEMU/accel facts."""
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
                     f"{', '.join(v['series']) or '(none)'}" + prerequisites_text(k) + static.facts_text(k)
                     + (f"; {qemu_text(v.get('qemu_build'), v.get('balloon'))}" if own_qemu else ""))
    settings = results.get("settings", [])
    for st in settings if len(settings) > 1 or any(st.get("axes") for st in settings) else []:
        lines.append(f"setting {setting_text(st) or '(default)'}: {qemu_text(st.get('qemu_build'))}, guest "
                     f"{st.get('memory_mib')} MiB, {setup_text(st)}, kernel command line "
                     f"{st.get('cmdline') or '(none)'!r}")
    return "\n".join(lines)


def prerequisites_text(kernel):
    """'; on prerequisites SOURCE (N patches, digest D), ...' for a kernel built on prerequisite series, and what
    its build ran from the series and what the sandbox refused it, else ''."""
    return "".join(("; on prerequisites " if n == 0 else ", ") + f"{p['source']} ({len(p['patches'])} patch"
                   f"{'es' * (len(p['patches']) != 1)}, digest {p['digest']})"
                   for n, p in enumerate(kernel.get("prerequisites") or [])) + "".join(
        f"; {said}" for said in [*(kernel.get("runs_at_build") or []), *(kernel.get("refused") or [])])


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
    if isinstance(placed, dict):  # where run/placement.py put the threads
        placed = f"split (vCPUs on CPU {placed.get('vcpus')}, the rest on {placed.get('rest')})"
    if not isinstance(setup, dict):  # "per setting": the job's settings list theirs
        return f"placement {placed}, setup {setup}"
    extra = [f"{k}=" + (",".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v))
             for k, v in setup.items() if v not in ("", 0, False, "anonymous", {}, None)]
    return f"placement {placed}" + "".join(f", {e}" for e in extra)


def ops(results):
    """The ops of the results' samples, inflate first."""
    return sorted({s["op"] for s in results["samples"]}, key=lambda op: (not op.startswith("inflate"), op))


def labels(results):
    """Every variant-and-setting of the job that has samples, in job order."""
    return list(dict.fromkeys(label(s) for s in results["samples"])) or variant_names(results)

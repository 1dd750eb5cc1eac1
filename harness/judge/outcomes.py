"""What became of every variant of a job: its tests' outcomes summed up, and its boots measured under interference.

``outcomes`` turns results.json's per-test ``outcomes`` into one record per variant (and setting of the axes), in
job order, with the worst status, the first failure's reason, console trouble line and log; ``headline`` says the
job's outcome in one line, before any verdict.  ``interference`` lists the boots whose operations saw the rest of
the host busy (``host_other_cpu_s``).  Every output (the console table, report.html, nightly.md, KCIDB) reads these,
so none can leave a variant out.
"""

from collections import defaultdict

from tabulate import tabulate

from harness.judge.sequential import STOPPED

PASSED = ("PASS", "WARN")
SEVERITY = ("ERROR", "FAIL", "INTERRUPTED", "CANCEL", "SKIP", "not run")  # the worst outcome names a variant's
INTERFERENCE = 0.5  # a boot whose operations saw the rest of the host use more than this many cores is flagged


def label(record):
    """A variant with its setting of the axes: what one strip, trace, outcome or colour stands for."""
    return record["variant"] + setting_text(record)


def setting_text(entry):
    """`` [axis=leaf, ...]`` for a record with axes, else empty."""
    axes = entry.get("axes") or {}
    return f" [{', '.join(f'{a}={v}' for a, v in sorted(axes.items()))}]" if axes else ""


def outcomes(results):
    """Per variant (and setting) of the job, in job order: ``{label, variant, tests, passed, status, reason,
    trouble, log, check, stage}``; status is PASS when every test passed, else the worst, "not run" without a test.
    The rounds a sequential job did not need (SKIP, ``STOPPED``) are not its tests.  Empty for results that carry
    no test outcomes (results.json of older jobs)."""
    if "outcomes" not in results:
        return []
    by_label = defaultdict(list)
    for o in results.get("outcomes", []):
        if not (o["status"] == "SKIP" and o["reason"].startswith(STOPPED)):
            by_label[label(o)].append(o)
    names = list(dict.fromkeys([*(label(v | {"variant": v["name"]}) for v in results["variants"]), *by_label]))
    out = []
    for name in names:
        tests = by_label.get(name, [])
        bad = sorted((o for o in tests if o["status"] not in PASSED),
                     key=lambda o: SEVERITY.index(o["status"]) if o["status"] in SEVERITY else 0)
        first = bad[0] if bad else None
        out.append({"label": name, "variant": tests[0]["variant"] if tests else name, "tests": len(tests),
                    "passed": len(tests) - len(bad), "status": first["status"] if first else "PASS" if tests else
                    "not run", "reason": first["reason"] if first else "", "trouble": (first or {}).get("trouble"),
                    "log": (first or {}).get("log"), "check": (first or {}).get("check"),
                    "stage": (first or {}).get("stage")})
    return out


def headline(results):
    """The job's outcome in one line, before any verdict: how many variants failed, and which (None without test
    outcomes)."""
    outs = outcomes(results)
    if not outs:
        return None
    bad = [o for o in outs if o["status"] != "PASS"]
    if not bad:
        return f"all {len(outs)} variant(s) passed every test"
    return f"{len(bad)} of {len(outs)} variant(s) did not pass: " + "; ".join(
        f"{o['label']} {o['status']}{' in ' + o['check'] if o['check'] else ''}" for o in bad)


def failure_text(o, width=100):
    """An outcome's status with its first trouble line or reason."""
    why = o["trouble"] or o["reason"]
    return o["status"] + (f": {short(why, width)}" if why else "")


def not_measured(results):
    """(label, outcome) of the variants that left no sample to compare."""
    measured = {label(s) for s in results["samples"]}
    return [(o["label"], o) for o in outcomes(results) if o["label"] not in measured]


def interference(results):
    """The boots measured under interference, as ``(label, boot, cores)``: during their measured operations the
    rest of the host (everything but QEMU: other jobs, the harness itself) used more than ``INTERFERENCE`` cores
    on average.  Flagged in every output, never dropped: their samples stay in the comparison."""
    busy, wall = defaultdict(float), defaultdict(float)
    for s in results["samples"]:
        if not s["warmup"] and s.get("host_other_cpu_s") is not None:
            busy[(label(s), s["boot"])] += s["host_other_cpu_s"]
            wall[(label(s), s["boot"])] += s["wall_s"]
    return [(name, boot, busy[(name, boot)] / wall[(name, boot)]) for name, boot in busy
            if wall[(name, boot)] and busy[(name, boot)] / wall[(name, boot)] > INTERFERENCE]


def interference_text(results):
    """The boots under interference in one line, or None."""
    flagged = interference(results)
    if not flagged:
        return None
    return (f"{len(flagged)} boot(s) measured while the rest of the host used more than {INTERFERENCE:g} core "
            "(kept in the comparison): " + ", ".join(f"{n} boot {b} ({c:.2f} cores)" for n, b, c in flagged))


def table(results):
    """The variants' outcomes as a console table."""
    rows = [[o["label"], o["status"], f"{o['passed']}/{o['tests']}", short(o["trouble"] or o["reason"], 90)]
            for o in outcomes(results)]
    return tabulate(rows, headers=["variant", "outcome", "tests passed", "first failure"])


def markdown(outs):
    """The variants' outcomes as a Markdown table (nightly.md)."""
    rows = [[o["label"], o["status"], f"{o['passed']}/{o['tests']}",
             short(o["trouble"] or o["reason"], 120).replace("|", "\\|")] for o in outs]
    return tabulate(rows, headers=["variant", "outcome", "tests passed", "first failure"], tablefmt="github",
                    disable_numparse=True)


def short(text, width):
    """``text`` on one line, cut to ``width`` characters."""
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"

"""A night's verdicts as they are published: the Markdown summary (``nightly.md``, for a CI page or a mail), b4's
external-check record (``b4-check.json``) and a KCIDB v5.3 submission (``kcidb.json``), written into
``<job>/balloon/`` by ``publish``; each names the bisection ``nightly --bisect`` ran, if any.  What the verdicts are
is harness/judge/history.py's (``history.Tonight``).
"""

from tabulate import tabulate

from harness.errors import HarnessError
from harness.judge import history, outcomes, report, static
from harness.judge.nights import Bisected
from harness.judge.report import pct
from harness.results import contract
from harness.results.metrics import LABELS, metric

ORIGIN = "balloon_harness"
KCIDB_VERSION = {"major": 5, "minor": 3}
STAGE_STATUS = {"apply": "MISS", "build": "FAIL"}  # a build's KCIDB status when its test stopped at that stage
KCIDB_STATUS = {"PASS": "PASS", "WARN": "PASS", "FAIL": "FAIL", "ERROR": "ERROR", "CANCEL": "MISS",
                "SKIP": "SKIP", "INTERRUPTED": "ERROR", "not run": "MISS"}  # a variant's outcome's test status
STATIC_STATUS = {"pass": "PASS", "warn": "PASS", "fail": "FAIL"}  # a static check's KCIDB test status
BISECT_STATUS = {"found": "FAIL", "undecided": "DONE", "error": "ERROR"}  # a bisection's KCIDB test status
EXCERPT = 16384  # KCIDB's longest log_excerpt


def publish(tonight, data):
    """Write nightly.md, b4-check.json and kcidb.json into ``<job>/balloon/``; return the Markdown."""
    out = tonight.job_dir / "balloon"
    text = summary(tonight)
    try:
        (out / "nightly.md").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {out / 'nightly.md'}: {exc.strerror}") from exc
    contract.write_json(out / "b4-check.json", b4_check(tonight, data))
    contract.write_json(out / "kcidb.json", kcidb(tonight, data))
    return text


def headline(tonight):
    parts = []
    if tonight.regressions:
        parts.append(f"{len(tonight.regressions)} regression(s)")
    if tonight.failed:
        parts.append(f"{len(tonight.failed)} of {len(tonight.outcomes)} variant(s) did not pass: "
                     + ", ".join(f"{o['label']} {o['status']}" for o in tonight.failed))
    if parts:
        return "; ".join(parts)
    return "no regression" if tonight.status == "pass" else \
        f"no verdict yet: fewer than {tonight.min_nights} nights alike to compare with"


def value_text(t, value):
    """A trend's value: a candidate's ratio to its night's base, the base's own Q1 in its metric's unit."""
    return f"×{value:.3f}" if t.relative else f"{report.value_text(t.metric, value)} {metric(t.metric).unit}"


def regression_line(t):
    previous = [x for _, x in t.nights]
    return (f"**{t.variant}**{_setting(t)} {t.op}, {LABELS[t.metric]}: **{t.verdict}**, "
            f"{pct(t.tonight)} of the same night's base tonight against {value_text(t, min(previous))}–"
            f"{value_text(t, max(previous))} on {len(previous)} nights alike (p {_ps(t)})")


def _setting(t):
    return f" [{t.setting}]" if t.setting else ""


def _ps(t):
    return ", ".join(f"{name} {p:.2g}" for name, p in (("tonight", t.p_tonight), ("two nights", t.p_two))
                     if p is not None)


def summary(tonight):
    """The Markdown summary for a CI page or a mail."""
    lines = [f"## balloon-harness nightly: {headline(tonight)}", "",
             f"Job `{tonight.job_dir}` · report `{tonight.job_dir / 'balloon' / 'report.html'}`", "",
             (f"Each candidate's time to target as a ratio to the same night's base (geometric mean of its boots' "
              f"Q1), against the same ratio on up to {len(tonight.nights)} previous nights alike (same job file, "
              f"host, accelerator and QEMU): a one-sided prediction interval for tonight and for the last two "
              f"nights, together at most {history.FALSE_ALARM * 100:g} % false alarms a night. The base's own Q1 "
              f"and the other metrics are shown, never alerting (the other metrics Holm-corrected). No verdict "
              f"before {tonight.min_nights} nights alike."), ""]
    if tonight.regressions:
        lines += ["### Regressions", *(f"- {regression_line(t)}" for t in tonight.regressions), ""]
    if tonight.bisection:
        lines += ["### Bisection (--bisect)", *bisection_lines(tonight.bisection), ""]
    lines += ["### Variants", "", outcomes.markdown(tonight.outcomes), ""]
    if tonight.answers:
        lines += ["### Tonight's job, where its time is undecided", *(f"- {a}" for a in tonight.answers), ""]
    if tonight.changes:
        lines += ["### Changed since the previous night alike", *(f"- {c}" for c in tonight.changes), ""]
    return "\n".join(lines + ["### History (nights alike, then tonight)", "", history_table(tonight), ""])


def bisection_lines(b):
    """The summary's lines of ``tonight.bisection``: what it found, over which range, where, and how to rerun it; or
    why none ran."""
    if isinstance(b, str):
        return [f"- {b}"]
    return [f"- **{b.said}**",
            f"- {b.variant}'s {b.op}{f' {LABELS[b.metric]}' if b.metric else ''}, over the base's "
            f"`{b.good[:12]}..{b.bad[:12]}`" + (f", transcript `{b.dir}/bisect.txt`" if b.dir else ""),
            f"- rerun: `{b.command}`"]


def history_table(tonight):
    rows = []
    for t in tonight.trends:
        by_night = dict(t.nights)
        verdict = f"**{t.verdict}**" if t.regression else t.verdict
        rows.append([t.variant + _setting(t), t.op, LABELS[t.metric] + (" (vs base)" if t.relative else " (Q1)"),
                     *(value_text(t, by_night[n.id]) if n.id in by_night else "" for n in tonight.nights),
                     value_text(t, t.tonight), _ps(t), verdict])
    nights = [f"#{n.id} {n.time[5:16].replace('T', ' ')}" for n in tonight.nights]
    return tabulate(rows, headers=["variant", "op", "metric", *nights, "tonight", "p (one-sided)", "verdict"],
                    tablefmt="github", disable_numparse=True)


def b4_check(tonight, data=None):
    """b4 review external-check records: the night's, then per variant whose kernel kept them (of results.json
    ``data``) its static checks' (``fail`` on a checkpatch error or a new compiler warning, ``warn`` on a checkpatch
    warning or check)."""
    details = ([regression_line(t) for t in tonight.regressions]
               + [f"{o['label']}: {o['status']} — {o['trouble'] or o['reason']}" for o in tonight.failed]
               + list(tonight.changes))
    text = f"nightly: {headline(tonight)}"
    if worst := max(tonight.regressions, key=lambda t: t.tonight, default=None):
        text += f"; worst: {worst.variant} {worst.op} {LABELS[worst.metric]} {pct(worst.tonight)}"
    url = str(tonight.job_dir / "balloon" / "report.html")
    return [{"tool": "balloon-harness", "status": tonight.status, "summary": text, "url": url,
             "details": "\n".join(details)}, *_b4_bisection(tonight.bisection, url),
            *(_b4_static(v, url) for v in (data or {}).get("variants", []) if _checked(v["kernel"]))]


def _b4_bisection(b, url):
    """The bisection that ran as its own b4 record (none where none ran): ``fail`` with the first bad commit in its
    summary, else ``warn`` with why it stayed undecided; the transcript in its details."""
    if not isinstance(b, Bisected):
        return []
    return [{"tool": "balloon-harness bisect", "status": "fail" if b.first_bad else "warn", "summary": b.said,
             "url": f"{b.dir}/bisect.txt" if b.dir else url, "details": b.transcript}]


def _checked(kernel):
    """The static checks' records a kernel kept: {"checkpatch": record, "warnings": record}, those present."""
    return {name: kernel[name] for name in ("checkpatch", "warnings") if kernel.get(name) is not None}


def _b4_static(v, url):
    """A variant's static checks as a b4 external check: the worse of its checkpatch's and warnings' status."""
    checked = _checked(v["kernel"])
    said = {"checkpatch": static.checkpatch_status, "warnings": static.warnings_status}
    worst = max((said[name](rec) for name, rec in checked.items()), key=["pass", "warn", "fail"].index)
    return {"tool": "balloon-harness static checks", "status": worst,
            "summary": f"{v['name']}: " + "; ".join(static.said(v["kernel"])), "url": url,
            "details": "\n".join(_static_lines(checked))}


def _static_lines(checked):
    """Every new warning ('level file:line: message (patch)') and checkpatch's quoted lines per patch."""
    w, c = checked.get("warnings"), checked.get("checkpatch")
    return ([f"{x['level']} {static.where(x)}" + (f" ({x['patch']})" if x.get("patch") else "")
             for x in (w or {}).get("new", [])]
            + [f"{p['patch']}: {line}" for p in (c or {}).get("patches", []) for line in p["lines"]])


def kcidb(tonight, data):
    """A KCIDB v5.3 submission: per variant a checkout (valid unless its series did not apply) and a build (its real
    status), a test per variant for its outcome (``balloon.outcome``), one per static check its kernel kept
    (``balloon.checkpatch``, ``balloon.warnings``), one per variant, op and metric that was judged against the
    history, and the bisection that ran, if any (``balloon.bisect``)."""
    job, facts = tonight.job_dir.name, data["job"]
    outs = {o["variant"]: o for o in tonight.outcomes}
    environment = {"comment": f"{facts.get('host')}, QEMU {facts.get('qemu_version')}, accel {facts.get('accel')}"}
    checkouts, builds, tests = [], [], []
    for v in data["variants"]:
        checkout, build, test = _variant(v, outs.get(v["name"], {}), f"{ORIGIN}:{job}:{v['name']}", tonight.time,
                                         environment)
        checkouts.append(checkout)
        builds.append(build)
        tests += [test] if test else []
        tests += _static_tests(v, f"{ORIGIN}:{job}:{v['name']}", tonight.time, environment)
    tests += [_trend(t, job, tonight.time, environment) for t in tonight.trends]
    if isinstance(tonight.bisection, Bisected):
        tests.append(_bisect_test(tonight.bisection, job, tonight.time, environment))
    return {"version": KCIDB_VERSION, "checkouts": checkouts, "builds": builds, "tests": tests}


def _variant(v, o, key, time, environment):
    """A variant's KCIDB checkout, build and outcome test (the test None without an outcome, or where its test
    stopped at applying or building the kernel: the build says it)."""
    k, stage = v["kernel"], o.get("stage")
    checkout = _present({"id": key, "origin": ORIGIN, "tree_name": k.get("base"),
                         "valid": stage != "apply" if o else None,
                         "comment": f"{k.get('base') or 'base'} + {' | '.join(v['series']) or 'no series'}",
                         "start_time": time})
    build = _present({"id": key, "origin": ORIGIN, "checkout_id": key, "architecture": "x86_64",
                      "compiler": k.get("compiler"), "duration": k.get("build_s"),
                      "status": STAGE_STATUS.get(stage, "PASS" if k.get("release") else "MISS"),
                      "log_excerpt": o.get("reason") if stage in STAGE_STATUS else None,
                      "misc": _present({"kernel_release": k.get("release"), "config_sha256": k.get("config_sha256"),
                                        "bzimage_sha256": k.get("bzimage_sha256")}) or None})
    test = None
    if o and stage not in STAGE_STATUS:
        test = _present({"id": f"{key}:outcome", "origin": ORIGIN, "build_id": key, "path": "balloon.outcome",
                         "status": KCIDB_STATUS.get(o["status"], "ERROR"),
                         "comment": f"{o['passed']} of {o['tests']} tests passed",
                         "log_excerpt": (o.get("trouble") or o.get("reason") or None),
                         "start_time": time, "environment": environment})
    return checkout, build, test


def _static_tests(v, key, time, environment):
    """The KCIDB tests of a variant's static checks, one per record its kernel kept: ``balloon.checkpatch`` (FAIL
    with an error) and ``balloon.warnings`` (FAIL with a new warning); the counts in ``misc``, the words in
    ``comment``, what was found in ``log_excerpt``."""
    k, out = v["kernel"], []
    if (c := k.get("checkpatch")) is not None:
        out.append(_present({
            "id": f"{key}:checkpatch", "origin": ORIGIN, "build_id": key, "path": "balloon.checkpatch",
            "status": STATIC_STATUS[static.checkpatch_status(c)], "comment": static.checkpatch_text(c),
            "log_excerpt": _excerpt(_static_lines({"checkpatch": c})), "start_time": time, "environment": environment,
            "misc": {"strict": c["strict"], "errors": c["errors"], "warnings": c["warnings"], "checks": c["checks"],
                     "patches": [{n: p[n] for n in ("patch", "errors", "warnings", "checks")}
                                 for p in c["patches"]]}}))
    if (w := k.get("warnings")) is not None:
        out.append(_present({
            "id": f"{key}:warnings", "origin": ORIGIN, "build_id": key, "path": "balloon.warnings",
            "status": STATIC_STATUS[static.warnings_status(w)], "comment": static.warnings_text(w),
            "log_excerpt": _excerpt(_static_lines({"warnings": w})), "start_time": time, "environment": environment,
            "misc": {"levels": w["levels"], "new": len(w["new"]), "removed": len(w["removed"])}}))
    return out


def _excerpt(lines):
    """``lines`` as a KCIDB log excerpt (None without any), cut to its longest."""
    return "\n".join(lines)[:EXCERPT] or None


def _trend(t, job, time, environment):
    """The KCIDB test of a trend judged against the history."""
    return _present({"id": f"{ORIGIN}:{job}:{t.variant}:{_ident(t.setting or '')}:{_ident(t.op)}.{t.metric}",
                     "origin": ORIGIN, "build_id": f"{ORIGIN}:{job}:{t.variant}",
                     "path": f"balloon.{_ident(t.op)}.{t.metric}",
                     "status": "FAIL" if t.regression else "PASS" if t.judged else "DONE",
                     "comment": t.verdict, "start_time": time, "environment": environment,
                     "misc": _present({"tonight": t.tonight, "nights": [x for _, x in t.nights],
                                       "relative_to_base": t.relative, "p_tonight": t.p_tonight,
                                       "p_two_nights": t.p_two, "setting": t.setting or None})})


def _bisect_test(b, job, time, environment):
    """The bisection as a KCIDB test ``balloon.bisect`` of the build of the variant that moved: a test, not the
    checkout's ``misc``, because a test's status and log excerpt are what KCIDB's dashboards and notifications show.
    ``FAIL`` naming the first bad commit (the base's history holds the regression), ``DONE`` undecided, ``ERROR``
    where it stopped with an error; the range and commit in ``misc``, the transcript in ``log_excerpt``."""
    build = f"{ORIGIN}:{job}:{b.variant}"
    return _present({"id": f"{build}:bisect", "origin": ORIGIN, "build_id": build, "path": "balloon.bisect",
                     "status": BISECT_STATUS[b.outcome], "comment": b.said, "log_excerpt": _excerpt([b.transcript]),
                     "start_time": time, "environment": environment,
                     "misc": _present({"good": b.good, "bad": b.bad, "first_bad": b.first_bad, "op": b.op,
                                       "metric": b.metric, "dir": b.dir, "command": b.command})})


def _ident(text):
    """``text`` as a KCIDB path or id part: letters, digits, ``_`` and ``-`` only."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in text)


def _present(record):
    """KCIDB allows no nulls: drop the fields we do not know."""
    return {k: v for k, v in record.items() if v is not None}

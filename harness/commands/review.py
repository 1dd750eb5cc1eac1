"""``balloon-harness review [--base SPEC] [--job JOB.yaml] [--per-patch] SERIES...``: versions of a series to a reply.

Each SERIES is a directory of patches, an mbox (``b4 am`` output) or a message-id (fetched with b4). The command
reads every version, range-diffs consecutive ones on the base, writes ``job.yaml`` into a new review directory
(harness/config/template.py: the template's kernel, guest and workload; the base, or ``--base``; the base kernel and
one variant per version, at most ``--rounds`` interleaved rounds, looked at every ``LOOK_EVERY``: they stop once
every primary comparison is decided, harness/judge/sequential.py) and ``checks.yaml`` (the same kernels, one round),
and runs the benchmark and the functional checks on them through Avocado, so the ``avocado run`` lines in the reply
reproduce them. Then it writes ``reply.txt`` into the directory and prints it: plain text of at most 72 columns to
paste under a quoted patch mail — per version whether it applies, builds and passes the functional checks (or what
failed first), its new compiler warnings and checkpatch's findings, the primary verdicts with their intervals or
"inconclusive" (with ``--per-patch``, each patch's step under them: every prefix of each version is benchmarked too,
harness/judge/staircase.py), the environment, the commands, and a ``Tested-by:`` only where everything passed and no
version adds a warning or a checkpatch error.
"""

import argparse
import subprocess
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import yaml

from harness import cache
from harness.avocado import jobs
from harness.config import loader, template
from harness.intake import origin, tree
from harness.intake.apply import APPLIES, check_series, range_diff
from harness.intake.fetch import fetched, source
from harness.intake.series import count, read_series
from harness.judge import answers, outcomes, policy, staircase, static, stats
from harness.results import contract
from harness.results.metrics import LABELS

WIDTH = 72
PRIMARY = (("inflate", "wall_s"), ("deflate", "wall_s"), ("inflate", "qemu_cpu_s"))
STEP_FIGURES = (("guest_insns", "guest instructions", 2), ("wall_s", "time", 0))  # a step's line: metric, words, digits


def add_parser(subparsers):
    p = subparsers.add_parser("review", help="benchmark and check versions of a series; write a reply for the list")
    p.add_argument("series", nargs="+", type=source, help="each version: a directory, an mbox or a message-id")
    p.add_argument("--job", type=Path, default=jobs.ROOT / "configs" / "default.yaml", metavar="JOB.yaml",
                   help="the template: kernel, guest, workload and base (default configs/default.yaml)")
    p.add_argument("--prerequisite", action="append", type=source, default=[], metavar="SERIES",
                   help="a series applied before every version, and to the base they are compared with (repeat "
                        "for several, in order)")
    p.add_argument("--base", type=_mapping, metavar="SPEC",
                   help="the base instead of the template's, e.g. '{git: ~/linux, ref: v6.1}'")
    p.add_argument("--rounds", type=int, default=18, metavar="N",
                   help=f"at most this many interleaved boots per kernel, looked at every "
                        f"{template.LOOK_EVERY} (default 18)")
    p.add_argument("--checks", default="", metavar="TEST[,TEST]",
                   help="only these functional checks (e.g. test_evict); default all")
    p.add_argument("--results-dir", type=Path, default=Path("results/review"), metavar="DIR")
    p.add_argument("--per-patch", action="store_true",
                   help="benchmark every prefix of each version too, each patch against the prefix before it")
    p.add_argument("--tested-by", metavar="'NAME <EMAIL>'", help="default: git config user.name and user.email")
    p.set_defaults(func=run)


def _mapping(text):
    value = yaml.safe_load(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a YAML mapping such as '{{git: ~/linux, ref: v6.1}}'")
    return value


def run(args):
    paths = [fetched(s).resolve() for s in args.series]
    versions = [read_series(p) for p in paths]
    before = [fetched(s).resolve() for s in args.prerequisite]
    prerequisites = [read_series(p) for p in before]
    names = [f"v{s.version or n}" for n, s in enumerate(versions, 1)]
    if len(set(names)) < len(names):
        names = [f"v{n}" for n in range(1, len(versions) + 1)]
    base = args.base or loader.load(args.job, count).base
    review_dir = args.results_dir.resolve() / datetime.now(UTC).strftime("review-%Y%m%dT%H%M%S")
    review_dir.mkdir(parents=True)
    job_yaml, checks_yaml = review_dir / "job.yaml", review_dir / "checks.yaml"
    job_yaml.write_text(job_text(args.job, base, dict(zip(names, paths)), args.rounds, before, args.per_patch),
                        encoding="utf-8")
    checks_yaml.write_text(job_text(args.job, base, dict(zip(names, paths)), prerequisites=before), encoding="utf-8")
    loader.load(job_yaml, count)
    pristine = tree.pristine(tree.resolve(base), cache.root())
    applies = {n: check_series(pristine, s, prerequisites) for n, s in zip(names, versions)}
    diffs = [(a, b, range_diff(pristine, x, y, prerequisites)) for (a, x), (b, y) in zip(zip(names, versions),
                                                                                         zip(names[1:], versions[1:]))]
    for a, b, text in diffs:
        (review_dir / f"range-diff-{a}-{b}.txt").write_text(text)
    checks = [f"{jobs.FUNCTIONAL}:Functional.{c}$" for c in args.checks.split(",") if c] or [jobs.FUNCTIONAL]
    bench = jobs.run(jobs.BENCHMARK, job_yaml, review_dir)
    functional = [jobs.run(c, checks_yaml, review_dir) for c in checks]
    text = reply(contract.load(bench), [contract.load(f) for f in functional], names, versions, applies,
                 [jobs.command_line(jobs.BENCHMARK, job_yaml, review_dir),
                  *(jobs.command_line(c, checks_yaml, review_dir) for c in checks)],
                 args.tested_by or git_identity(), prerequisites)
    (review_dir / "reply.txt").write_text(text)
    print(text, end="")
    return 0 if "Tested-by:" in text else 1


def job_text(job, base, versions, rounds=None, prerequisites=(), per_patch=False):
    """A review's job file from the template ``job``: the base and each version as variants, every one on the
    ``prerequisites`` (series paths, in order); with ``rounds``, that many interleaved rounds at most, stopped at
    the first look that decides; with ``per_patch``, every prefix of each version as well."""
    on = {"prerequisites": [str(p) for p in prerequisites]} if prerequisites else {}
    each = {**on, **({"per_patch": True} if per_patch else {})}
    variants = {"base": on, **{name: {"series": str(path), **each} for name, path in versions.items()}}
    return template.job_text(job, base, variants, rounds, "balloon-harness review")


def git_identity():
    """``Name <email>`` from git config, or None."""
    def get(key):
        out = subprocess.run(["git", "config", key], capture_output=True, text=True, check=False)
        return out.stdout.strip()
    name, email = get("user.name"), get("user.email")
    return f"{name} <{email}>" if name and email else None


def reply(bench, functional, names, versions, applies, commands, tested_by, prerequisites=()):
    """reply.txt: the prerequisites every version was applied on, per version what happened, its static checks and
    the primary verdicts, then the environment and the commands; ``Tested-by:`` where every version passed all."""
    out = _prerequisites(names, versions, prerequisites)
    checks = [o for f in functional for o in f.get("outcomes", [])]
    bench_out = {o["variant"]: o for o in outcomes.outcomes(bench)}
    everything = True
    for name, series in zip(names, versions):
        lines, passed = _version(bench, bench_out, [o for o in checks if o["variant"] == name], name, series,
                                 applies[name])
        out += lines + [""]
        everything &= passed
    out += _environment(bench) + ["", "Reproduce (from a balloon-harness checkout):"]
    for line in commands:
        out += _shell(line)
    if everything and tested_by:
        out += ["", f"Tested-by: {tested_by}"]
    return "\n".join(out) + "\n"


def _prerequisites(names, versions, prerequisites):
    """The prerequisites every version is on, and those a version names itself (b4's trailers)."""
    out = []
    for series in prerequisites:
        n = len(series.patches)
        out += _wrap(f"On prerequisite {series.source.name} ({n} patch{'es' * (n != 1)}: "
                     f"{'; '.join(p.subject for p in series.patches)}), applied to the base and to every version, "
                     "so each is compared with base + prerequisites.") + [""]
    named = [line for name, series in zip(names, versions) for said in origin.named(series, prerequisites)
             for line in _wrap(f"{name} names a prerequisite: {said}")]
    return out + named + ([""] if named else [])


def _version(bench, bench_out, mine, name, series, applied):
    """(lines, whether it passed all) of one version: applies, builds, checks; what it runs at build time; the
    list robots' words; its first failure; its primary verdicts."""
    ok_apply = all(o.status in APPLIES for o in applied)
    passed = sum(o["status"] == "PASS" for o in mine)
    b = bench_out.get(name, {"status": "not run", "stage": None, "reason": "", "trouble": None})
    built = b.get("stage") not in ("apply", "build") and b["status"] != "not run"
    out = _wrap(f"{name} ({len(series.patches)} patch{'es' if len(series.patches) != 1 else ''}): "
                f"{'applies' if ok_apply else 'does not apply'}, {'builds' if built else 'does not build'}, "
                f"functional checks {passed} of {len(mine)} PASS")
    for f in [f for f in series.findings if f.code in ("outside-tree", "runs-at-build")]:
        out += _wrap(f.message, "  ")  # what a reviewer should read before building it
    kernel = next((v.get("kernel") or {} for v in bench["variants"] if v["name"] == name), {})
    robots = static.said(kernel)
    out += _wrap("; ".join(robots), "  ") if robots else []
    robots_ok = not (kernel.get("warnings") or {}).get("new") and not (kernel.get("checkpatch") or {}).get("errors")
    if not built and b["status"] != "not run":  # one build error says it for every test
        out += _wrap(f"build: {b['reason'].split(' | ')[0]}", "  ")
    else:
        for o in [o for o in mine if o["status"] != "PASS"][:1] + ([b] if b["status"] != "PASS" else []):
            out += _wrap(f"{o.get('check') or 'benchmark'}: {outcomes.failure_text(o, 200)}", "  ")
    out += _verdicts(bench, name) + _steps(bench, name)
    return out, bool(ok_apply and built and robots_ok and b["status"] == "PASS" and mine and passed == len(mine))


def _verdicts(bench, name):
    """The primary verdicts of one version: the answer where there is one, else the comparison."""
    baseline = policy.baseline_of(bench)  # the version as a whole, not a step of its staircase (--per-patch)
    comps = {(c["variant"], c["op"], c["metric"]): c for c in bench.get("comparisons", []) if c["baseline"] == baseline}
    answered = {(a["variant"], a["op"]): a for a in bench.get("answers", []) if a["axis"] == "variant"
                and a["baseline"] == baseline}
    out = []
    for op, metric in PRIMARY:
        c, a = comps.get((name, op, metric)), answered.get((name, op)) if metric == "wall_s" else None
        if a:  # the time, and where it is undecided the counted work (harness/judge/answers.py)
            out += _wrap(f"{op} {a['text']}", "  ")
        elif c:
            change = answers.interval_text(c["ratio"], c["ci"])
            out += _wrap(f"{op} {LABELS[metric]}: {change} {answers.short(c['verdict'])}", "  ")
    return out


def _steps(bench, name):
    """Each patch of a version against the prefix before it (a review with ``--per-patch``), per op: the guest's
    instructions and the time, each with its interval and verdict, and the prefixes a step spans that did not run."""
    found = staircase.of_version(bench, [stats.from_record(c) for c in bench.get("comparisons", [])],
                                 policy.baseline_of(bench), name)
    out = []
    for op in dict.fromkeys(s.op for s in found):
        out.append(f"  {op}, each patch against the prefix before it:")
        for s in (s for s in found if s.op == op):
            out += _wrap(f"{s.patch}: {_step(s)}" + (f" ({'; '.join(s.skipped)})" if s.skipped else ""), "    ",
                         "    ")
    return out


def _step(step):
    """A step's figures in the reply's few words: "guest instructions +0.77 % [+0.66, +0.87] more, time ..."."""
    by = {c.metric: c for c in step.comparisons}
    return ", ".join(f"{label} {answers.interval_text(c.ratio, c.ci, digits)} {c.verdict.split(':')[0].split(' (')[0]}"
                     for metric, label, digits in STEP_FIGURES if (c := by.get(metric)))


def _environment(bench):
    """Where and how it was measured, in one paragraph."""
    job = bench["job"]
    version = next((v for v in bench["variants"] if v.get("kernel")), {}).get("kernel", {})
    boots = max((c.get("boots", 0) for c in bench.get("comparisons", [])), default=0)
    seq = bench.get("sequential")
    stopped = (f" ({'decided' if seq['decided'] else 'undecided'} at round {seq['round']} of at most "
               f"{seq['looks'][-1]})" if seq else "")
    measured = (f"{boots} boot{'s' * (boots != 1)} per kernel{stopped}" if bench.get("comparisons") else
                "no version measured")
    return _wrap(f"Measured under {str(job.get('accel', '?')).upper()} with QEMU {job.get('qemu_version', '?')} on "
                 f"{(job.get('host_facts') or {}).get('cpu_model', job.get('host', '?'))}, a "
                 f"{job.get('memory_mib')} MiB guest, kernel config {str(version.get('config_sha256'))[:12]}, "
                 f"command line '{job.get('cmdline') or ''}', {measured}; base "
                 f"{bench['variants'][0]['kernel'].get('release', '?')}. Changes are of each "
                 f"boot's lower quartile, with {policy.level(bench) * 100:.4g} % intervals.", hang="")


def _shell(line, indent="  "):
    """A shell line broken at its arguments with backslashes, each piece within ``WIDTH`` columns."""
    pieces = textwrap.wrap(line, WIDTH - len(indent) - 4, break_long_words=False, break_on_hyphens=False)
    ends = [" \\"] * (len(pieces) - 1) + [""]
    return [indent + ("  " if i else "") + p + end for i, (p, end) in enumerate(zip(pieces, ends))]


def _wrap(text, indent="", hang="  "):
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + hang,
                         break_on_hyphens=False) or [""]

"""``balloon-harness nightly CONFIG``: run the job, add it to the history, and say what changed since the last nights.

Runs the Avocado job as a child process (one test at a time), stores ``<job>/balloon/results.json`` as a night in
the history database (``harness.judge.nights``), judges tonight against the previous nights alike
(``harness.judge.history``) and writes ``<job>/balloon/nightly.md`` (also printed), ``b4-check.json`` and
``kcidb.json`` (``harness.judge.exports``).
With ``--bisect``, a night that moved on a git base that moved since the night alike before it then runs
``balloon-harness bisect`` over that range as a child process (``history.bisect_request`` says what, or why not),
stores what it found with the night, and the outputs name it; it never changes the exit status.
Exit status: 0 no regression, 1 a regression of a candidate's time to target or a variant that FAILed, 2 a harness
error (a test that ended ERROR or CANCEL, a bad job file, a crash: ``harness.cli``).  The command composes: it
parses its options, rewrites the job file's series for ``--set-series``, runs the job and the bisection; judging
and publishing are the judge layer's.
"""

import argparse
import json
import shlex
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from harness.avocado import jobs
from harness.command import Process
from harness.config import loader
from harness.errors import ConfigError, HarnessError
from harness.intake.series import count
from harness.judge import exports, history, nights
from harness.results import contract

STR = "tag:yaml.org,2002:str"
ERROR = "balloon-harness: error: "  # how harness.cli begins a command's error


def add_parser(subparsers):
    p = subparsers.add_parser("nightly", help="run the nightly job, keep its history, report regressions")
    p.add_argument("config", type=Path, help="job YAML, e.g. configs/nightly.yaml")
    p.add_argument("--results-dir", type=Path, default=Path("results/nightly"), metavar="DIR",
                   help="where Avocado puts the job directories (default results/nightly)")
    p.add_argument("--db", type=Path, metavar="PATH", help=f"history database (default RESULTS_DIR/{nights.DB_NAME})")
    p.add_argument("--set-series", action="append", default=[], type=_override, metavar="VARIANT=PATH",
                   help="tonight, build VARIANT with the series at PATH instead (repeatable)")
    p.add_argument("--nights", type=int, default=14, metavar="N",
                   help="previous nights alike to compare with (default 14)")
    p.add_argument("--min-nights", type=int, default=history.MIN_NIGHTS, metavar="N",
                   help=f"nights alike a verdict needs (default {history.MIN_NIGHTS}; fewer see only large changes)")
    p.add_argument("--bisect", action="store_true",
                   help="after a night that moved on a git base that moved since the night before, bisect that range")
    p.set_defaults(func=run)


def _override(text):
    name, sep, path = text.partition("=")
    if not (name and sep and path):
        raise argparse.ArgumentTypeError(f"{text!r} is not VARIANT=PATH")
    if not Path(path).exists():
        raise argparse.ArgumentTypeError(f"{path}: no such series directory or file")
    return name, Path(path).resolve()


def run(args):
    when = datetime.now(UTC).isoformat(timespec="seconds")
    results_dir = args.results_dir.resolve()
    source = args.config.resolve()
    job_yaml = job_config(source, dict(args.set_series), results_dir)
    job_dir = jobs.run(jobs.BENCHMARK, job_yaml, results_dir)
    data = contract.load(job_dir)
    nights.harness_errors(data)
    overrides = " ".join(f"{n}={p}" for n, p in args.set_series)
    conn = nights.connect((args.db or results_dir / nights.DB_NAME).resolve())
    try:
        night = nights.store(conn, data, source.read_text(encoding="utf-8"), job_yaml.read_text(encoding="utf-8"),
                             overrides, when)
        tonight = history.Tonight.of(conn, night, data, when, args.nights, args.min_nights)
        if args.bisect:
            tonight = replace(tonight, bisection=bisect_night(conn, night, tonight, source, job_yaml, results_dir))
    finally:
        conn.close()
    print(exports.publish(tonight, data))
    return 1 if tonight.status == "fail" else 0


def bisect_night(conn, night, tonight, source, job_yaml, results_dir):
    """Run the bisection ``tonight`` asks for as a child process, store it with night ``night`` and return it
    (``nights.Bisected``); or return the line that says why none ran."""
    job = loader.load(job_yaml, count)
    before = nights.base_of(conn, tonight.nights[-1].id) if tonight.nights else None
    request = history.bisect_request(tonight, nights.base_of(conn, night), before, {v.name: v for v in job.variants})
    if isinstance(request, str):
        print(f"nightly: {request}", flush=True)
        return request
    out = results_dir / "bisect"
    argv = bisect_argv(source, job.base, request, out)
    line = shlex.join(["balloon-harness", *argv[1:]])
    print(f"nightly: bisecting {request.why} over the base's {request.good[:12]}..{request.bad[:12]}:\n  {line}",
          flush=True)
    directory, error = run_bisect(argv, out)
    record = directory / "bisect.json" if directory else None
    transcript = directory / "bisect.txt" if directory else None
    found = history.bisected(request, line, directory,
                             json.loads(record.read_text()) if record and record.exists() else None,
                             transcript.read_text() if transcript and transcript.exists() else "", error)
    nights.store_bisection(conn, night, found)
    print(f"nightly: {found.said}", flush=True)
    return found


def bisect_argv(source, base, request, out):
    """The ``balloon-harness bisect`` command of ``request`` with job file ``source`` as its template, the job's git
    ``base`` as its tree (relative paths from the checkout, as the job's), its results under ``out``."""
    argv = [Path(sys.executable).with_name("balloon-harness"), "bisect", source,
            "--tree", (jobs.ROOT / Path(base["git"]).expanduser()).resolve(), "--good", request.good,
            "--bad", request.bad, "--results-dir", out]
    argv += ["--with", (jobs.ROOT / request.series).resolve()] if request.series else []
    argv += ["--op", request.op, *(["--metric", request.metric] if request.metric else [])]
    return [str(a) for a in argv]


def run_bisect(argv, out):
    """Run the bisection ``argv`` from the checkout, its console on ours; return (the directory it made under
    ``out`` or None, the error it stopped with or "")."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.glob("bisect-*"))
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        try:
            with Process(argv, stdout=None, stderr=err, cwd=jobs.ROOT) as proc:
                rc = proc.popen.wait()
        except OSError as exc:
            return None, f"{argv[0]}: cannot run: {exc.strerror}"
        err.seek(0)
        text = err.read()
    sys.stderr.write(text)
    new = sorted(set(out.glob("bisect-*")) - before)
    said = [x.removeprefix(ERROR) for x in text.splitlines() if x.startswith(ERROR)]
    error = said[-1] if said else "" if rc in (0, 1) else f"exit status {rc}: {text.strip()[-300:]}"
    return (new[-1] if new else None), error


def job_config(path, overrides, results_dir):
    """The job YAML to run: ``path`` itself, or a copy in ``results_dir`` with the series of some variants replaced."""
    loader.load(path, count)
    if not overrides:
        return path
    out = results_dir / "nightly-config.yaml"
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        out.write_text(with_series(path, overrides), encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {out}: {exc.strerror}", hint="choose another --results-dir") from exc
    loader.load(out, count)
    return out


def with_series(path, overrides):
    """The text of job YAML ``path`` with ``{variant: series path}`` applied (``!mux`` tags kept, comments not)."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    leaves = {}
    for key, node in root.value:
        if key.value == "variants":
            for leaf, values in node.value:
                leaves[next((v.value for k, v in values.value if k.value == "variant"), leaf.value)] = values
    for name, series in overrides.items():
        if name not in leaves:
            raise ConfigError(f"{path}: --set-series names no variant {name!r}", hint=f"variants: {', '.join(leaves)}")
        node = leaves[name]
        node.value = [(k, v) for k, v in node.value if k.value != "series"] + [
            (yaml.ScalarNode(STR, "series"), yaml.ScalarNode(STR, str(series)))]
    return f"# {path} with --set-series {' '.join(f'{n}={s}' for n, s in overrides.items())}\n" + yaml.serialize(root)

"""``balloon-harness nightly CONFIG``: run the job, add it to the history, and say what changed since the last nights.

Runs the Avocado job as a child process (one test at a time), stores ``<job>/balloon/results.json`` as a night in
the history database (``harness.judge.nights``), judges tonight against the previous nights alike
(``harness.judge.history``) and writes ``<job>/balloon/nightly.md`` (also printed), ``b4-check.json`` and
``kcidb.json`` (``harness.judge.exports``).
Exit status: 0 no regression, 1 a regression of a candidate's time to target or a variant that FAILed, 2 a harness
error (a test that ended ERROR or CANCEL, a bad job file, a crash: ``harness.cli``).  The command composes: it
parses its options, rewrites the job file's series for ``--set-series`` and runs the job; judging and publishing
are the judge layer's.
"""

import argparse
from datetime import UTC, datetime
from pathlib import Path

import yaml

from harness.avocado import jobs
from harness.config import loader
from harness.errors import ConfigError, HarnessError
from harness.judge import exports, history, nights
from harness.results import contract

STR = "tag:yaml.org,2002:str"


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
    finally:
        conn.close()
    print(exports.publish(tonight, data))
    return 1 if tonight.status == "fail" else 0


def job_config(path, overrides, results_dir):
    """The job YAML to run: ``path`` itself, or a copy in ``results_dir`` with the series of some variants replaced."""
    loader.load(path)
    if not overrides:
        return path
    out = results_dir / "nightly-config.yaml"
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        out.write_text(with_series(path, overrides), encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {out}: {exc.strerror}", hint="choose another --results-dir") from exc
    loader.load(out)
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

"""Run an Avocado job of the balloon tests as a child process, as a person would type it, and find its directory.

Commands that run jobs (``nightly``, ``review``) go through ``run``, so what they run is always a plain
``avocado run --max-parallel-tasks 1 --job-results-dir DIR TEST -m JOB.yaml`` from the checkout, which the same
line typed by hand reproduces; ``command_line`` is that line.
"""

import shlex
import sys
from pathlib import Path

from harness.command import Process
from harness.errors import HarnessError, PrerequisiteError

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK = "tests/balloon/benchmark.py"
FUNCTIONAL = "tests/balloon/functional.py"


def argv(test, job_yaml, results_dir):
    return [Path(sys.executable).with_name("avocado"), "run", "--max-parallel-tasks", "1", "--job-results-dir",
            results_dir, test, "-m", job_yaml]


def command_line(test, job_yaml, results_dir):
    """The shell line that runs (or reruns) the job, from the checkout."""
    return shlex.join(["avocado", *map(str, argv(test, job_yaml, results_dir)[1:])])


def run(test, job_yaml, results_dir):
    """Run the job with its console on ours; return the new job directory."""
    results_dir.mkdir(parents=True, exist_ok=True)
    before = set(results_dir.glob("job-*"))
    line = argv(test, job_yaml, results_dir)
    try:
        with Process(line, stdout=None, stderr=None, cwd=ROOT) as proc:
            rc = proc.popen.wait()
    except OSError as exc:
        raise PrerequisiteError(f"{line[0]}: cannot run Avocado: {exc.strerror}", hint="make deps installs it") from exc
    new = sorted(set(results_dir.glob("job-*")) - before)
    if not new:
        raise HarnessError(f"Avocado exited {rc} and left no job directory in {results_dir}")
    return new[-1]

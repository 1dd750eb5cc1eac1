"""Run a real Avocado job of the balloon tests on a job YAML written by a test, and read its results."""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AVOCADO = Path(sys.executable).with_name("avocado")
JOB = """\
base: {{debian: linux-source-6.1}}
kernel: {{fragments: [configs/kernel/balloon.config]}}
guest: {{memory_mib: 1024, accel: {accel}, qemu: {qemu}, boot_timeout_s: {boot_timeout_s}}}
workload: {{target_mib: 512, warmup: 0, cycles: 1, op_timeout_s: 20, stall_s: 5}}
variants: !mux
  {leaf}: {{variant: '{variant}'{series}}}
"""


def job_yaml(variant="base", series=None, accel="auto", qemu="qemu-system-x86_64", boot_timeout_s=60):
    return JOB.format(leaf="v", variant=variant, series=f", series: {series}" if series else "", accel=accel,
                      qemu=qemu, boot_timeout_s=boot_timeout_s)


def start(yaml_text, test="tests/balloon/benchmark.py", parallel=1, *, cleanup):
    """Start the job (``parallel``: Avocado's --max-parallel-tasks) in a new results dir that ``cleanup`` (a test's
    ``addCleanup`` or ``addClassCleanup``) removes; return (Popen, results dir)."""
    out = Path(tempfile.mkdtemp(prefix="bh-job-"))
    cleanup(shutil.rmtree, out, ignore_errors=True)
    (out / "job.yaml").write_text(yaml_text)
    argv = [AVOCADO, "run", "--max-parallel-tasks", parallel, "--job-results-dir", out, test, "-m", out / "job.yaml"]
    return subprocess.Popen([str(a) for a in argv], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True), out


def run(yaml_text, test="tests/balloon/benchmark.py", timeout=900, parallel=1, *, cleanup):
    """Run the job to its end (its directory removed by ``cleanup``, as in ``start``); return (console output,
    Avocado's test records, job dir)."""
    proc, out = start(yaml_text, test, parallel, cleanup=cleanup)
    console, _ = proc.communicate(timeout=timeout)
    job_dir = next(p for p in out.iterdir() if p.name.startswith("job-"))
    tests = json.loads((job_dir / "results.json").read_text())["tests"]
    return console, tests, job_dir

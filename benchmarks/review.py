"""Time a review from start to reply.txt: the base and batch-pfns v1 and v2, as a reviewer runs it.

    .venv/bin/python benchmarks/review.py [--rounds 18] [--checks test_evict] [-- REVIEW-ARGS...]

Runs ``balloon-harness review patches/batch-pfns/v1 patches/batch-pfns/v2`` (warm: the kernels come from the
cache once built) into a fresh results directory and prints the wall time from start to reply.txt, the rounds the
benchmark used (the look that decided it, harness/judge/sequential.py), boot → SSH ready of every guest the benchmark
booted (median and range), and the share of the cycles' time spent outside the timed operations (the guest and
/proc snapshots around each: a sample's ``outside_s``), then the reply itself.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.results import contract

CLI = Path(sys.executable).with_name("balloon-harness")


def benchmark_records(review):
    """The benchmark job of a review directory and its tests' records (balloon.json)."""
    (job,) = [j for j in review.glob("job-*") if (j / "balloon" / "results.json").exists()
              and json.loads((j / "balloon" / "results.json").read_text())["samples"]]
    return job, [json.loads(p.read_text()) for p in sorted(job.glob(f"test-results/*/data/{contract.TEST_FILE}"))]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=18)
    p.add_argument("--checks", default="", help="only these functional checks (default all)")
    p.add_argument("--keep", action="store_true", help="keep the review's directory (default: removed at the end)")
    p.add_argument("extra", nargs="*", help="more arguments for balloon-harness review")
    args = p.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bh-review-bench-"))
    try:
        report(args, out)
    finally:
        if not args.keep:
            shutil.rmtree(out)


def report(args, out):
    """Run the review into ``out`` and print what it took."""
    line = [str(CLI), "review", "patches/batch-pfns/v1", "patches/batch-pfns/v2", "--rounds", str(args.rounds),
            "--results-dir", str(out), *(["--checks", args.checks] if args.checks else []), *args.extra]
    start = time.perf_counter()
    proc = subprocess.run(line, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    reviews = list(out.glob("review-*"))
    if not reviews or not (reviews[0] / "reply.txt").exists():
        sys.exit(f"review left no reply.txt (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    review = reviews[0]
    job, records = benchmark_records(review)
    data = json.loads((job / "balloon" / "results.json").read_text())
    seq = data.get("sequential") or {}
    boots = sorted(r["guest"]["boot_s"] for r in records)
    cycles = [s for r in records for s in r["samples"] if s.get("outside_s") is not None]
    outside = sum(s["outside_s"] for s in cycles) / sum(s["outside_s"] + s["wall_s"] for s in cycles)
    print(f"review of batch-pfns v1 and v2: {took:.0f} s from start to reply.txt (exit {proc.returncode}); "
          f"{review}{'' if args.keep else ' (removed; --keep keeps it)'}")
    jobs = [json.loads(p.read_text()) for p in sorted(review.glob("job-*/results.json"))]
    print("Avocado jobs: " + ", ".join(f"{j['job_id'][:7]} {j['time']:.0f} s ({j['pass']} passed, {j['skip']} "
                                        "skipped)" for j in jobs))
    print(f"benchmark: {len(records)} boots, rounds used {seq.get('round', '?')} of at most {args.rounds} "
          f"({'decided' if seq.get('decided') else 'not decided'})")
    print(f"boot -> SSH ready: median {statistics.median(boots):.2f} s (range {boots[0]:.2f}-{boots[-1]:.2f} s, "
          f"{len(boots)} boots)")
    print(f"outside the timed operations: {outside:.1%} of the cycles' time (snapshots and /proc reads around "
          f"each of {len(cycles)} operations)")
    print("\n" + (review / "reply.txt").read_text(), end="")


if __name__ == "__main__":
    main()

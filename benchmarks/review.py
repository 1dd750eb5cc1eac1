"""Time a review from start to reply.txt: the base and batch-pfns v1 and v2, as a reviewer runs it.

    .venv/bin/python benchmarks/review.py [--rounds 18] [--checks test_evict] [-- REVIEW-ARGS...]

Runs ``balloon-harness review patches/batch-pfns/v1 patches/batch-pfns/v2`` (warm: the kernels come from the
cache once built) into a fresh results directory and prints the wall time from start to reply.txt, the rounds the
benchmark used (the look that decided it, harness/sequential.py), boot → SSH ready of every guest the benchmark
booted (median and range), and the share of each benchmark test's guest time spent outside the timed operations
(boot excluded), then the reply itself.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("balloon-harness")


def benchmark_tests(review):
    """The test records (balloon.json) and the Avocado test entries of the review's benchmark job."""
    (job,) = [j for j in review.glob("job-*") if (j / "balloon" / "results.json").exists()
              and json.loads((j / "balloon" / "results.json").read_text())["samples"]]
    tests = json.loads((job / "results.json").read_text())["tests"]
    out = []
    for t in tests:
        record = Path(t["logdir"]) / "data" / "balloon.json"
        if record.exists():
            out.append((json.loads(record.read_text()), t))
    return job, out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=18)
    p.add_argument("--checks", default="", help="only these functional checks (default all)")
    p.add_argument("extra", nargs="*", help="more arguments for balloon-harness review")
    args = p.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bh-review-bench-"))
    line = [str(CLI), "review", "patches/batch-pfns/v1", "patches/batch-pfns/v2", "--rounds", str(args.rounds),
            "--results-dir", str(out), *(["--checks", args.checks] if args.checks else []), *args.extra]
    start = time.perf_counter()
    proc = subprocess.run(line, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    reviews = list(out.glob("review-*"))
    if not reviews or not (reviews[0] / "reply.txt").exists():
        sys.exit(f"review left no reply.txt (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    review = reviews[0]
    job, tests = benchmark_tests(review)
    data = json.loads((job / "balloon" / "results.json").read_text())
    seq = data.get("sequential") or {}
    boots = sorted(r["guest"]["boot_s"] for r, _ in tests)
    outside = []
    for r, t in tests:
        timed = sum(s["wall_s"] for s in r["samples"])
        guest_s = t["time_elapsed"] - r["guest"]["boot_s"]  # the test's time with its guest up (and its set-up)
        outside.append(1 - timed / guest_s)
    print(f"review of batch-pfns v1 and v2: {took:.0f} s from start to reply.txt (exit {proc.returncode}); "
          f"{review}")
    print(f"benchmark: {len(tests)} boots, rounds used {seq.get('round', '?')} of at most {args.rounds} "
          f"({'decided' if seq.get('decided') else 'not decided'})")
    print(f"boot -> SSH ready: median {statistics.median(boots):.2f} s (range {boots[0]:.2f}-{boots[-1]:.2f} s, "
          f"{len(boots)} boots)")
    print(f"outside the timed operations: median {statistics.median(outside):.0%} of a test's time after boot")
    print("\n" + (review / "reply.txt").read_text(), end="")


if __name__ == "__main__":
    main()

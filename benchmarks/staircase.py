"""Time the staircase of patches/ranges/v3 (configs/staircase.yaml): base and every prefix of the four patches,
interleaved, judged step by step, against issue 30's target of 6 minutes warm.

    .venv/bin/python benchmarks/staircase.py [--keep]

Runs ``avocado run --max-parallel-tasks 1 tests/balloon/benchmark.py -m configs/staircase.yaml`` into a fresh
results directory (warm: the kernels and the ranges QEMU come from the cache once built), then prints the console's
staircase, each step's inflate decided on counted work or not, and the minutes against 6.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.judge import policy, staircase

TARGET_MIN = 6


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", action="store_true", help="keep the results directory")
    args = p.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bh-staircase-bench-"))
    start = time.monotonic()
    subprocess.run([Path(sys.executable).with_name("avocado"), "run", "--max-parallel-tasks", "1",
                    "--job-results-dir", out, "tests/balloon/benchmark.py", "-m", "configs/staircase.yaml"],
                   cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
    minutes = (time.monotonic() - start) / 60
    try:
        (results,) = out.glob("job-*/balloon/results.json")
        data = json.loads(results.read_text())
        comps, baseline = policy.comparisons(data), policy.baseline_of(data)
        print(staircase.text(data, comps, baseline))
        steps = [s for s in staircase.steps(data, comps, baseline) if s.op == "inflate"]
        counted = [s for s in steps if any(c.counted and c.decided for c in s.comparisons)]
        print(f"\n{len(steps)} inflate steps, {len(counted)} decided on counted work; {minutes:.1f} min "
              f"(target ≤ {TARGET_MIN} warm)")
        return 0 if steps and len(counted) == len(steps) else 1
    finally:
        if not args.keep:
            shutil.rmtree(out)


if __name__ == "__main__":
    sys.exit(main())

"""Bisect the planted history: 32 commits on the 6.1 source, one that adds work to the inflate path and one that
does not build (tests/integration/planted.py), timed against issue 30's target of 12 minutes warm.

    .venv/bin/python benchmarks/bisection.py [--commits 32 --broken 16 --slow 23] [--keep]

The history is made once under the cache (fixed dates: the same commit ids every time, so the good end's kernel
is built once); a warm run finds it and every step's kernel there.  Runs ``balloon-harness bisect
configs/bisect.yaml --tree … --good ROOT --bad HEAD`` into a fresh results directory, prints its transcript, then
whether it named the planted commit and skipped the broken one, the steps against ≤ log2(commits) + 1 + skips,
every step decided on counted work or not, and the minutes against 12.
"""

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration import planted

CLI = Path(sys.executable).with_name("balloon-harness")
TARGET_MIN = 12


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--commits", type=int, default=32)
    p.add_argument("--broken", type=int, default=16)
    p.add_argument("--slow", type=int, default=23)
    p.add_argument("--keep", action="store_true", help="keep the results directory")
    args = p.parse_args()
    h = planted.cached(args.commits, args.broken, args.slow)
    out = Path(tempfile.mkdtemp(prefix="bh-bisect-bench-"))
    start = time.monotonic()
    proc = subprocess.run([CLI, "bisect", ROOT / "configs" / "bisect.yaml", "--tree", h.repo, "--good", h.root,
                           "--bad", h.head, "--results-dir", out], cwd=ROOT, check=False)
    minutes = (time.monotonic() - start) / 60
    try:
        (done,) = out.glob("bisect-*")
        record = json.loads((done / "bisect.json").read_text())
        steps = record["steps"]
        skipped = [s["commit"] for s in steps if s["word"] == "skip"]
        decided = [s for s in steps if s["word"] in ("good", "bad")]
        bound = math.ceil(math.log2(args.commits)) + 1 + len(skipped)
        print(f"\nnamed the planted commit: {record['first_bad'] == h.slow}; skipped the broken one: "
              f"{h.broken in skipped}; steps {len(steps)} (at most {bound}: log2({args.commits}) + 1 + skips); "
              f"decided on {record['metric']}: {len(decided)} of {len(steps) - len(skipped)}; "
              f"{minutes:.1f} min (target ≤ {TARGET_MIN} warm)")
        ok = proc.returncode == 0 and record["first_bad"] == h.slow and h.broken in skipped and len(steps) <= bound
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(out)


if __name__ == "__main__":
    sys.exit(main())

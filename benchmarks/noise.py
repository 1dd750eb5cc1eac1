"""Where the spread of the base's inflate and deflate comes from: every setup of configs/noise.yaml side by side.

    .venv/bin/python benchmarks/noise.py --run [--config configs/noise.yaml]   # run the job, then the table
    .venv/bin/python benchmarks/noise.py JOBDIR [JOBDIR ...]                   # the table of finished jobs

The job interleaves the setups (an axis) boot by boot, so the host's mood hits each alike.  Per setup and op it
prints the within-boot CV (median over boots, of the measured cycles), the CV of the boots' Q1s, the half-width of
the 95 % interval a default job (6 boots a side) would get at that boot-to-boot spread (Welch, as harness/judge/stats.py
judges), how much of a core the rest of the host used during the operations, and the boots flagged under
interference (harness/judge/report.py).
"""

import argparse
import math
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from scipy import stats as scipy_stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.judge import outcomes, stats
from harness.results import contract

ROUNDS = 6  # a default job's boots a side


def cv(xs):
    return statistics.stdev(xs) / statistics.mean(xs) if len(xs) > 1 else 0.0


def half_width(log_q1s, rounds=ROUNDS):
    """The 95 % half-width (as a fraction) of a Welch interval with ``rounds`` boots a side at this spread."""
    sd = statistics.stdev(log_q1s)
    return math.expm1(scipy_stats.t.ppf(0.975, 2 * rounds - 2) * sd * math.sqrt(2 / rounds))


def rows(doc):
    groups = defaultdict(lambda: defaultdict(list))
    for s in doc["samples"]:
        if not s["warmup"] and s["variant"] == "base":
            setup = (s.get("axes") or {}).get("setup", "(none)")
            groups[(setup, s["op"])][s["boot"]].append(s)
    flagged = defaultdict(int)
    for name, _, _ in outcomes.interference(doc):
        flagged[name] += 1
    out = []
    for (setup, op), boots in groups.items():
        q1s = [stats.lower_quartile([s["wall_s"] for s in b]) for b in boots.values()]
        within = statistics.median(cv([s["wall_s"] for s in b]) for b in boots.values())
        others = [s.get("host_other_cpu_s") for b in boots.values() for s in b]
        walls = [s["wall_s"] for b in boots.values() for s in b]
        load = sum(o for o in others if o is not None) / sum(walls) if None not in others else None
        out.append((setup, op, len(boots), within, cv(q1s), half_width([math.log(q) for q in q1s]),
                    statistics.mean(q1s), load, flagged.get(f"base [setup={setup}]", 0)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("jobdirs", nargs="*", type=Path)
    p.add_argument("--run", action="store_true", help="run the job first")
    p.add_argument("--config", default="configs/noise.yaml")
    p.add_argument("--results", type=Path, default=ROOT / "results" / "noise")
    args = p.parse_args()
    if args.run:
        args.results.mkdir(parents=True, exist_ok=True)
        subprocess.run([Path(sys.executable).with_name("avocado"), "run", "--max-parallel-tasks", "1",
                        "--job-results-dir", args.results, "tests/balloon/benchmark.py", "-m", args.config],
                       cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
        args.jobdirs.append(sorted(args.results.glob("job-*"))[-1])
    for job in args.jobdirs:
        doc = contract.load(job)
        print(f"{job}: {doc['job'].get('accel')}, QEMU {doc['job'].get('qemu_version')}, host {doc['job'].get('host')}")
        print(f"{'setup':12} {'op':8} {'boots':>5} {'CV within':>9} {'CV of Q1s':>9} {'6-round ±':>9} "
              f"{'mean Q1 s':>9} {'other cores':>11} {'flagged':>7}")
        for setup, op, n, within, between, hw, q1, load, flagged in sorted(rows(doc), key=lambda r: (r[1], r[0])):
            print(f"{setup:12} {op:8} {n:5} {within:9.1%} {between:9.1%} {hw:9.1%} {q1:9.4f} "
                  f"{'' if load is None else f'{load:.2f}':>11} {flagged:7}")


if __name__ == "__main__":
    main()

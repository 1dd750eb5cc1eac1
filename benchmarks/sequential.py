"""Calibrate the rounds that stop when decided (harness/judge/sequential.py): false changes, decisions and rounds used.

    .venv/bin/python benchmarks/sequential.py [RECORDING ...] [--jobs 2000] [--looks 3 6 9 12]

RECORDING as for benchmarks/calibration.py (default benchmarks/data/*.json).  Each simulated job runs one variant
against the base with a look after every round in ``--looks`` and stops at the first look that decides both
ops' time to target, exactly as ``sequential.look`` judges a job.  Its boots come from two sources:

- **resampled**: each round draws a base boot and a variant boot from the recording's null boots (base and aa run
  the same kernel) *with* replacement, since a job may need more boots than a side was recorded with; for an
  effect the variant's cycles are scaled by it (a known effect);
- **simulated**: boots as in calibration.py (normal boot effects of the recorded spread, recorded cycle shapes).

Per source and effect it prints the share of jobs that called a change on either op (for A/A: the false changes
per job, to hold ≤ 5 %), that decided both ops, that called the right direction on both ops, and the mean and
90th percentile of the rounds used.
"""

import argparse
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calibration import Simulated, as_samples, load  # noqa: E402

from harness.judge import sequential, stats

EFFECTS = (0.0, -0.05, -0.10)


class Redrawn:
    """Boots drawn with replacement from a recording's null boots."""

    def __init__(self, boots, rng):
        self.null, self.rng = boots["base"] + boots.get("aa", []), rng

    def pair(self, rounds):
        return self.rng.choices(self.null, k=rounds), self.rng.choices(self.null, k=rounds)


def job(pair, looks, effect):
    """(rounds used, called a change on either op, decided both, right direction on both) of one job."""
    base, variant = pair(looks[-1])
    samples = as_samples("base", base) + as_samples("v", variant, 1 + effect)
    at = sequential.look(samples, "base", looks, looks[-1])
    comps = [c for c in at.comparisons if c.primary]
    right = "faster" if effect < 0 else None
    return (at.round, any(c.changed for c in comps), at.decided,
            all(c.verdict == right for c in comps) if right else not any(c.changed for c in comps))


def row(source, pair, looks, effect, jobs):
    runs = [job(pair, looks, effect) for _ in range(jobs)]
    used = sorted(r[0] for r in runs)
    return (f"{source:10} {effect:+7.0%} {jobs:5}  {sum(r[1] for r in runs) / jobs:8.1%}  "
            f"{sum(r[2] for r in runs) / jobs:8.1%}  {sum(r[3] for r in runs) / jobs:8.1%}  "
            f"{statistics.mean(used):6.1f}  {used[int(0.9 * (jobs - 1))]:4}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recordings", nargs="*", type=Path,
                   default=sorted((ROOT / "benchmarks" / "data").glob("calibration-*.json")))
    p.add_argument("--jobs", type=int, default=2000, help="jobs per source and effect (default 2000)")
    p.add_argument("--looks", type=int, nargs="+", default=[3, 6, 9, 12, 15, 18])
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    boots = load(args.recordings)
    rng = random.Random(args.seed)
    looks = sorted(set(args.looks))
    levels = sequential.levels(looks)
    print(f"recordings: {', '.join(r.name for r in args.recordings)}; null boots "
          f"{len(boots['base']) + len(boots.get('aa', []))}")
    print("looks after rounds " + ", ".join(f"{n} (alpha {a:.4f})" for n, a in levels.items())
          + f"; alpha {stats.ALPHA:g} in all")
    print(f"\n{'source':10} {'effect':>7} {'jobs':>5}  {'changed':>8}  {'decided':>8}  {'right':>8}  "
          f"{'rounds':>6}  {'p90':>4}")
    for source, pair in (("resampled", Redrawn(boots, rng).pair), ("simulated", Simulated(boots, rng).pair)):
        for effect in EFFECTS:
            print(row(source, pair, looks, effect, args.jobs))


if __name__ == "__main__":
    main()

"""Calibrate the per-job verdict (harness/judge/stats.py): false changes on A/A, power on known effects, boots needed.

    .venv/bin/python benchmarks/calibration.py [RECORDING ...] [--jobs 2000] [--rounds 1 3 6]

RECORDING is a compact recording (benchmarks/record.py; default benchmarks/data/*.json) or an Avocado job dir of
configs/calibration.yaml: the base, the base again (``aa``) and batch-pfns v2, interleaved boots.  Two sources,
each judged by ``stats.compare`` exactly as a job is, on the primary metric (time to target, inflate and deflate,
Holm over the two):

- **resampled**: a job of R rounds draws R of the recording's null boots (base and aa run the same kernel) for each
  side without replacement; for an effect, the variant side's cycles are scaled by it (a known effect); and the
  real v2 boots against base boots.
- **simulated**: boots whose log Q1 varies between boots as in the recording (normal, the two ops correlated as
  recorded), each boot's cycles drawn from the recording's within-boot shapes (cycle / its boot's Q1).

Per source and rounds it prints: the share of A/A jobs that called a change on either op (false changes per job),
the power (share of comparisons, one per op, that called the change) at −3, −5 and −10 %, the share of A/A verdicts
that were decided ("no significant change" with the power to see ±10 %, rather than "inconclusive"), and the median
detectable change.
"""

import argparse
import json
import math
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.judge import stats
from harness.results import contract

OPS = ("inflate", "deflate")
EFFECTS = (-0.03, -0.05, -0.10)


def load(paths):
    """{variant: [boot, ...]} with a boot {op: [measured wall_s, ...]}, over every recording (boots keyed apart)."""
    boots = defaultdict(dict)
    for n, path in enumerate(paths):
        path = Path(path)
        doc = json.loads(path.read_text()) if path.is_file() else contract.load(path)
        for s in doc["samples"]:
            if not s["warmup"] and s["op"] in OPS:
                boots[s["variant"]].setdefault((n, s["boot"]), defaultdict(list))[s["op"]].append(s["wall_s"])
    return {v: list(b.values()) for v, b in boots.items()}


def as_samples(variant, boots, scale=1.0):
    return [{"variant": variant, "boot": i, "cycle": c, "op": op, "warmup": False, "wall_s": x * scale}
            for i, boot in enumerate(boots, 1) for op in OPS for c, x in enumerate(boot[op], 1)]


def judge(base, variant, scale=1.0):
    """(called a change on either op, share of the ops called in the right direction, decided on both ops,
    the detectable changes)."""
    comps = stats.compare(as_samples("base", base) + as_samples("v", variant, scale), "base")
    called = any(c.changed for c in comps)
    right = sum(c.verdict == ("faster" if scale < 1 else "slower") for c in comps) / len(comps)
    return called, right, all(c.decided for c in comps), [c.detectable for c in comps if c.detectable]


class Resampled:
    """Jobs drawn from recorded boots."""

    def __init__(self, boots, rng):
        self.null = boots["base"] + boots.get("aa", [])
        self.base, self.v2 = boots["base"], boots.get("v2", [])
        self.rng = rng

    def pair(self, rounds):
        drawn = self.rng.sample(self.null, 2 * rounds)
        return drawn[:rounds], drawn[rounds:]

    def real(self, rounds):
        return self.rng.sample(self.base, rounds), self.rng.sample(self.v2, rounds)


class Simulated:
    """Jobs of simulated boots: normal log-Q1 boot effects (the ops correlated), recorded within-boot shapes."""

    def __init__(self, boots, rng):
        null = boots["base"] + boots.get("aa", [])
        logs = {op: [math.log(stats.lower_quartile(b[op])) for b in null] for op in OPS}
        self.level = {op: statistics.mean(xs) for op, xs in logs.items()}
        self.sd = {op: statistics.stdev(xs) for op, xs in logs.items()}
        self.rho = statistics.correlation(logs["inflate"], logs["deflate"])
        self.shapes = {op: [[x / stats.lower_quartile(b[op]) for x in b[op]] for b in null] for op in OPS}
        self.rng = rng

    def boot(self):
        z1 = self.rng.gauss(0, 1)
        z2 = self.rho * z1 + math.sqrt(1 - self.rho ** 2) * self.rng.gauss(0, 1)
        out = {}
        for op, z in zip(OPS, (z1, z2)):
            q1 = math.exp(self.level[op] + self.sd[op] * z)
            out[op] = [q1 * r for r in self.rng.choice(self.shapes[op])]
        return out

    def pair(self, rounds):
        return [self.boot() for _ in range(rounds)], [self.boot() for _ in range(rounds)]


def row(source, rounds, jobs, pair):
    aa = [judge(*pair(rounds)) for _ in range(jobs)]
    power = [sum(judge(*pair(rounds), scale=1 + e)[1] for _ in range(jobs)) / jobs for e in EFFECTS]
    detectable = statistics.median(d for _, _, _, ds in aa for d in ds) if any(ds for *_, ds in aa) else None
    return (f"{source:10} {rounds:6} {jobs:5}  {sum(a[0] for a in aa) / jobs:8.1%}  "
            + "  ".join(f"{p:6.1%}" for p in power)
            + f"  {sum(a[2] for a in aa) / jobs:8.1%}  " + (f"±{detectable:.1%}" if detectable else "—"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recordings", nargs="*", type=Path,
                   default=sorted((ROOT / "benchmarks" / "data").glob("calibration-*.json")))
    p.add_argument("--jobs", type=int, default=2000, help="jobs per source, rounds and effect (default 2000)")
    p.add_argument("--rounds", type=int, nargs="+", default=[1, 3, 6])
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    boots = load(args.recordings)
    rng = random.Random(args.seed)
    print(f"recordings: {', '.join(str(r.relative_to(ROOT) if r.is_relative_to(ROOT) else r) for r in args.recordings)}"
          f"; boots: " + ", ".join(f"{v} {len(b)}" for v, b in boots.items()))
    sim = Simulated(boots, rng)
    print("boot-to-boot SD of log Q1: " + ", ".join(f"{op} {sim.sd[op]:.1%}" for op in OPS)
          + f"; inflate/deflate correlation {sim.rho:.2f}")
    print(f"\n{'source':10} {'rounds':>6} {'jobs':>5}  {'A/A false':>8}  "
          + "  ".join(f"{e:+.0%}".rjust(6) for e in EFFECTS) + f"  {'decided':>8}  detectable")
    resampled = Resampled(boots, rng)
    for rounds in args.rounds:
        if 2 * rounds < len(resampled.null):  # draws that leave room to differ
            print(row("resampled", rounds, args.jobs, resampled.pair))
        print(row("simulated", rounds, args.jobs, sim.pair))
    if resampled.v2:
        for rounds in args.rounds:
            if rounds < min(len(resampled.base), len(resampled.v2)):
                calls = [stats.compare(as_samples("base", b) + as_samples("v2", v), "base")
                         for b, v in (resampled.real(rounds) for _ in range(args.jobs))]
                faster = {op: sum(any(c.op == op and c.verdict == "faster" for c in cs) for cs in calls) / args.jobs
                          for op in OPS}
                ratio = statistics.median(c.ratio for cs in calls for c in cs if c.op == "inflate")
                print(f"real v2 vs base, {rounds} rounds, {args.jobs} resampled jobs: called faster "
                      + ", ".join(f"{op} {share:.1%}" for op, share in faster.items())
                      + f" (median inflate ratio {ratio:.3f})")


if __name__ == "__main__":
    main()

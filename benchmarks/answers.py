"""Calibrate the answers (harness/judge/answers.py) and the rounds that stop on them: false changes, power, rounds used.

    .venv/bin/python benchmarks/answers.py RECORDING ... [--jobs 400] [--looks 3 6 9]

RECORDING is a recording (benchmarks/record.py) whose samples count the guest's instructions (``guest_insns``), or
an Avocado job dir; its variants are the base, the base again (``aa``, the same kernel: null boots), and any others
(real effects: batch-pfns, the extra-work faults).  Each simulated job runs one variant against the base with a
look after each round in ``--looks`` and stops at the first look that answers every question (inflate, deflate),
exactly as ``sequential.look`` judges a job.  Its boots come from three sources:

- **resampled**: each round draws a base boot and a variant boot from the null boots with replacement; for an
  effect the variant's guest instructions and times are scaled by it (a known effect on the guest's work);
- **simulated**: boots whose log Q1 of each metric varies between boots normally with the recorded spread, each
  boot's cycles drawn from the recorded within-boot shapes (cycle / its boot's Q1), the time's and the counts'
  from the same recorded boot, so a slow spell in the time keeps its counts;
- **real**: the recording's own variants' boots against base boots, drawn with replacement ("right": the inflate
  answered in the direction its recorded inflates' guest instructions moved);
- **bimodal** (with ``--times RECORDING``, a recording of a host whose speed flipped, without counts): each boot
  pairs a null boot of counts with a null boot of that recording's times, cycle by cycle, and moves the count by
  the instructions the guest adds per second of a longer operation (its timer ticks: the slope of the count on the
  time over the null boots' operations) — the counts a host with both speeds would have given.

Per source and effect it prints the share of jobs whose answers called a change on either op (for A/A: the false
changes per job, to hold ≤ 5 %), that answered both ops, that answered both on counted work, that called the right
direction on both (no change for A/A), and the mean and 90th percentile of the rounds used.
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

from harness.judge import answers, sequential, stats
from harness.results import contract
from harness.results.metrics import LABELS

OPS = ("inflate", "deflate")
EFFECTS = (0.0, 0.01, 0.03, -0.03)
SCALED = ("wall_s", "guest_insns")  # what a known effect on the guest's work scales
JUDGED = ("wall_s", "guest_insns", "requests", "host_speed")


def load(paths):
    """{variant: [boot, ...]}, a boot being its measured samples (only the fields judged), boots of every recording
    kept apart."""
    boots = defaultdict(lambda: defaultdict(list))
    for n, path in enumerate(paths):
        doc = json.loads(path.read_text()) if path.is_file() else contract.load(path)
        for s in doc["samples"]:
            if not s["warmup"] and s["op"] in OPS and s.get("guest_insns"):
                boots[s["variant"]][(n, s["boot"])].append({k: s[k] for k in ("op", "cycle", *JUDGED) if k in s})
    return {v: list(b.values()) for v, b in boots.items()}


def as_samples(variant, boots, scale=1.0):
    return [{**s, "variant": variant, "boot": i, "warmup": False, **{k: s[k] * scale for k in SCALED}}
            for i, boot in enumerate(boots, 1) for s in boot]


class Simulated:
    """Boots of normal between-boot effects (per op and metric, the recorded spread), recorded within-boot shapes."""

    def __init__(self, null, rng):
        self.null, self.rng = null, rng
        self.level, self.sd = {}, {}
        for op in OPS:
            for m in SCALED:
                logs = [math.log(self.q1(b, op, m)) for b in null]
                self.level[(op, m)], self.sd[(op, m)] = statistics.mean(logs), statistics.stdev(logs)

    @staticmethod
    def q1(boot, op, m):
        return stats.lower_quartile([s[m] for s in boot if s["op"] == op])

    def boot(self):
        shape = self.rng.choice(self.null)
        z = {key: math.exp(self.level[key] + self.sd[key] * self.rng.gauss(0, 1)) for key in self.level}
        return [{**s, **{m: s[m] / self.q1(shape, s["op"], m) * z[(s["op"], m)] for m in SCALED}} for s in shape]

    def pair(self, rounds):
        return [self.boot() for _ in range(rounds)], [self.boot() for _ in range(rounds)]


class Bimodal:
    """Boots of counts from one recording and times from another, the count moved by the time's difference."""

    def __init__(self, null, times, rng):
        self.null, self.times, self.rng = null, times, rng
        self.slope = {op: statistics.linear_regression(*zip(*[(s["wall_s"], s["guest_insns"]) for b in null
                                                                for s in b if s["op"] == op])).slope for op in OPS}

    def boot(self):
        counts, times = self.rng.choice(self.null), self.rng.choice(self.times)
        out = []
        for s in counts:
            if (wall := times.get((s["op"], s["cycle"]))) is not None:
                insns = s["guest_insns"] + self.slope[s["op"]] * (wall - s["wall_s"])
                out.append({**s, "wall_s": wall, "guest_insns": insns, "host_speed": insns / wall})
        return out

    def pair(self, rounds):
        return [self.boot() for _ in range(rounds)], [self.boot() for _ in range(rounds)]


def time_boots(path):
    """The base's boots of a recording as {(op, cycle): time to target} of their measured operations."""
    out = defaultdict(dict)
    for s in json.loads(path.read_text())["samples"]:
        if s["variant"] == "base" and not s["warmup"] and s["op"] in OPS:
            out[s["boot"]][(s["op"], s["cycle"])] = s["wall_s"]
    return list(out.values())


def job(base, variant, looks, scale, right, ops=OPS):
    """(rounds used, called a change on either op, answered both, both on counted work, right on ``ops``)."""
    at = sequential.look(as_samples("base", base) + as_samples("v", variant, scale), "base", looks, looks[-1])
    said = at.answers
    return (at.round, any(a.changed for a in said), at.decided, all(a.by == answers.COUNTED for a in said),
            all(_called(a) == right for a in said if a.op in ops))


def _called(a):
    """What an answer called: 'less' or 'more' work or time, None for no change (or undecided)."""
    deciding = [a.time] if a.by == answers.TIME else [c for c in a.counted if c.changed][:1]
    changed = [c for c in deciding if c.changed]
    return None if not changed else "less" if changed[0].ratio < 1 else "more"


def row(source, effect, jobs, draw, looks, right=None, ops=OPS):
    right = right or (None if effect == 0 else "less" if effect < 0 else "more")
    runs = [job(*draw(), looks, 1 + effect, right, ops) for _ in range(jobs)]
    used = sorted(r[0] for r in runs)
    share = lambda i: sum(r[i] for r in runs) / jobs  # noqa: E731
    return (f"{source:14} {effect:+7.0%} {jobs:5}  {share(1):8.1%}  {share(2):8.1%}  {share(3):8.1%}  "
            f"{share(4):8.1%}  {statistics.mean(used):6.1f}  {used[int(0.9 * (jobs - 1))]:4}")


def spread_text(boots, name):
    """Boot-to-boot and within-boot CV of each op's time and guest instructions among ``boots``."""
    out = []
    for op in OPS:
        for m in SCALED:
            q1s = [Simulated.q1(b, op, m) for b in boots]
            within = statistics.median(statistics.stdev(xs) / statistics.mean(xs) for b in boots
                                       if len(xs := [s[m] for s in b if s["op"] == op]) > 1)
            out.append(f"{op} {LABELS[m]}: boots' Q1 CV {statistics.stdev(q1s) / statistics.mean(q1s):.3%}, "
                       f"within a boot {within:.3%}")
    return f"{name} ({len(boots)} boots): " + "; ".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recordings", nargs="+", type=Path)
    p.add_argument("--jobs", type=int, default=400, help="jobs per source and effect (default 400)")
    p.add_argument("--looks", type=int, nargs="+", default=[3, 6, 9])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--times", type=Path, help="a recording of a host whose speed flipped: the bimodal source")
    args = p.parse_args()
    boots = load(args.recordings)
    if "base" not in boots:
        sys.exit(f"{', '.join(map(str, args.recordings))}: no base boots that count guest instructions")
    rng = random.Random(args.seed)
    looks = sorted(set(args.looks))
    null = boots["base"] + boots.get("aa", [])
    print(f"recordings: {', '.join(r.name for r in args.recordings)}; boots: "
          + ", ".join(f"{v} {len(b)}" for v, b in boots.items()))
    for name in ("base", *(v for v in boots if v != "base")):
        print(spread_text(boots[name], name))
    speeds = [s["host_speed"] for b in null for s in b if s.get("host_speed")]
    if speeds:
        print(f"host speed over the null boots' operations: {min(speeds) / 1e6:.0f}–{max(speeds) / 1e6:.0f} M/s "
              f"({max(speeds) / min(speeds):.2f}×)")
    print("looks after rounds " + ", ".join(f"{n} (alpha {a:.4f})" for n, a in sequential.levels(looks).items()))
    sim = Simulated(null, rng)
    sources = [("resampled", lambda: (rng.choices(null, k=looks[-1]), rng.choices(null, k=looks[-1]))),
               ("simulated", lambda: sim.pair(looks[-1]))]
    if args.times:
        bimodal = Bimodal(null, time_boots(args.times), rng)
        print(f"bimodal: the times of {args.times.name}'s {len(bimodal.times)} base boots; the count moves by "
              + ", ".join(f"{op} {x / 1e3:.0f} k" for op, x in bimodal.slope.items()) + " instructions a second")
        sources.append(("bimodal", lambda: bimodal.pair(looks[-1])))
    print(f"\n{'source':14} {'effect':>7} {'jobs':>5}  {'changed':>8}  {'answered':>8}  {'counted':>8}  {'right':>8}  "
          f"{'rounds':>6}  {'p90':>4}")
    for source, draw in sources:
        for effect in EFFECTS:
            print(row(source, effect, args.jobs, draw, looks))
    for name in (v for v in boots if v not in ("base", "aa")):
        real = lambda: (rng.choices(boots["base"], k=looks[-1]), rng.choices(boots[name], k=looks[-1]))  # noqa
        way = "less" if median_insns(boots[name]) < median_insns(boots["base"]) else "more"
        print(row(f"real {name}", 0.0, args.jobs, real, looks, way, ("inflate",)).replace("   +0%", f"{way:>7}"))


def median_insns(boots):
    return statistics.median(s["guest_insns"] for b in boots for s in b if s["op"] == "inflate")


if __name__ == "__main__":
    main()

"""Replay unchanged nights and nights with a step through the nightly verdict (harness/judge/history.py).

    .venv/bin/python benchmarks/nightly_replay.py [RECORDING ...] [--sequences 60] [--nights 50] [--rounds 3 6]

A night is R rounds of a base boot and a candidate boot measured side by side, judged exactly as
``balloon-harness nightly`` judges it (``history.values`` and ``history.trends``: the candidate's ratio to the same
night's base, against up to 14 previous nights alike, two looks, Bonferroni over the alerting metrics).  Nights come
from two sources:

- **resampled**: each night draws R rounds (with replacement) of the recording (benchmarks/data/calibration-*.json:
  configs/calibration.yaml's base and its A/A twin ``aa`` as the candidate), keeping each round's two boots
  together as the nightly job interleaves them;
- **simulated**: boots as in benchmarks/calibration.py (the recording's boot-to-boot spread and within-boot
  shapes), a mood per night shared by both variants, and a candidate-only night effect of SD ``--interaction``
  (what the same-night base cannot cancel).

For each source and R it prints the false alarms (nights of an unchanged candidate that alerted, over every judged
night of ``--sequences`` sequences of ``--nights``), and for a +5 % and +10 % step from night 30 on the share of
sequences that alerted on the step's first night, and within its first two.
"""

import argparse
import json
import math
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calibration import OPS, Simulated, load  # noqa: E402

from harness.judge import history
from harness.judge.nights import Night

STEP_NIGHT = 30
STEPS = (0.05, 0.10)


def rounds_of(paths):
    """[(base boot, aa boot), ...] per recorded round: a boot is {op: [measured wall_s, ...]}."""
    out = []
    for path in paths:
        doc = json.loads(Path(path).read_text())
        by = {}
        for s in doc["samples"]:
            if not s["warmup"] and s["op"] in OPS and s["variant"] in ("base", "aa"):
                by.setdefault(s["boot"], {}).setdefault(s["variant"], {}).setdefault(s["op"], []).append(s["wall_s"])
        out += [(r["base"], r["aa"]) for _, r in sorted(by.items()) if {"base", "aa"} <= set(r)]
    return out


def samples(pairs, step=1.0):
    """A night's samples from its (base boot, candidate boot) rounds; the candidate's cycles times ``step``."""
    out = []
    for i, (base, cand) in enumerate(pairs, 1):
        for variant, boot, k in (("base", base, 1.0), ("candidate", cand, step)):
            out += [{"variant": variant, "boot": i, "cycle": c, "op": op, "warmup": False, "wall_s": x * k,
                     "host": "replay"} for op in OPS for c, x in enumerate(boot[op], 1)]
    return out


def sequence(night, count, step=None):
    """Judge ``count`` nights from ``night(i, step)``; return the nights (index) on which the candidate alerted."""
    past, alerts = [], []
    for i in range(count):
        tonight = history.values(samples(*night(i, step)))
        nights = [Night(j, "", "") for j, _ in past[-14:]]
        trends = history.trends(tonight, nights, dict(past[-14:]))
        if any(t.regression for t in trends):
            alerts.append(i)
        past.append((i, tonight))
    return alerts


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recordings", nargs="*", type=Path,
                   default=sorted((ROOT / "benchmarks" / "data").glob("calibration-*.json")))
    p.add_argument("--sequences", type=int, default=60)
    p.add_argument("--nights", type=int, default=50, help="nights per sequence (the step comes at night 30)")
    p.add_argument("--rounds", type=int, nargs="+", default=[3, 6])
    p.add_argument("--interaction", type=float, default=0.01, help="candidate-only night effect SD (log)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    recorded = rounds_of(args.recordings)
    sim = Simulated(load(args.recordings), rng)
    print(f"{len(recorded)} recorded rounds; nights judged from night {history.MIN_NIGHTS + 1} on "
          f"(min_nights {history.MIN_NIGHTS}), false alarms allowed {history.FALSE_ALARM:.0%} a night")

    def resampled(rounds):
        def night(i, step):
            k = 1 + step if step and i >= STEP_NIGHT else 1.0
            return [rng.choice(recorded) for _ in range(rounds)], k
        return night

    def simulated(rounds):
        def night(i, step):
            mood, extra = rng.gauss(0, 0.05), rng.gauss(0, args.interaction)
            k = (1 + step if step and i >= STEP_NIGHT else 1.0) * math.exp(extra)
            scaled = [({op: [x * math.exp(mood) for x in xs] for op, xs in sim.boot().items()},
                       {op: [x * math.exp(mood) for x in xs] for op, xs in sim.boot().items()})
                      for _ in range(rounds)]
            return scaled, k
        return night

    print(f"\n{'source':10} {'rounds':>6}  {'false alarms':>16}  " + "  ".join(
        f"{f'+{s:.0%} step: night 1 / 2':>24}" for s in STEPS))
    for source, make in (("resampled", resampled), ("simulated", simulated)):
        for rounds in args.rounds:
            night = make(rounds)
            judged = args.sequences * (args.nights - history.MIN_NIGHTS)
            false = sum(len(sequence(night, args.nights)) for _ in range(args.sequences))
            cells = []
            for s in STEPS:
                seqs = [sequence(night, STEP_NIGHT + 2, s) for _ in range(args.sequences)]
                first = sum(STEP_NIGHT in a for a in seqs) / args.sequences
                two = sum(bool({STEP_NIGHT, STEP_NIGHT + 1} & set(a)) for a in seqs) / args.sequences
                cells.append(f"{first:>11.0%} / {two:<10.0%}")
            print(f"{source:10} {rounds:6}  {false:4} of {judged:5} {false / judged:5.1%}  " + "  ".join(cells))


if __name__ == "__main__":
    main()

"""Run a job N times and count its verdicts: how often A/A calls a change, how often v2 is called faster.

    .venv/bin/python benchmarks/verdicts.py [--jobs 10] [--config configs/verdicts.yaml] [--results DIR]

Each run is a full Avocado job (interleaved boots).  Afterwards every job in the results directory is read and
its samples compared afresh by the current harness/judge/stats.py (what ``balloon-harness compare`` would print): the
ratio, CI and verdict per job for time to target and QEMU CPU, the tally of verdicts, and the noise of the
baseline (coefficient of variation within a boot and between boot medians), so the figures can be quoted.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.judge import outcomes, policy, report, stats


def run_job(config, results):
    subprocess.run([Path(sys.executable).with_name("avocado"), "run", "--max-parallel-tasks", "1",
                    "--job-results-dir", results, "tests/balloon/benchmark.py", "-m", config],
                   cwd=ROOT, check=False, stdout=subprocess.DEVNULL)


def cv(xs):
    return statistics.stdev(xs) / statistics.mean(xs) if len(xs) > 1 else 0.0


def noise(samples, variant, op="inflate", metric="wall_s"):
    """(median within-boot CV, CV of boot medians, CV of boot Q1s) of one variant's measured samples."""
    by_boot = defaultdict(list)
    for s in samples:
        if s["variant"] == variant and s["op"] == op and not s["warmup"]:
            by_boot[s["boot"]].append(s[metric])
    within = statistics.median(cv(xs) for xs in by_boot.values())
    return (within, cv([statistics.median(xs) for xs in by_boot.values()]),
            cv([stats.lower_quartile(xs) for xs in by_boot.values()]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=10, help="new jobs to run first (0: only read the results dir)")
    p.add_argument("--config", default="configs/verdicts.yaml")
    p.add_argument("--results", type=Path, default=ROOT / "results" / "verdicts")
    args = p.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    for n in range(1, args.jobs + 1):
        start = time.perf_counter()
        run_job(args.config, args.results)
        print(f"job {n}/{args.jobs} done in {time.perf_counter() - start:.0f} s", flush=True)
    tally, noises, aa_jobs = Counter(), defaultdict(list), 0
    jobs = sorted(args.results.glob("job-*/balloon/results.json"))
    for n, path in enumerate(jobs, 1):
        doc = json.loads(path.read_text())
        for o in outcomes.outcomes(doc):
            if o["status"] != "PASS":
                print(f"job {n}: {o['label']} {outcomes.failure_text(o, 120)}")
        comps = policy.comparisons(doc)
        for c in comps:
            tally[(c.op, c.metric, c.variant, c.verdict.split(" (")[0].split(":")[0])] += 1
            if c.metric in ("wall_s", "qemu_cpu_s"):
                print(f"job {n} {c.op:7} {c.metric:10} {c.variant:4} {report.change_text(c)} "
                      f"p={report.p_text(c)} {c.verdict}")
        aa_jobs += any(c.variant == "aa" and c.changed for c in comps)
        for op in ("inflate", "deflate"):
            noises[op].append(noise(doc["samples"], "base", op))
    print(f"\nverdicts over {len(jobs)} jobs:")
    print(f"  A/A jobs with a significant change in any metric: {aa_jobs}")
    for (op, metric, variant, verdict), count in sorted(tally.items()):
        print(f"  {op:7} {metric:10} {variant:4} {verdict:24} {count}")
    for op, rows in noises.items():
        within, medians, q1s = (statistics.median(col) for col in zip(*rows))
        print(f"base {op} time to target: CV within a boot {within:.1%}, between boot medians {medians:.1%}, "
              f"between boot Q1s {q1s:.1%} (medians over {len(rows)} jobs)")


if __name__ == "__main__":
    main()

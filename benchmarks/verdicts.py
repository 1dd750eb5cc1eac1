"""Run a job N times and count its verdicts: how often A/A calls a change, how often v2 is called faster.

    .venv/bin/python benchmarks/verdicts.py [--jobs 10] [--config configs/verdicts.yaml] [--results DIR]

Each run is a full Avocado job (interleaved boots); the tally is printed per (op, metric, variant) with the
ratio and CI of every job, so the figures can be quoted.
"""

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_job(config, results):
    before = set(results.glob("job-*"))
    subprocess.run([Path(sys.executable).with_name("avocado"), "run", "--max-parallel-tasks", "1",
                    "--job-results-dir", results, "tests/balloon/benchmark.py", "-m", config],
                   cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
    (job,) = set(results.glob("job-*")) - before
    return json.loads((job / "balloon" / "results.json").read_text())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=10)
    p.add_argument("--config", default="configs/verdicts.yaml")
    p.add_argument("--results", type=Path, default=ROOT / "results" / "verdicts")
    args = p.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    tally, rows = Counter(), []
    for n in range(1, args.jobs + 1):
        start = time.perf_counter()
        doc = run_job(args.config, args.results)
        for c in doc["comparisons"]:
            tally[(c["op"], c["metric"], c["variant"], c["verdict"])] += 1
            if c["metric"] in ("wall_s", "qemu_cpu_s"):
                rows.append(f"job {n} {c['op']:7} {c['metric']:10} {c['variant']:4} ratio {c['ratio']:.3f} "
                            f"[{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}] p={c['p']:.3g} {c['verdict']}")
        lost = "; ".join(f"{m['test']}: {m['reason'][:120]}" for m in doc.get("missing", []))
        print(f"job {n}/{args.jobs} done in {time.perf_counter() - start:.0f} s{' — no samples from ' + lost if lost else ''}",
              flush=True)
    print("\n".join(rows))
    print(f"\nverdicts over {args.jobs} jobs:")
    for (op, metric, variant, verdict), count in sorted(tally.items()):
        print(f"  {op:7} {metric:10} {variant:4} {verdict:22} {count}")


if __name__ == "__main__":
    main()

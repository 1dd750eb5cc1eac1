"""Soak benchmark: one guest, N inflate/deflate cycles; MemTotal must come back and QEMU's RSS stay flat.

    .venv/bin/python benchmarks/soak.py [--cycles 1000] [--config configs/check.yaml]

Prints the first and last figures, the RSS drift and the wall time; exits 1 if MemTotal ever differs.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from harness import cache
from harness.build import image, kernel
from harness.config import loader, specs
from harness.intake.series import count
from harness.run import workload
from harness.run.accounting import guest_snapshot
from harness.run.guest import Guest


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=1000)
    p.add_argument("--config", default="configs/check.yaml")
    args = p.parse_args()
    job = loader.load(args.config, count)
    cache_dir = cache.root()
    build = kernel.build(job, specs.Variant("base"), cache_dir)
    img = image.build(job.guest.image, cache_dir)
    start = time.perf_counter()
    with Guest(build, img, job.guest, Path(tempfile.mkdtemp(prefix="bh-soak-")), cache_dir) as g:
        first = guest_snapshot(g.ssh).memtotal_kb
        rows = workload.soak(g, job.workload, args.cycles)
    wall = time.perf_counter() - start
    rss = [r["qemu_rss_kb"] for r in rows]
    bad = [r for r in rows if r["memtotal_kb"] != first]
    print(f"{args.cycles} cycles of {job.guest.memory_mib} -> {job.workload.target_mib} MiB and back in {wall:.0f} s "
          f"(under {g.accel.upper()})")
    print(f"MemTotal {first} kB at start; cycles where it differed after deflate: {len(bad)}")
    print(f"QEMU RSS after cycle 1: {rss[0]} kB, max of first 10: {max(rss[:10])} kB, max of last 10: "
          f"{max(rss[-10:])} kB, min/max overall: {min(rss)}/{max(rss)} kB")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

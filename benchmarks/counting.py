"""Counting the guest's instructions: the plugin's cost on the timed operations, how steady its count is, -icount.

    .venv/bin/python benchmarks/counting.py [--boots 3] [--cycles 6] [--setups plugin,off] [--cpus 1]
                                            [--config configs/default.yaml] [--variant base]

Boots the variant's guest once per setup in turn (plugin, off, plugin, off, ...: drift hits every setup alike),
``--boots`` times each, and runs the job's workload on every boot (its warm-up, then ``--cycles`` measured).
Setups: ``plugin`` counts with the TCG plugin (guest.count_insns, the default), ``off`` does not count;
``icount`` runs QEMU with ``-icount shift=auto`` and ``icount0`` with ``-icount shift=0,sleep=off`` (no plugin:
the count is QMP ``query-replay``'s icount); ``root`` counts with the plugin but runs QEMU as the harness's user
without its seccomp sandbox (as before docs/security.md: ``--setups plugin,root`` measures what the sandbox and the
unprivileged user cost).  Prints per setup and operation: the time to target and the guest's
instructions as the median of the boots' medians, the CV within a boot (the median over boots) and the CV of the
boots' medians; the host speed (guest instructions per vCPU CPU second); and each setup's time against the last
setup of ``--setups``: the ratio of the geometric means of the boots' medians, with its 95 % interval (Welch's t on
their logs).
"""

import argparse
import contextlib
import dataclasses
import math
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from unittest import mock

from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import cache
from harness.build import image, kernel
from harness.config import loader
from harness.run import guest, qemu_argv, workload
from harness.run.host import LocalHost

ICOUNT = {"icount": "shift=auto", "icount0": "shift=0,sleep=off"}
SETUPS = ("plugin", "off", *ICOUNT, "root")


def cv(xs):
    return statistics.stdev(xs) / statistics.mean(xs) if len(xs) > 1 else 0.0


@contextlib.contextmanager
def unconfined():
    """QEMU started as the harness's own user, without -sandbox."""
    with mock.patch.object(guest.Guest, "_sandbox", lambda self: False), \
            mock.patch.object(LocalHost, "as_qemu", lambda self: []):
        yield


@contextlib.contextmanager
def icount(option):
    """QEMU's command line with ``-icount option`` added (none for None)."""
    if option is None:
        yield
        return
    plain = qemu_argv.command_line
    with mock.patch.object(qemu_argv, "command_line", lambda *a, **kw: [*plain(*a, **kw), "-icount", option]):
        yield


def boot(build, img, spec, wl, setup, number, cache_dir):
    """The measured samples of one boot in ``setup``."""
    spec = dataclasses.replace(spec, count_insns=setup in ("plugin", "root"))
    confinement = unconfined() if setup == "root" else contextlib.nullcontext()
    with tempfile.TemporaryDirectory(prefix="bh-counting-") as logs, icount(ICOUNT.get(setup)), confinement:
        with guest.Guest(build, img, spec, Path(logs), cache_dir, progress=lambda m: None) as g:
            if setup in ICOUNT:
                g.insns = lambda: g.qmp("query-replay")["icount"]
            samples, _ = workload.run(g, wl, setup, number, progress=lambda m: None)
    print(f"  {setup} boot {number} under {g.accel.upper()}: inflate "
          + " ".join(f"{s.wall_s:.3f}" for s in samples if s.op == "inflate" and not s.warmup), flush=True)
    return [s for s in samples if not s.warmup]


def summary(values_by_boot):
    """(median of the boots' medians, median CV within a boot, CV of the boots' medians), or None without values."""
    if any(v is None for vs in values_by_boot for v in vs):
        return None
    medians = [statistics.median(vs) for vs in values_by_boot]
    return statistics.median(medians), statistics.median(cv(vs) for vs in values_by_boot), cv(medians)


def table(samples, against):
    groups = defaultdict(lambda: defaultdict(list))
    for s in samples:
        groups[(s.variant, s.op)][s.boot].append(s)
    log_medians = {}
    print(f"{'setup':8} {'op':8} {'boots':>5} {'time s':>8} {'CV in':>7} {'CV boots':>8} {'insns M':>10} {'CV in':>8} "
          f"{'CV boots':>8} {'M insns/CPU s':>13}")
    for (setup, op), boots in sorted(groups.items(), key=lambda kv: (kv[0][1], SETUPS.index(kv[0][0]))):
        t = summary([[s.wall_s for s in b] for b in boots.values()])
        n = summary([[s.guest_insns for s in b] for b in boots.values()])
        speeds = [s.host_speed for b in boots.values() for s in b if s.host_speed]
        log_medians[(setup, op)] = [math.log(statistics.median(s.wall_s for s in b)) for b in boots.values()]
        counted = (f"{n[0] / 1e6:10.2f} {n[1]:8.4%} {n[2]:8.4%}" if n else f"{'-':>10} {'-':>8} {'-':>8}")
        speed = f"{statistics.median(speeds) / 1e6:13.0f}" if speeds else f"{'-':>13}"
        print(f"{setup:8} {op:8} {len(boots):5d} {t[0]:8.3f} {t[1]:7.2%} {t[2]:8.2%} {counted} {speed}")
    for (setup, op), logs in sorted(log_medians.items()):
        if setup != against and (against, op) in log_medians:
            off = log_medians[(against, op)]
            low, high = stats.ttest_ind(logs, off, equal_var=False).confidence_interval(0.95)
            print(f"{op} time, {setup} against {against}: "
                  f"{math.expm1(statistics.mean(logs) - statistics.mean(off)):+.1%} "
                  f"(geometric means of the boots' medians; 95 % interval {math.expm1(low):+.1%} to "
                  f"{math.expm1(high):+.1%})")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boots", type=int, default=3)
    p.add_argument("--cycles", type=int, default=6)
    p.add_argument("--setups", default="plugin,off", help=f"comma-separated, of {', '.join(SETUPS)}")
    p.add_argument("--cpus", type=int, help="vCPUs (default: the job's)")
    p.add_argument("--config", default="configs/default.yaml")
    p.add_argument("--variant", default="base")
    args = p.parse_args()
    setups = args.setups.split(",")
    if not set(setups) <= set(SETUPS):
        p.error(f"--setups: {', '.join(sorted(set(setups) - set(SETUPS)))} not among {', '.join(SETUPS)}")
    job = loader.load(ROOT / args.config)
    cache_dir = cache.root()
    build = kernel.build(job, job.variant(args.variant), cache_dir)
    img = image.build(job.guest.image, cache_dir)
    spec = dataclasses.replace(job.guest, cpus=args.cpus or job.guest.cpus)
    wl = dataclasses.replace(job.workload, cycles=args.cycles)
    print(f"{args.variant}: {spec.memory_mib} -> {wl.target_mib} MiB, {spec.cpus} vCPU(s), {args.boots} boots a setup, "
          f"{wl.warmup} warm-up + {wl.cycles} measured cycles a boot")
    samples = []
    for number in range(1, args.boots + 1):
        for setup in setups:
            samples += boot(build, img, spec, wl, setup, number, cache_dir)
    table(samples, setups[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())

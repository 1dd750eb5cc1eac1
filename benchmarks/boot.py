"""Where a guest's boot goes: QEMU start to SSH ready, split at the kernel's own clock.

    .venv/bin/python benchmarks/boot.py [--boots 9] [--job configs/default.yaml]

Boots the job's base kernel (built or cached) with the job's guest ``--boots`` times, one after another, with
``printk.time=1`` on the command line, and prints per phase the median and range:

- **before the kernel's clock**: QEMU's start, the firmware and the bzImage's decompression (the kernel's clock starts
  after it), estimated as SSH ready minus the kernel's uptime at the ready line minus the SSH login;
- **kernel to /init**: the kernel's uptime at ``Run /init`` (initcalls, timer calibration, initramfs unpack);
- **init to ready**: from ``Run /init`` to the image's ready line (mounts, dropbear listening, eth0);
- **SSH login**: from the harness seeing the ready line to SSH logged in with the pinned key;
- **SSH ready**: the harness's ``boot_s``, QEMU's start to SSH logged in.
"""

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import cache
from harness.build import image, kernel
from harness.config import loader, specs
from harness.intake.series import count
from harness.run.guest import Guest

PRINTK = re.compile(r"^\[\s*(\d+\.\d+)\] (.*)$", re.M)


def phases(g):
    """The phases of one boot, in seconds."""
    text = g.console_text()
    at = {msg: float(t) for t, msg in PRINTK.findall(text)}
    init = next(t for msg, t in at.items() if msg.startswith("Run /init"))
    ready = float(re.search(rf"{re.escape(g.image.ready)} (\d+\.\d+)", text)[1])
    login = g.boot_s - g.ready_s
    return {"before the kernel's clock": g.boot_s - ready - login, "kernel to /init": init,
            "init to ready": ready - init, "SSH login": login, "SSH ready": g.boot_s}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boots", type=int, default=9)
    p.add_argument("--job", default=str(ROOT / "configs" / "default.yaml"))
    args = p.parse_args()
    job = loader.load(args.job, count)
    root = cache.root()
    build = kernel.build(job, specs.Variant("base"), root, progress=lambda m: None)
    img = image.build(job.guest.image, root, progress=lambda m: None)
    rows = []
    for _ in range(args.boots):
        with tempfile.TemporaryDirectory(prefix="bh-boot-") as logs:
            g = Guest(build, img, job.guest, logs, root, cmdline="printk.time=1", progress=lambda m: None)
            with g:
                rows.append(phases(g))
    print(f"{args.boots} boots of {build.bzimage} under {g.accel.upper()}:")
    for name in rows[0]:
        xs = [r[name] for r in rows]
        print(f"  {name:26} median {statistics.median(xs):.3f} s  (range {min(xs):.3f}-{max(xs):.3f})")


if __name__ == "__main__":
    main()

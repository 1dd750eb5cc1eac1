"""Keep a job's measured samples as a compact recording for benchmarks/calibration.py and nightly_replay.py.

    .venv/bin/python benchmarks/record.py JOBDIR > benchmarks/data/calibration-NAME.json

Writes the job facts and, per sample, variant, boot (its round), cycle, op, warm-up, its QEMU, the host's speed and
every metric it carries (metrics.METRICS); no traces.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.results import contract, metrics

KEEP = ("variant", "boot", "cycle", "op", "warmup", "qemu", "host_speed", *(m.name for m in metrics.METRICS))


def main():
    doc = contract.load(Path(sys.argv[1]))
    facts = {k: doc["job"].get(k) for k in ("host", "accel", "qemu_version", "memory_mib", "cpus")}
    json.dump({"job": {**facts, "dir": Path(doc["job"]["dir"]).name},
               "samples": [{k: s[k] for k in KEEP if k in s} for s in doc["samples"]]}, sys.stdout, indent=None,
              separators=(",", ":"))
    print()


if __name__ == "__main__":
    main()

"""A real Avocado job with an axis: the base kernel booted with init_on_alloc=0 and =1 (every page the balloon
takes is zeroed with =1), three rounds: the boots a verdict needs.  The axis is recorded per test and per sample,
the variant is compared within each setting, and the axis itself is compared and found slower."""

import json
import unittest

from . import avocado_job
from .common import base_build

JOB = """\
base: {debian: linux-source-6.1}
kernel: {fragments: [configs/kernel/balloon.config]}
guest: {memory_mib: 1024, accel: auto}
workload: {target_mib: 256, warmup: 0, cycles: 2, op_timeout_s: 60}
rounds: !mux
  r1: {round: 1}
  r2: {round: 2}
  r3: {round: 3}
init_on_alloc: !mux
  "off": {kernel: {cmdline: init_on_alloc=0}}
  "on": {kernel: {cmdline: init_on_alloc=1}}
"""


class AxesJobTest(unittest.TestCase):
    def test_cmdline_axis_is_recorded_and_compared(self):
        base_build()  # the shared, cached base kernel
        console, tests, job_dir = avocado_job.run(JOB, cleanup=self.addCleanup)
        self.assertEqual([t["status"] for t in tests], ["PASS"] * 6, console)
        doc = json.loads((job_dir / "balloon" / "results.json").read_text())
        self.assertEqual([st["cmdline"] for st in doc["settings"]], ["init_on_alloc=0", "init_on_alloc=1"])
        self.assertEqual({s["axes"]["init_on_alloc"] for s in doc["samples"]}, {"off", "on"})
        commands = [p.read_text() for p in sorted(job_dir.glob("test-results/*/guest/qemu-command.txt"))]
        self.assertEqual([("init_on_alloc=0" in c, "init_on_alloc=1" in c) for c in commands],
                         [(True, False), (False, True)] * 3)
        (c,) = [c for c in doc["comparisons"] if c["axis"] == "init_on_alloc" and c["op"] == "inflate"
                and c["metric"] == "wall_s"]
        self.assertEqual((c["variant"], c["baseline"], c["where"]), ("init_on_alloc=on", "init_on_alloc=off",
                                                                     "variant=base"))
        self.assertEqual(c["verdict"], "slower", c)
        table = (job_dir / "balloon" / "table.txt").read_text()
        self.assertIn("vs init_on_alloc=off (95 % CI)", table)
        print(f"\ninit_on_alloc=1 vs =0, inflate time: ×{c['ratio']:.2f} [{c['ci'][0]:.2f}, {c['ci'][1]:.2f}]")


if __name__ == "__main__":
    unittest.main()

"""A series' staircase end to end (``per_patch: true``): the planted history's four commits as a series on the 6.1
base (tests/integration/planted.py), every prefix built and booted through a real Avocado job.  Patch 2 does not
build, so the step around it spans patches 2–3 and names the cause; patch 4 carries the planted work."""

import json
import subprocess
import tempfile
import unittest
from pathlib import Path

from . import avocado_job, planted

JOB = """\
base: {{debian: linux-source-6.1}}
kernel: {{profile: minimal, fragments: [configs/kernel/balloon.config]}}
guest: {{memory_mib: 1024, accel: auto}}
workload: {{target_mib: 512, warmup: 0, cycles: 1}}
rounds: !mux
  r1: {{round: 1}}
  r2: {{round: 2}}
  r3: {{round: 3}}
variants: !mux
  base: {{variant: base}}
  p: {{variant: p, series: '{series}', per_patch: true}}
"""


class StaircaseTest(unittest.TestCase):
    def test_a_prefix_that_does_not_build_is_spanned_and_the_planted_patch_carries_the_work(self):
        history = planted.cached(commits=4, broken=2, slow=4)
        series = Path(tempfile.mkdtemp(prefix="bh-series-"))
        self.addCleanup(subprocess.run, ["rm", "-rf", series], check=True)
        subprocess.run(["git", "-C", history.repo, "format-patch", "-q", "-o", series, f"{history.root}..HEAD"],
                       check=True)
        console, tests, job_dir = avocado_job.run(JOB.format(series=series), timeout=1500, cleanup=self.addCleanup)
        statuses = {t["name"].split("-", 1)[1]: t["status"] for t in tests if t["name"].endswith(("p-2", "p-3"))}
        self.assertEqual(set(statuses.values()), {"FAIL", "PASS"}, console[-3000:])
        results = json.loads((job_dir / "balloon" / "results.json").read_text())
        steps = {(c["variant"], c["baseline"], c["op"], c["metric"]): c for c in results["comparisons"]}
        self.assertIn(("p-3", "p-1", "inflate", "guest_insns"), steps)  # past the prefix that did not build
        self.assertEqual(steps[("p-3", "p-1", "inflate", "guest_insns")]["verdict"].split(" (")[0],
                         "no significant change")
        slow = steps[("p", "p-3", "inflate", "guest_insns")]  # the last prefix keeps the variant's name
        self.assertEqual(slow["verdict"], "more")
        self.assertGreater(slow["ci"][0], 1.05)
        self.assertRegex(" ".join(console.split()), r"inflate 2–3/4 virtio_balloon: fix the build: the\.\.\.: guest "
                                                    r"instructions [^;]+; requests [^;]+; time to target [^;]+? "
                                                    r"\(2/4 did not build: p-2: build failed: "
                                                    r"drivers/virtio/virtio_balloon\.c:217")


if __name__ == "__main__":
    unittest.main()

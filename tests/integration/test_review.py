"""``balloon-harness review`` on real kernels: batch-pfns v1 as a directory and v2 as an mbox, one round, one
functional check, through real Avocado jobs; the reply is pasteable and the job file reruns as it is."""

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from .common import ROOT, base_build

CLI = Path(sys.executable).with_name("balloon-harness")
TEMPLATE = """\
base: {debian: linux-source-6.1}
kernel: {profile: minimal, fragments: [configs/kernel/balloon.config]}
guest: {memory_mib: 2048, cpus: 1, accel: auto}
workload: {target_mib: 512, warmup: 1, cycles: 2}
"""


class ReviewTest(unittest.TestCase):
    def test_two_versions_end_in_a_reply(self):
        base_build()
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="bh-review-")))
        (tmp / "template.yaml").write_text(TEMPLATE)
        mbox = tmp / "v2.mbox"  # what `git format-patch --stdout` or `b4 am` gives
        mbox.write_text("".join(p.read_text() for p in sorted((ROOT / "patches/batch-pfns/v2").glob("*.patch"))))
        proc = subprocess.run([str(CLI), "review", "patches/batch-pfns/v1", str(mbox), "--job",
                               str(tmp / "template.yaml"), "--rounds", "1", "--checks", "test_evict",
                               "--results-dir", str(tmp), "--tested-by", "Ann Reviewer <ann@example.org>"],
                              cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
        (review,) = tmp.glob("review-*")
        reply = (review / "reply.txt").read_text()
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:] + proc.stderr[-3000:])
        self.assertIn(reply, proc.stdout)
        lines = reply.splitlines()
        self.assertLessEqual(max(map(len, lines)), 72, reply)
        for version in ("v1", "v2"):
            self.assertIn(f"{version} (1 patch): applies, builds, functional checks 1 of 1 PASS", reply)
        self.assertIn("inflate time to target: ", reply)
        self.assertRegex(" ".join(reply.split()), r"inflate time to target: inconclusive \(host speed varied "
                         r"\d+\.\d×; needs ≥ 3 boots a side\); guest instructions: -\d\.\d\d % \(no interval\) "
                         r"inconclusive \(needs ≥ 3 boots a side\); requests: -93\.75 % \(no interval\) inconclusive "
                         r"\(needs ≥ 3 boots a side\) — undecided: the counted work is undecided too")
        self.assertEqual(lines[-1], "Tested-by: Ann Reviewer <ann@example.org>")
        self.assertIn("-m " + str(review / "job.yaml"), reply.replace(" \\\n    ", " "))
        self.assertTrue((review / "range-diff-v1-v2.txt").read_text().strip())

    def test_a_series_made_on_a_later_tree_is_reviewed_on_its_prerequisite(self):
        """The real upstream stats-wakeup series (made on v6.8) does not apply to 6.1 alone; on its prerequisite
        stay-awake it does, and is compared with base + stay-awake."""
        base_build()
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="bh-review-")))
        (tmp / "template.yaml").write_text(TEMPLATE)
        upstream = ROOT / "tests" / "fixtures" / "upstream"
        proc = subprocess.run([str(CLI), "review", "--prerequisite", str(upstream / "stay-awake"),
                               str(upstream / "stats-wakeup"), "--job", str(tmp / "template.yaml"), "--rounds", "1",
                               "--checks", "test_evict", "--results-dir", str(tmp),
                               "--tested-by", "Ann Reviewer <ann@example.org>"],
                              cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
        (review,) = tmp.glob("review-*")
        reply = (review / "reply.txt").read_text()
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:] + proc.stderr[-3000:])
        flat = " ".join(reply.split())
        self.assertTrue(flat.startswith("On prerequisite stay-awake (1 patch: virtio_balloon: stay awake while "
                                        "adjusting balloon), applied to the base and to every version, so each is "
                                        "compared with base + prerequisites."), reply)
        self.assertIn("v1 (2 patches): applies, builds, functional checks 1 of 1 PASS", reply)
        self.assertEqual(reply.splitlines()[-1], "Tested-by: Ann Reviewer <ann@example.org>")
        job = (review / "job.yaml").read_text()
        self.assertIn(f"base: {{variant: base, prerequisites: [{upstream / 'stay-awake'}]}}", job)
        for results in (json.loads(p.read_text()) for p in review.glob("job-*/balloon/results.json")):
            for variant in results["variants"]:
                self.assertEqual(variant["prerequisites"], [str(upstream / "stay-awake")])
                for on in variant["kernel"].get("prerequisites", []) if results["samples"] else []:
                    self.assertEqual((on["source"], on["patches"]),
                                     (str(upstream / "stay-awake"), ["virtio_balloon: stay awake while adjusting balloon"]))


if __name__ == "__main__":
    unittest.main()

"""Each fault the harness must turn into a clear result, injected for real through an Avocado job.

docs/faults.md lists these with the result each gives; the unit and integration tests named there cover the rest.
"""

import os
import signal
import subprocess
import time
import unittest
from pathlib import Path

from . import avocado_job
from .common import base_build


def qemu_pids(marker):
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class FaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        base_build()  # the cached base kernel every job below shares

    def assertOutcome(self, tests, status, *words):
        (test,) = tests
        self.assertEqual(test["status"], status, test["fail_reason"])
        for word in words:
            self.assertIn(word, test["fail_reason"])

    def test_mistyped_key_stops_the_job_naming_file_line_and_closest_key(self):
        proc, out = avocado_job.start(avocado_job.job_yaml().replace("accel:", "acel:"), cleanup=self.addCleanup)
        console, _ = proc.communicate(timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(f"{out}/job.yaml:3: unknown key 'guest.acel'", console)
        self.assertIn("did you mean 'accel'?", console)
        self.assertNotIn("STARTED", console)

    def test_missing_qemu_binary_cancels_with_install_hint(self):
        _, tests, _ = avocado_job.run(avocado_job.job_yaml(qemu="/nonexistent/qemu-system-x86_64"),
                                      cleanup=self.addCleanup)
        self.assertOutcome(tests, "CANCEL", "/nonexistent/qemu-system-x86_64 not found", "apt-get install qemu-system-x86")

    def test_mangled_seed_series_cancels_naming_the_findings(self):
        _, tests, _ = avocado_job.run(avocado_job.job_yaml("seed", "patches/virtio-balloon-v7/received"),
                                      cleanup=self.addCleanup)
        self.assertOutcome(tests, "CANCEL", "missing-members", "hunk-mismatch")

    def test_warning_during_inflate_fails(self):
        _, tests, _ = avocado_job.run(avocado_job.job_yaml("warn", "patches/faults/warn-on-inflate"),
                                      cleanup=self.addCleanup)
        self.assertOutcome(tests, "FAIL", "WARNING:", "console.log")

    def test_balloon_stuck_short_of_target_fails_with_trace(self):
        _, tests, _ = avocado_job.run(avocado_job.job_yaml("stuck", "patches/faults/stuck-at-64mib"),
                                      cleanup=self.addCleanup)
        self.assertOutcome(tests, "FAIL", "stalled: actual stayed at 960 MiB for 5", "towards 512 MiB", "960 MiB at")

    def test_hidden_bug_actual_without_freeing_pages_is_caught(self):
        text = (avocado_job.ROOT / "configs" / "functional-buggy.yaml").read_text()
        _, tests, _ = avocado_job.run(text, "tests/balloon/functional.py:Functional.test_ratios",
                                      cleanup=self.addCleanup)
        by_variant = {("buggy" if "buggy" in t["id"] else "base"): t for t in tests}
        self.assertEqual(by_variant["base"]["status"], "PASS", by_variant["base"]["fail_reason"])
        self.assertEqual(by_variant["buggy"]["status"], "FAIL")
        self.assertIn("MemTotal is down", by_variant["buggy"]["fail_reason"])

    def test_variant_name_never_reaches_a_shell(self):
        marker = Path("/tmp/bh-variant-injection")
        marker.unlink(missing_ok=True)
        console, tests, job_dir = avocado_job.run(avocado_job.job_yaml(f"$(touch {marker})"), cleanup=self.addCleanup)
        self.assertOutcome(tests, "PASS")
        self.assertFalse(marker.exists())
        self.assertIn(f"$(touch {marker})", (job_dir / "balloon" / "results.json").read_text())

    @unittest.skipUnless(os.access("/dev/kvm", os.W_OK), "optional: needs /dev/kvm")
    def test_silent_kvm_guest_is_an_environment_error(self):
        _, tests, _ = avocado_job.run(avocado_job.job_yaml(accel="kvm", boot_timeout_s=15), cleanup=self.addCleanup)
        (test,) = tests
        if test["status"] == "PASS":
            self.skipTest("optional: KVM works on this host: nothing to inject")
        self.assertOutcome(tests, "ERROR", "printed nothing", "under KVM")

    def test_sigterm_of_the_job_leaves_no_qemu(self):
        proc, out = avocado_job.start(avocado_job.job_yaml(), cleanup=self.addCleanup)
        try:
            deadline = time.monotonic() + 120
            while not qemu_pids(str(out)) and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertTrue(qemu_pids(str(out)), "QEMU never started")
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=120)
        finally:
            proc.kill()
        deadline = time.monotonic() + 10
        while qemu_pids(str(out)) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(qemu_pids(str(out)), [])


if __name__ == "__main__":
    unittest.main()

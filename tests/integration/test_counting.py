"""The instruction-counting plugin on real QEMU under TCG: it loads, counts, and counts an operation alike twice."""

import dataclasses
import tempfile
import unittest
from pathlib import Path

from harness import balloon, command, plugin, workload
from harness.config import WorkloadSpec
from harness.guest import Guest

from .common import base_build


class CountingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.job, cls.kernel, cls.image, cls.cache = base_build()
        cls.plugin = plugin.build(cls.cache, progress=lambda m: None)

    def guest(self, **spec):
        logs = self.enterContext(tempfile.TemporaryDirectory(prefix="bh-test-"))
        return Guest(self.kernel, self.image, dataclasses.replace(self.job.guest, accel="tcg", **spec), Path(logs),
                     self.cache, progress=lambda m: None)

    def test_inflates_of_one_size_count_alike_and_every_sample_has_its_count(self):
        with self.guest() as g:
            self.assertTrue(g.counting.startswith("counted by the TCG plugin"), g.counting)
            first = g.insns()
            self.assertGreater(first, 0)  # the boot
            samples, _ = workload.run(g, WorkloadSpec(target_mib=512, cycles=2, warmup=0), "base", 1,
                                      progress=lambda m: None)
            self.assertGreater(g.insns(), first + sum(s.guest_insns for s in samples))
        inflates = [s for s in samples if s.op == "inflate"]
        for s in samples:
            self.assertGreater(s.guest_insns, 1_000_000, s)
            self.assertGreater(s.host_speed, 1_000_000, s)
        one, two = (s.guest_insns for s in inflates)
        self.assertLess(abs(one - two) / one, 0.01, (one, two))

    def test_two_vcpus_count_by_callbacks_summed(self):
        """The per-vCPU path (the minimal kernel brings up one of the two vCPUs: no race is exercised here)."""
        with self.guest(cpus=2) as g:
            self.assertIn("a callback per block, per vCPU", g.counting)
            before = g.insns()
            trace = balloon.drive(g, 512 << 20)
            self.assertGreater(g.insns(), before + trace.insns)
            self.assertGreater(trace.insns, 1_000_000)

    def test_counting_turned_off_loads_no_plugin(self):
        with self.guest(count_insns=False) as g:
            self.assertIsNone(g.insns())
            self.assertIsNone(balloon.drive(g, 512 << 20).insns)
            self.assertNotIn("-plugin", (g.log_dir / "qemu-command.txt").read_text())

    def test_a_bad_argument_stops_qemu_with_the_plugins_reason(self):
        for args, said in ((",counter=", "unknown or empty argument (the only one is counter=FILE): counter="),
                           (",count=/tmp/x", "unknown or empty argument (the only one is counter=FILE): count="),
                           ("", "no counter file given"),
                           (",counter=/nonexistent/c", "cannot create the counter file /nonexistent/c: No such")):
            result = command.run([self.job.guest.qemu, "-machine", "none", "-accel", "tcg", "-display", "none",
                                  "-plugin", self.plugin.path + args], check=False, timeout=30)
            self.assertNotEqual(result.rc, 0)
            self.assertIn(f"insn_count plugin: {said}", result.stderr)


if __name__ == "__main__":
    unittest.main()

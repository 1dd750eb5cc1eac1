"""The instruction-counting plugin on real QEMU under TCG: it loads, counts, and counts an operation alike twice."""

import dataclasses
import tempfile
import unittest
from pathlib import Path

from harness import command
from harness.build import plugin
from harness.config.specs import WorkloadSpec
from harness.run import balloon, workload
from harness.run.guest import Guest

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

    def test_counting_turned_off_loads_no_plugin(self):
        with self.guest(count_insns=False) as g:
            self.assertIsNone(g.insns())
            self.assertIsNone(balloon.drive(g, 512 << 20).insns)
            self.assertNotIn("-plugin", (g.log_dir / "qemu-command.txt").read_text())

    def test_a_bad_argument_or_several_vcpus_stop_qemu_with_the_plugins_reason(self):
        counter = self.enterContext(tempfile.TemporaryDirectory(prefix="bh-test-")) + "/c"
        bad = "unknown or empty argument (the only one is counter=FILE)"
        for args, smp, said in ((",counter=", 1, f"{bad}: counter="), (",count=/tmp/x", 1, f"{bad}: count="),
                                ("", 1, "no counter file given"),
                                (",counter=/nonexistent/c", 1, "cannot create the counter file /nonexistent/c"),
                                (f",counter={counter}", 2, "counts one vCPU only")):
            result = command.run([self.job.guest.qemu, "-machine", "pc", "-accel", "tcg", "-display", "none", "-S",
                                  "-smp", str(smp), "-plugin", self.plugin.path + args], check=False, timeout=30)
            self.assertNotEqual(result.rc, 0)
            self.assertIn(f"insn_count plugin: {said}", result.stderr)

if __name__ == "__main__":
    unittest.main()

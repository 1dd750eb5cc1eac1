"""Real QEMU, real kernel, real dropbear: the counterparts of the fake-QMP and golden-file unit tests."""

import contextlib
import dataclasses
import os
import signal
import tempfile
import unittest
from pathlib import Path

from harness.config.specs import WorkloadSpec
from harness.errors import BootError, CommandError, GuestError, QMPError, SSHError
from harness.run import balloon, workload
from harness.run.guest import Guest, State

from .common import base_build


def alive(pid):
    return os.path.exists(f"/proc/{pid}")


class GuestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.job, cls.kernel, cls.image, cls.cache = base_build()

    def guest(self, **kw):
        return Guest(self.kernel, kw.pop("image", self.image), self.job.guest, Path(tempfile.mkdtemp()),
                     self.cache, progress=lambda m: None, **kw)

    def test_split_placement_puts_the_vcpu_on_a_core_of_its_own(self):
        spec = dataclasses.replace(self.job.guest, placement="split")
        with Guest(self.kernel, self.image, spec, Path(tempfile.mkdtemp()), self.cache, progress=lambda m: None) as g:
            last = os.cpu_count() - 1
            self.assertEqual(g.placed, {"vcpus": str(last), "rest": f"0-{last - 1}"})
            allowed = {}
            for task in Path(f"/proc/{g.pid}/task").iterdir():
                comm = (task / "comm").read_text().strip()
                line = next(l for l in (task / "status").read_text().splitlines() if l.startswith("Cpus_allowed_list"))
                allowed[comm] = line.split()[1]
            self.assertEqual(allowed.pop("CPU 0/TCG" if g.accel == "tcg" else "CPU 0/KVM"), str(last))
            self.assertEqual(set(allowed.values()), {"0" if last == 1 else f"0-{last - 1}"})
            balloon.drive(g, 512 << 20)  # still works

    def test_boot_balloon_and_measure(self):
        with self.guest() as g:
            pid = g.pid
            self.assertIs(g.state, State.READY)
            self.assertIn(self.image.ready, g.console_text())
            full = self.job.guest.memory_mib << 20
            self.assertEqual(balloon.actual(g), full)
            samples, traces = workload.run(g, WorkloadSpec(target_mib=512, cycles=1, warmup=0), "base", 1,
                                           progress=lambda m: None)
            inflate, deflate = samples
            self.assertEqual((inflate.from_bytes, inflate.to_bytes), (full, 512 << 20))
            self.assertEqual(deflate.to_bytes, full)
            self.assertEqual(inflate.guest_memtotal_before_kb - inflate.guest_memtotal_after_kb, 1536 << 10)
            self.assertEqual(deflate.guest_memtotal_after_kb, inflate.guest_memtotal_before_kb)
            for s in samples:
                self.assertGreater(s.wall_s, 0)
                self.assertLessEqual(s.t50_s, s.t90_s)
                self.assertLessEqual(s.t90_s, s.wall_s)
                self.assertGreater(s.qemu_cpu_s, 0)
                self.assertTrue(s.qemu_threads_cpu_s)
                self.assertGreaterEqual(s.host_other_cpu_s, 0)
                self.assertGreaterEqual(s.host_running, 1)
            self.assertIn("CPU 0/TCG" if g.accel == "tcg" else "CPU 0/KVM", inflate.qemu_threads_cpu_s)
            self.assertEqual(traces[0]["points"][-1][1], 512 << 20)
        self.assertIs(g.state, State.STOPPED)
        self.assertFalse(alive(pid))

    @unittest.skipUnless(os.access("/dev/kvm", os.W_OK), "optional: needs /dev/kvm")
    def test_auto_accel_probes_kvm_once_and_falls_back_to_tcg_when_it_is_silent(self):
        memo_dir = Path(tempfile.mkdtemp())
        said = []
        g = Guest(self.kernel, self.image, self.job.guest, Path(tempfile.mkdtemp()), memo_dir, progress=said.append)
        with g:
            self.assertEqual(g.qmp("query-kvm")["enabled"], g.accel == "kvm")
        memo = next(memo_dir.glob("accel-*.json")).read_text()
        if g.accel == "tcg":
            self.assertTrue(any("KVM unusable here" in m and "retrying under TCG" in m for m in said), said)
        self.assertIn(f'"{g.accel}"', memo)
        with Guest(self.kernel, self.image, self.job.guest, Path(tempfile.mkdtemp()), memo_dir,
                   progress=said.append) as again:
            self.assertEqual(again.accel, g.accel)
        self.assertEqual(sum("KVM unusable" in m for m in said), 1 if g.accel == "tcg" else 0)

    def test_guest_ssh_quotes_arguments(self):
        with self.guest() as g:
            out = g.ssh_run(["echo", "$(touch /tmp/x)"]).stdout
            self.assertEqual(out.strip(), "$(touch /tmp/x)")
            self.assertNotEqual(g.ssh.run(["ls", "/tmp/x"], check=False).rc, 0)

    def test_wrong_pinned_host_key_is_refused_and_qemu_ended(self):
        other = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOPPqyDwBD7536thwG/5AU2ZdOfH7qPQMIwOTdUYeeIsAteMBYI7qDcpHTPfq4gWHdOldkS5YFAh8bvZVZ2Xc/Y="
        g = self.guest(image=dataclasses.replace(self.image, host_key=other))
        with self.assertRaises(SSHError) as cm:
            g.__enter__()
        self.assertIn("host key does not match", str(cm.exception))
        self.assertIs(g.state, State.STOPPED)

    def test_qemu_killed_gives_qmp_error(self):
        with self.guest() as g:
            os.kill(g.pid, signal.SIGKILL)
            with self.assertRaises(QMPError) as cm:
                balloon.drive(g, 512 << 20)
            self.assertIn("QEMU is gone", str(cm.exception))

    def test_guest_oom_during_inflate_is_reported(self):
        with self.guest() as g:
            balloon.drive(g, 384 << 20)
            with contextlib.suppress(CommandError, SSHError):  # the OOM killer may take the shell or sshd too
                g.ssh.run(["dd", "if=/dev/zero", "of=/tmp/fill", "bs=1M", "count=600"], timeout=60)
            with self.assertRaises(GuestError) as cm:
                g.check_console("during inflate")
            self.assertRegex(str(cm.exception), "Out of memory|invoked oom-killer")

    def test_kernel_panic_at_boot_is_reported(self):
        with self.assertRaises(BootError) as cm:
            with self.guest(cmdline="rdinit=/nonexistent init=/nonexistent"):
                pass
        self.assertIn("Kernel panic", str(cm.exception))
        self.assertTrue(cm.exception.log.endswith("console.log"))


if __name__ == "__main__":
    unittest.main()

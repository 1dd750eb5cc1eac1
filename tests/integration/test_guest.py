"""Real QEMU, real kernel, real dropbear: the counterparts of the fake-QMP and golden-file unit tests."""

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from harness import command, privilege
from harness.config.specs import WorkloadSpec
from harness.errors import BootError, CommandError, GuestError, PrerequisiteError, QMPError, SSHError
from harness.run import accel, balloon, workload
from harness.run.guest import Guest, State
from harness.run.host import LocalHost
from harness.run.qemu_argv import COUNTER, SANDBOX

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
            samples, traces = workload.run(g, WorkloadSpec(target_mib=512, cycles=1, warmup=0, populate=True),
                                           "base", 1, progress=lambda m: None)
            inflate, deflate = samples
            # the guest had used its free memory (fill.py): the inflate gave the host back what the balloon took
            self.assertGreaterEqual(inflate.host_returned_mib, workload.RETURNED_FLOOR * 1536)
            self.assertLessEqual(inflate.host_returned_mib, 1536 + 16)
            self.assertLess(abs(deflate.host_returned_mib), 64)  # a deflate populates nothing until the guest writes
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

    @unittest.skipUnless(LocalHost().kvm_usable(), "optional: needs a /dev/kvm QEMU's user can open")
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

    @unittest.skipUnless(privilege.dropping(), "QEMU runs as the harness's user unless the harness is root")
    def test_qemu_runs_as_the_qemu_user_in_its_sandbox_and_is_owned_by_the_harness(self):
        qemu_user = privilege.account(privilege.QEMU_USER)
        with self.guest() as g:
            status = dict(l.split(":", 1) for l in Path(f"/proc/{g.pid}/status").read_text().splitlines())
            self.assertEqual(status["Uid"].split(), [str(qemu_user.uid)] * 4)
            self.assertNotEqual(qemu_user.uid, 0)
            self.assertEqual(status["Seccomp"].strip(), "2")
            self.assertEqual(status["NoNewPrivs"].strip(), "1")
            self.assertEqual(int(status["CapEff"], 16), 0)
            ps = command.run(["ps", "-ww", "-o", "user:20,pid,args", "-p", str(g.pid)]).stdout.splitlines()[1]
            self.assertEqual(ps.split()[:2], [privilege.QEMU_USER, str(g.pid)])
            self.assertIn(f"-sandbox {SANDBOX}", ps)
            self.assertIn("-kernel /proc/self/fd/", ps)  # the cache is under root's 0700 home
            print(f"\n{ps}\nSeccomp:{status['Seccomp']}")
            run = os.stat(g._run_dir)
            self.assertEqual((run.st_uid, run.st_mode & 0o777), (qemu_user.uid, 0o700))
            self.assertEqual(os.stat(g._run_dir / COUNTER).st_uid, qemu_user.uid)
            self.assertGreater(balloon.drive(g, 512 << 20).insns, 1_000_000)
            self.assertIn(self.image.ready, (g.log_dir / "console.log").read_text())  # mirrored from the run dir
            trace = g._run_dir / "trace.log"
        self.assertFalse(trace.exists())
        self.assertIn("virtio_balloon_set_config", (g.log_dir / "trace.log").read_text())  # kept with the logs

    @unittest.skipUnless(privilege.dropping(), "only a root harness changes QEMU's user")
    def test_a_process_started_as_the_qemu_user_dies_with_the_harness(self):
        """setpriv clears the parent-death signal with the user; --pdeathsig keep restores it."""
        code = ("import sys, time\nfrom harness.run.host import LocalHost\nh = LocalHost()\n"
                "p = h.spawn([*h.as_qemu(), 'sleep', '300'], sys.argv[1])\nprint(p.pid, flush=True)\ntime.sleep(300)\n")
        log = Path(tempfile.mkdtemp()) / "log"
        harness = subprocess.Popen([sys.executable, "-c", code, log], stdout=subprocess.PIPE, text=True,
                                   cwd=Path(__file__).resolve().parents[2])
        pid = int(harness.stdout.readline())
        uid, deadline = privilege.account(privilege.QEMU_USER).uid, time.monotonic() + 5
        while os.stat(f"/proc/{pid}").st_uid != uid and time.monotonic() < deadline:  # setpriv is on its way
            time.sleep(0.01)
        self.assertEqual(os.stat(f"/proc/{pid}").st_uid, uid)
        harness.kill()
        harness.wait()
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(pid), "the QEMU user's process outlived the harness")

    @unittest.skipIf(LocalHost().kvm_usable(),
                     "optional: QEMU's user can open /dev/kvm here (the test needs one that cannot)")
    def test_without_kvm_access_auto_says_why_it_chose_tcg_and_kvm_is_refused(self):
        host, said = LocalHost(), []
        self.assertEqual(accel.choose(self.job.guest, host, self.cache, self.job.guest.qemu, said.append), "tcg")
        who = host.qemu_user()
        self.assertEqual(len(said), 1)
        self.assertRegex(said[0], f"accel auto: TCG, as ({who} cannot open /dev/kvm|no /dev/kvm)")
        if os.path.exists("/dev/kvm"):
            with self.assertRaises(PrerequisiteError) as cm:
                with Guest(self.kernel, self.image, dataclasses.replace(self.job.guest, accel="kvm"),
                           Path(tempfile.mkdtemp()), self.cache, progress=said.append):
                    pass
            self.assertIn(f"localhost: the job asks for accel: kvm, but {who} cannot open /dev/kvm", str(cm.exception))
            with self.assertRaises(PrerequisiteError) as cm:
                host.check(self.job.guest.qemu, 64, "kvm")
            self.assertIn(f"a /dev/kvm QEMU can use ({who} cannot open /dev/kvm", str(cm.exception))
            self.assertIn(f"give {who} access to /dev/kvm", str(cm.exception))

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

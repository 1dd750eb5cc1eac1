"""SSHHost against a real sshd on loopback: the counterpart of every LocalHost path; and a guest on a test host
logged into as an unprivileged user."""

import dataclasses
import os
import pwd
import shutil
import tempfile
import unittest
from pathlib import Path

from harness import command
from harness.config.specs import WorkloadSpec
from harness.errors import CommandError, SSHError
from harness.run import workload
from harness.run.accounting import process_cpu
from harness.run.guest import Guest
from harness.run.host import LocalHost
from harness.run.qemu_argv import SANDBOX

from .common import base_build
from .sshd import SSHD, descendants

LOGIN = "bh-test-login"  # made for the test, removed after it


class SSHHostTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sshd = SSHD().__enter__()
        cls.host = cls.sshd.client().wait_ready(10)

    @classmethod
    def tearDownClass(cls):
        cls.host.close()
        cls.sshd.__exit__(None, None, None)

    def test_run_quotes_every_argument(self):
        marker = self.sshd.dir / "x"
        out = self.host.run(["echo", f"$(touch {marker})", "a b", "'q'"]).stdout
        self.assertEqual(out, f"$(touch {marker}) a b 'q'\n")
        self.assertFalse(marker.exists())

    def test_failure_carries_the_result(self):
        with self.assertRaises(CommandError) as cm:
            self.host.run(["sh", "-c", "echo oops >&2; exit 3"])
        self.assertEqual(cm.exception.result.rc, 3)
        self.assertIn("oops", str(cm.exception))

    def test_reads_match_the_local_host(self):
        local = LocalHost()
        self.assertEqual(self.host.read_text("/proc/sys/kernel/ostype"), local.read_text("/proc/sys/kernel/ostype"))
        self.assertEqual(self.host.clk_tck(), local.clk_tck())
        pid = self.sshd.proc.pid
        remote = process_cpu(self.host, pid, self.host.clk_tck())
        here = process_cpu(local, pid, local.clk_tck())
        self.assertAlmostEqual(remote.total_s, here.total_s, delta=0.05)
        self.assertEqual(set(remote.threads_s), set(here.threads_s))

    def test_changed_host_key_is_refused(self):
        wrong = self.sshd.dir / "wrong_known_hosts"
        line = self.sshd.known_hosts.read_text().split()
        other = "AAAAC3NzaC1lZDI1NTE5AAAAIFp1Xvy8s3Vh4mFtkVJY4u5cX8sD1i0Ac3yW2bq0m2xX"
        wrong.write_text(f"{line[0]} {line[1]} {other}\n")
        with self.assertRaises(SSHError) as cm:
            self.sshd.client(wrong).connect()
        self.assertIn("host key does not match", str(cm.exception))

    def test_unknown_host_is_refused(self):
        empty = self.sshd.dir / "empty_known_hosts"
        empty.write_text("")
        with self.assertRaises(SSHError) as cm:
            self.sshd.client(empty).connect()
        self.assertIn("refused", str(cm.exception))

    def test_no_sshd_left_after_the_block(self):
        with SSHD() as extra:
            pid = extra.proc.pid
            self.assertTrue(os.path.exists(f"/proc/{pid}"))
        self.assertFalse(os.path.exists(f"/proc/{pid}"))


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("useradd"), "making a test login needs root and useradd")
class UnprivilegedLoginTest(unittest.TestCase):
    """A test host whose login is not root: QEMU runs as that login (no setpriv), in its sandbox."""

    def setUp(self):
        self.job, self.kernel, self.image, self.cache = base_build()
        command.run(["userdel", "-r", LOGIN], check=False)  # what a killed earlier run left
        home = Path(tempfile.mkdtemp(prefix="bh-login-", dir="/tmp")) / "home"  # not in make check's 0700 TMPDIR
        home.parent.chmod(0o755)
        # "*": no password, but not locked (sshd without PAM refuses a locked account's keys too)
        command.run(["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/sh", "--password", "*", LOGIN])
        self.addCleanup(shutil.rmtree, home.parent, True)
        self.addCleanup(command.run, ["userdel", "--force", "--remove", LOGIN], check=False)  # sessions may linger
        self.sshd = SSHD(user=LOGIN).__enter__()
        self.addCleanup(self.sshd.__exit__, None, None, None)

    def test_a_guest_boots_and_balloons_as_the_login(self):
        uid = pwd.getpwnam(LOGIN).pw_uid
        host = self.sshd.client(command_timeout_s=60).wait_ready(10)
        self.addCleanup(host.close)
        self.assertEqual(host.qemu_user(), LOGIN)
        self.assertEqual(host.run(["id", "-u"]).stdout.strip(), str(uid))
        facts = host.check(self.job.guest.qemu, 1024, "tcg")
        self.assertTrue(facts["qemu_version"])
        log_dir = Path(tempfile.mkdtemp())
        spec = dataclasses.replace(self.job.guest, memory_mib=1024, accel="tcg")
        with Guest(self.kernel, self.image, spec, log_dir, self.cache, progress=lambda m: None, host=host) as g:
            self.assertEqual([p for p, comm in descendants(self.sshd.proc.pid) if comm.startswith("qemu-system")],
                             [g.pid])
            status = dict(l.split(":", 1) for l in Path(f"/proc/{g.pid}/status").read_text().splitlines())
            self.assertEqual(status["Uid"].split(), [str(uid)] * 4)
            self.assertEqual(status["Seccomp"].strip(), "2")
            self.assertTrue(g.sandboxed)
            samples, _ = workload.run(g, WorkloadSpec(target_mib=512, cycles=1, warmup=0), "base", 1,
                                      progress=lambda m: None)
            pid = g.pid
        argv = (log_dir / "qemu-command.txt").read_text()
        self.assertTrue(argv.startswith(f"{self.job.guest.qemu} -sandbox {SANDBOX} "), argv)  # no setpriv there
        self.assertIn(f"{pwd.getpwnam(LOGIN).pw_dir}/.cache/balloon-harness/artefacts/", argv)
        self.assertEqual([s.op for s in samples], ["inflate", "deflate"])
        for s in samples:
            self.assertGreater(s.qemu_cpu_s, 0)
            self.assertGreater(s.guest_insns, 1_000_000)
        self.assertIn(self.image.ready, (log_dir / "console.log").read_text())
        self.assertFalse(os.path.exists(f"/proc/{pid}"))


if __name__ == "__main__":
    unittest.main()

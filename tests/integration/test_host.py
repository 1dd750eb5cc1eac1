"""SSHHost against a real sshd on loopback: the counterpart of every LocalHost path."""

import os
import unittest

from harness.errors import CommandError, SSHError
from harness.run.accounting import process_cpu
from harness.run.host import LocalHost

from .sshd import SSHD


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


if __name__ == "__main__":
    unittest.main()

"""The pure parts of test hosts: /proc parsing, the prerequisite check, the channel bridge, the constant wrapper
scripts (run here by sh, as an SSH host runs them), and per-host comparisons in stats and report."""

import os
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness.command import CommandResult
from harness.config.specs import GuestSpec
from harness.errors import PrerequisiteError
from harness.judge import policy, report
from harness.run import accel
from harness.run.host import Host, LocalHost
from harness.run.procfs import cpu_model, mem_available_mib, ports_in_use
from harness.run.ssh import SPAWN, TEMPDIR, as_socket

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:9C41 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:0
"""


class FakeHost(Host):
    """A host whose commands answer from a table: argv[0] or the file read -> (rc, stdout)."""

    name = "lab9"

    def __init__(self, **answers):
        self.answers = answers

    def run(self, argv, check=True, timeout=None):
        key = argv[1] if argv[0] == "cat" else argv[0]
        rc, out = self.answers.get(key, (1, ""))
        return CommandResult(tuple(argv), rc, out, "", 0.0)


def healthy(**changes):
    answers = {"qemu-system-x86_64": (0, "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\n"),
               "test": (0, ""), "/proc/meminfo": (0, "MemTotal: 24000000 kB\nMemAvailable: 4194304 kB\n"),
               "/proc/cpuinfo": (0, "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n"), "uname": (0, "6.1.0-56-amd64\n"),
               "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": (0, "performance\n")}
    return FakeHost(**{**answers, **changes})


class ParsingTest(unittest.TestCase):
    def test_ports_in_use_reads_tcp_and_tcp6(self):
        self.assertEqual(ports_in_use(TCP), {22, 0x9C41, 8080})
        self.assertEqual(ports_in_use(TCP, listening=True), {22, 8080})

    def test_meminfo_and_cpuinfo(self):
        self.assertEqual(mem_available_mib("MemTotal: 1 kB\nMemAvailable: 2097152 kB\n"), 2048)
        self.assertEqual(cpu_model("processor : 0\nmodel name\t: Intel(R) Xeon(R) @ 2.2GHz\nflags : x\n"),
                         "Intel(R) Xeon(R) @ 2.2GHz")
        self.assertIsNone(cpu_model("processor : 0\n"))


class CheckTest(unittest.TestCase):
    def test_facts_of_a_healthy_host(self):
        facts = healthy().check("qemu-system-x86_64", 2048, "kvm")
        self.assertEqual(facts, {"cpu_model": "AMD EPYC 7B13", "kernel": "6.1.0-56-amd64",
                                 "qemu_version": "7.2.22 (Debian 1:7.2+dfsg-7)", "governor": "performance",
                                 "kvm": True, "mem_available_mib": 4096})

    def test_unreadable_governor_is_none(self):
        host = healthy(**{"/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": (1, "")})
        self.assertIsNone(host.check("qemu-system-x86_64", 2048)["governor"])

    def test_everything_missing_is_named_with_the_host(self):
        host = healthy(**{"qemu-system-x86_64": (127, ""), "test": (1, ""), "/proc/cpuinfo": (0, "processor : 0\n")})
        with self.assertRaises(PrerequisiteError) as cm:
            host.check("qemu-system-x86_64", 8192, "kvm")
        self.assertEqual(cm.exception.outcome, "cancel")
        text = str(cm.exception)
        for part in ("lab9: missing", "QEMU (qemu-system-x86_64 not found", "apt-get install qemu-system-x86", "/dev/kvm", "8192 MiB of free RAM",
                     "MemAvailable: 4096 MiB", "CPU model"):
            self.assertIn(part, text)

    def test_kvm_is_only_required_when_asked_for(self):
        self.assertFalse(healthy(test=(1, "")).check("qemu-system-x86_64", 2048, "auto")["kvm"])


class AsQemuHost(FakeHost):
    """A host where QEMU runs as another user (setpriv's answers are that user's; real: LocalHost as root, in
    tests/integration/test_guest.py)."""

    def qemu_user(self):
        return "balloon-qemu"

    def as_qemu(self):
        return ["setpriv", "--reuid=995"]

    def qemu_dirs(self):
        return ["/root/tmp"]


class QemuUserTest(unittest.TestCase):
    def host(self, **changes):
        return AsQemuHost(**{**healthy().answers, "stat": (0, "crw------- root:root\n"), "setpriv": (1, ""),
                             **changes})

    def test_what_qemus_user_lacks_is_named(self):
        with self.assertRaises(PrerequisiteError) as cm:
            self.host().check("qemu-system-x86_64", 2048, "kvm")
        text = str(cm.exception)
        self.assertIn("lab9: missing a /dev/kvm QEMU can use (balloon-qemu cannot open /dev/kvm (crw------- "
                      "root:root); the job asks for accel: kvm)", text)
        self.assertIn("a way in to /root/tmp for balloon-qemu (its run directory is made there)", text)
        self.assertIn("give balloon-qemu access to /dev/kvm", text)
        self.assertIn("set TMPDIR", text)
        self.assertTrue(self.host(setpriv=(0, "")).check("qemu-system-x86_64", 2048, "kvm")["kvm"])
        self.assertFalse(self.host().kvm_usable())

    def test_auto_chooses_tcg_and_says_why_and_kvm_is_refused(self):
        said = []
        self.assertEqual(accel.choose(GuestSpec(accel="auto"), self.host(), None, "qemu", said.append), "tcg")
        self.assertEqual(said, ["accel auto: TCG, as balloon-qemu cannot open /dev/kvm (crw------- root:root)"])
        with self.assertRaises(PrerequisiteError) as cm:
            accel.choose(GuestSpec(accel="kvm"), self.host(), None, "qemu")
        self.assertIn("lab9: the job asks for accel: kvm, but balloon-qemu cannot open /dev/kvm", str(cm.exception))
        self.assertEqual(accel.choose(GuestSpec(accel="kvm"), self.host(setpriv=(0, "")), None, "qemu"), "kvm")
        self.assertEqual(accel.choose(GuestSpec(accel="tcg"), self.host(), None, "qemu", said.append), "tcg")
        self.assertEqual(len(said), 1)
        said.clear()
        accel.choose(GuestSpec(accel="auto"), self.host(test=(1, "")), None, "qemu", said.append)
        self.assertEqual(said, ["accel auto: TCG, as no /dev/kvm"])

    def test_spawned_process_reads_inherited_descriptors_by_their_proc_path(self):
        with tempfile.TemporaryDirectory() as tmp:
            artefact = Path(tmp) / "bzImage"
            artefact.write_text("kernel bytes")
            fd = os.open(artefact, os.O_RDONLY | os.O_CLOEXEC)
            try:
                proc = LocalHost().spawn(["sh", "-c", f"cat /proc/self/fd/{fd}"], Path(tmp) / "log", pass_fds=[fd])
                proc.popen.wait(10)
                self.assertEqual((Path(tmp) / "log").read_text(), "kernel bytes")
                proc = LocalHost().spawn(["sh", "-c", f"cat /proc/self/fd/{fd}"], Path(tmp) / "log2")
                proc.popen.wait(10)
                self.assertIn("No such file", (Path(tmp) / "log2").read_text())  # O_CLOEXEC: only when passed
            finally:
                os.close(fd)


class FakeChannel:
    """Just what the bridge uses of a paramiko Channel, over a socket."""

    def __init__(self, sock):
        self.sock = sock

    def fileno(self):
        return self.sock.fileno()

    def recv(self, n):
        return self.sock.recv(n)

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


class BridgeTest(unittest.TestCase):
    def test_a_socket_is_its_own_endpoint(self):
        a, b = socket.socketpair()
        with a, b:
            self.assertIs(as_socket(a), a)

    def test_bytes_flow_both_ways_and_a_closed_channel_closes_the_socket(self):
        far, near = socket.socketpair()
        sock = as_socket(FakeChannel(near))
        with far, sock:
            sock.sendall(b"query")
            self.assertEqual(far.recv(10), b"query")
            far.sendall(b"reply")
            self.assertEqual(sock.recv(10), b"reply")
            far.close()
            sock.settimeout(5)
            self.assertEqual(sock.recv(10), b"")


class WrapperScriptTest(unittest.TestCase):
    """SPAWN and TEMPDIR run here under sh exactly as sshd runs them (``sh -c SCRIPT sh ARGS...``)."""

    def start(self, script, *args):
        return subprocess.Popen(["sh", "-c", script, "sh", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def test_spawn_prints_the_pid_and_ends_the_child_at_stdin_eof(self):
        log = Path(tempfile.mkdtemp()) / "out.log"
        proc = self.start(SPAWN, str(log), "sh", "-c", "echo started 'a b'; exec sleep 60")
        pid = int(proc.stdout.readline())
        self.assertTrue(os.path.exists(f"/proc/{pid}"))
        deadline = time.monotonic() + 5
        while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.stdin.close()
        self.assertEqual(proc.wait(10), 143)  # the child's status: SIGTERM
        self.assertFalse(os.path.exists(f"/proc/{pid}"))
        self.assertEqual(log.read_text(), "started a b\n")

    def test_spawn_exits_with_the_child(self):
        proc = self.start(SPAWN, os.devnull, "sh", "-c", "exit 3")
        int(proc.stdout.readline())
        self.assertEqual(proc.wait(10), 3)
        proc.stdin.close()

    def test_tempdir_is_private_and_removed_at_stdin_eof(self):
        proc = self.start(TEMPDIR)
        path = Path(proc.stdout.readline().strip())
        self.assertEqual(path.stat().st_mode & 0o777, 0o700)
        (path / "console.log").write_text("x")
        proc.stdin.close()
        self.assertEqual(proc.wait(10), 0)
        self.assertFalse(path.exists())


def samples(host, variant, speed):
    return [{"variant": variant, "host": host, "boot": boot, "cycle": cycle, "op": "inflate", "warmup": False,
             "wall_s": 0.4 * speed + 0.001 * (3 * boot + cycle)} for boot in (1, 2, 3) for cycle in (1, 2, 3)]


def document(across=False):
    """base and v1 on lab1; base alone on lab2, which is twice as fast."""
    return {"job": {"compare_across_hosts": across}, "variants": [{"name": "base"}, {"name": "v1"}],
            "samples": samples("lab1", "base", 1.0) + samples("lab1", "v1", 0.8) + samples("lab2", "base", 0.5)}


class PerHostComparisonTest(unittest.TestCase):
    def test_variants_are_compared_with_the_baseline_of_their_own_host(self):
        doc = document()
        (c,) = policy.comparisons(doc)
        self.assertEqual((c.variant, c.setting, c.verdict), ("v1", "lab1", "faster"))
        self.assertAlmostEqual(c.ratio, 0.8, delta=0.01)
        text = report.table(doc)
        self.assertIn("setting", text.splitlines()[0])
        self.assertIn("compared per host (lab1, lab2)", text)

    def test_a_variant_without_a_baseline_on_its_host_is_not_compared(self):
        doc = document()
        doc["samples"] = [s for s in doc["samples"] if not (s["host"] == "lab1" and s["variant"] == "base")]
        self.assertEqual(policy.comparisons(doc), [])
        self.assertIn("no base in lab1", report.table(doc))

    def test_pooling_across_hosts_when_told(self):
        for doc, across in ((document(across=True), None), (document(), True)):
            (c,) = policy.comparisons(doc, across_hosts=across)
            self.assertIsNone(c.setting)
            self.assertGreater(c.ratio, 1.1)  # against a baseline pooled with the fast host, v1 looks slower
            self.assertIn("hosts pooled as asked", report.table(doc, across_hosts=across))

    def test_one_host_reads_as_before(self):
        doc = document()
        doc["samples"] = [s for s in doc["samples"] if s["host"] == "lab1"]
        self.assertIsNone(policy.comparisons(doc)[0].setting)
        self.assertNotIn("setting", report.table(doc).splitlines()[0])


if __name__ == "__main__":
    unittest.main()

"""Guests on "lab hosts" reached over SSH: two network namespaces, each with its own sshd (``netns.LabHost``).

The harness API boots a guest through lab1's sshd and reads QEMU's CPU through that SSH connection; one real
Avocado job runs the base kernel on both hosts; a host whose key changed is refused; a host that drops mid-job
ERRORs its test while the other host's results survive; and no QEMU or sshd of ours is left afterwards.
"""

import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
import unittest
from pathlib import Path

from harness import command
from harness.build import plugin
from harness.config.specs import WorkloadSpec
from harness.errors import HarnessError, SSHError
from harness.run import balloon, workload
from harness.run.guest import Guest
from harness.run.qemu_argv import COUNTER
from harness.run.ssh import open_host

from . import avocado_job
from .common import base_build
from .netns import LabHost
from .sshd import descendants

JOB = """\
base: {{debian: linux-source-6.1}}
kernel: {{fragments: [configs/kernel/balloon.config]}}
guest: {{memory_mib: 1024, accel: tcg, boot_timeout_s: 120}}
workload: {{target_mib: 512, warmup: 0, cycles: {cycles}, op_timeout_s: 60}}
hosts:
{hosts}variants: !mux
  on-lab1: {{variant: base, host: lab1}}
  on-lab2: {{variant: base, host: lab2}}
"""


def alive(pid):
    """Whether ``pid`` runs (a zombie waiting for this machine's init to reap it does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def netns_of(pid):
    return os.readlink(f"/proc/{pid}/ns/net")


def qemus(lab):
    """Pids of the QEMUs running below ``lab``'s sshd."""
    return [pid for pid, comm in descendants(lab.sshd.proc.pid) if comm.startswith("qemu-system")]


class Recorder:
    """Wraps a host's ``run`` to remember every argv it sent."""

    def __init__(self, host):
        self.argvs, self._run = [], host.run
        host.run = self

    def __call__(self, argv, *args, **kw):
        self.argvs.append([str(a) for a in argv])
        return self._run(argv, *args, **kw)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip"), "lab hosts need root and iproute2 (ip netns)")
class LabHostsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.job, cls.kernel, cls.image, cls.cache = base_build()
        cls.seen = set()  # every QEMU pid seen below a lab's sshd: all must be gone at the end
        cls.sshd_pids = []
        cls.labs = []
        try:
            for index in (1, 2):
                cls.labs.append(LabHost(index).__enter__())
                cls.sshd_pids.append(cls.labs[-1].sshd.proc.pid)
        except BaseException:
            cls.tearDownClass()
            raise
        cls.lab1, cls.lab2 = cls.labs

    @classmethod
    def tearDownClass(cls):
        for lab in cls.labs:
            lab.__exit__()
        deadline = time.monotonic() + 15
        while any(alive(p) for p in cls.seen | set(cls.sshd_pids)) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [p for p in cls.seen | set(cls.sshd_pids) if alive(p)]
        if left or any(lab.netns in os.listdir("/run/netns") for lab in cls.labs if os.path.isdir("/run/netns")):
            raise AssertionError(f"left behind: processes {left}, or a bh-lab namespace")

    def watch(self, until):
        """Collect {lab name: QEMU pids seen below its sshd} until ``until`` is set (in a thread)."""
        found = {lab.name: set() for lab in self.labs}

        def loop():
            while not until.is_set():
                for lab in self.labs:
                    found[lab.name].update(qemus(lab))
                    self.seen.update(found[lab.name])
                time.sleep(0.1)
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread, found

    def test_guest_on_a_lab_host_is_driven_and_measured_through_ssh(self):
        remote_cache = tempfile.mkdtemp(prefix="bh-remote-cache-")
        self.addCleanup(shutil.rmtree, remote_cache, True)
        host = self.lab1.client(command_timeout_s=60, remote_cache=remote_cache).connect()
        recorder = Recorder(host)
        log_dir = Path(tempfile.mkdtemp())
        try:
            with Guest(self.kernel, self.image, dataclasses.replace(self.job.guest, memory_mib=1024, accel="tcg"),
                       log_dir, self.cache, progress=lambda m: None, host=host) as g:
                pid = g.pid
                self.seen.add(pid)
                self.assertEqual(qemus(self.lab1), [pid])
                self.assertEqual(netns_of(pid), netns_of(self.lab1.sshd.proc.pid))
                self.assertNotEqual(netns_of(pid), netns_of(os.getpid()))
                self.assertEqual(g.host.name, "sshd:10.254.1.2:22")
                samples, _ = workload.run(g, WorkloadSpec(target_mib=512, cycles=1, warmup=0), "base", 1,
                                          progress=lambda m: None)
                run_dir = g._run_dir
                argv = " ".join((log_dir / "qemu-command.txt").read_text().split())
        finally:
            host.run = recorder._run
        self.assertFalse(alive(pid))
        self.assertIn(["cat", f"/proc/{pid}/stat"], recorder.argvs)
        self.assertIn(["sh", "-c", f"cat /proc/{pid}/task/*/stat"], recorder.argvs)
        self.assertIn(["od", "-An", "-tu8", "-N8", f"{run_dir}/{COUNTER}"], recorder.argvs)  # the plugin's count
        for s in samples:
            self.assertGreater(s.qemu_cpu_s, 0)
            self.assertAlmostEqual(sum(s.qemu_threads_cpu_s.values()), s.qemu_cpu_s, delta=0.05)
            self.assertGreater(s.guest_insns, 1_000_000)
        self.assertIn("-qmp tcp:127.0.0.1:", argv)
        self.assertIn(f"-plugin {remote_cache}/", argv)
        self.assertIn(f"{remote_cache}/{self.kernel.bzimage_sha256}/bzImage", argv)
        self.assertIn(self.image.ready, (log_dir / "console.log").read_text())  # mirrored from the host
        self.assertNotEqual(host.run(["test", "-e", run_dir], check=False).rc, 0)
        copied = sorted(Path(remote_cache).glob("*/*"))
        self.assertEqual(sorted(f.name for f in copied), sorted(["bzImage", Path(self.image.initrd).name,
                                                                  plugin.LIBRARY]))
        before = [f.stat().st_mtime_ns for f in copied]
        self.assertEqual(host.put(self.kernel.bzimage).parts[-2:], (self.kernel.bzimage_sha256, "bzImage"))
        self.assertEqual([f.stat().st_mtime_ns for f in copied], before)  # not copied again
        host.close()

    def test_changed_host_key_is_refused(self):
        keys = Path(tempfile.mkdtemp())
        command.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys / "other"])
        kind, other = (keys / "other.pub").read_text().split()[:2]
        pinned = keys / "known_hosts"
        pinned.write_text(f"{self.lab2.address} {kind} {other}\n")
        with self.assertRaises(SSHError) as cm:
            open_host(self.lab2.spec(known_hosts=pinned))
        self.assertIn("lab2: host key does not match the pinned key", str(cm.exception))

    def test_job_across_two_hosts(self):
        done = threading.Event()
        watcher, found = self.watch(done)
        start = time.perf_counter()
        try:
            console, tests, job_dir = avocado_job.run(self.job_yaml(cycles=1), cleanup=self.addCleanup)
        finally:
            done.set()
        wall_s = time.perf_counter() - start
        watcher.join()
        self.assertTrue(found["lab1"] and found["lab2"], "QEMU did not run below each lab host's sshd")
        self.assertEqual([t["status"] for t in tests], ["PASS", "PASS"], console)
        records = {r["guest"]["host"]: r for r in map(json.loads, map(Path.read_text,
                                                                         job_dir.glob("test-results/*/data/balloon.json")))}
        self.assertEqual(set(records), {"lab1", "lab2"})
        for lab in self.labs:
            facts = records[lab.name]["guest"]["host_facts"]
            self.assertEqual(facts["ssh"], f"root@{lab.address}:22")
            self.assertTrue(facts["cpu_model"] and facts["kernel"] and facts["qemu_version"])
            self.assertTrue(all(s["qemu_cpu_s"] > 0 for s in records[lab.name]["samples"]))
        doc = json.loads((job_dir / "balloon" / "results.json").read_text())
        self.assertEqual({s["host"] for s in doc["samples"]}, {"lab1", "lab2"})
        table = (job_dir / "balloon" / "table.txt").read_text()
        self.assertIn("compared per host (lab1, lab2)", table)
        print(f"\ntwo-host job: {wall_s:.1f} s wall\n{table}")

    def test_a_qemu_built_here_runs_on_a_lab_host(self):
        """ranges v2 on the QEMU built with patches/qemu/ranges/v2, shipped to lab1: the guest sends ranges there."""
        text = self.job_yaml(cycles=1).replace(
            "variants: !mux\n  on-lab1: {variant: base, host: lab1}\n  on-lab2: {variant: base, host: lab2}\n",
            "variants: !mux\n  ranges-v2:\n    variant: ranges-v2\n    series: patches/ranges/v2\n    host: lab1\n"
            "    qemu: ranges\nqemus:\n"
            "  ranges: {source: debian, series: patches/qemu/ranges/v2, balloon: {x-ranges: true}}\n")
        done = threading.Event()
        watcher, found = self.watch(done)
        try:
            console, tests, job_dir = avocado_job.run(text, cleanup=self.addCleanup)
        finally:
            done.set()
        watcher.join()
        self.assertEqual([t["status"] for t in tests], ["PASS"], console)
        self.assertTrue(found["lab1"], "QEMU did not run below lab1's sshd")
        record = json.loads(next(job_dir.glob("test-results/*/data/balloon.json")).read_text())
        self.assertEqual(record["guest"]["host"], "lab1")
        self.assertRegex(record["guest"]["qemu"], r"/artefacts/[0-9a-f]{64}/qemu-system-x86_64$")  # the copy
        self.assertIn("(balloon-harness)", record["guest"]["qemu_version"])
        self.assertEqual(record["guest"]["setup"]["balloon"], {"x-ranges": "on"})
        inflate = next(s for s in record["samples"] if s["op"] == "inflate")
        self.assertLess(inflate["requests"], 512 // 4)  # 512 MiB as PFN arrays would take 512 requests of 1 MiB

    def test_avocado_runs_tests_side_by_side_one_guest_per_host(self):
        text = self.job_yaml(cycles=1).replace("variants: !mux", "rounds: !mux\n  r1: {round: 1}\n  r2: {round: 2}\n"
                                                                 "  r3: {round: 3}\nvariants: !mux")
        start = time.perf_counter()
        console, tests, job_dir = avocado_job.run(text, parallel=2, cleanup=self.addCleanup)
        wall_s = time.perf_counter() - start
        self.assertEqual([t["status"] for t in tests], ["PASS"] * 6, console)
        held = {}
        for path in job_dir.glob("test-results/*/data/balloon.json"):
            guest = json.loads(path.read_text())["guest"]
            held.setdefault(guest["host"], []).append(tuple(guest["held"]))
        self.assertEqual({h: len(w) for h, w in held.items()}, {"lab1": 3, "lab2": 3})
        for host, windows in held.items():  # one guest per host at a time
            windows.sort()
            for (_, end), (start_next, _) in zip(windows, windows[1:]):
                self.assertLessEqual(end, start_next, f"two guests at once on {host}: {windows}")
        overlap = sum(max(0.0, min(a[1], b[1]) - max(a[0], b[0])) for a in held["lab1"] for b in held["lab2"])
        self.assertGreater(overlap, 0, f"the hosts never ran side by side: {held}")
        print(f"\nsix tests on two hosts, two at a time: {wall_s:.1f} s wall, hosts side by side for {overlap:.1f} s")

    def test_host_that_drops_mid_job_errors_while_the_other_hosts_results_survive(self):
        done = threading.Event()
        dropped = []

        def drop_lab2_once_its_guest_runs():
            while not done.is_set():
                pids = qemus(self.lab2)
                if pids:
                    self.seen.update(pids)
                    time.sleep(4)
                    self.lab2.sshd.kill()
                    dropped.extend(pids)
                    return
                time.sleep(0.1)

        killer = threading.Thread(target=drop_lab2_once_its_guest_runs, daemon=True)
        killer.start()
        try:
            console, tests, job_dir = avocado_job.run(self.job_yaml(cycles=3), cleanup=self.addCleanup)
        finally:
            done.set()
            killer.join()
            self.restart(self.lab2)
        statuses = {("lab1" if "on-lab1" in t["name"] else "lab2"): t for t in tests}
        self.assertEqual(statuses["lab1"]["status"], "PASS", console)
        self.assertEqual(statuses["lab2"]["status"], "ERROR", console)
        # the host named, and a cause that says something (an exception's empty text never stands alone)
        self.assertRegex(statuses["lab2"]["fail_reason"],
                         r"lab2: (connection lost|cannot \S.*: \S)|lab2.*failed|QMP \S+ failed: \S")
        self.assertTrue(dropped)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in dropped) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertFalse([p for p in dropped if alive(p)], "QEMU outlived its dropped SSH session")
        doc = json.loads((job_dir / "balloon" / "results.json").read_text())
        self.assertEqual({s["host"] for s in doc["samples"]}, {"lab1"})
        self.assertEqual([(o["status"], o["samples"]) for o in doc["outcomes"] if o["status"] != "PASS"],
                         [("ERROR", False)])

    def test_unplugged_host_fails_the_guest_and_its_side_ends_qemu(self):
        host = open_host(self.lab2.spec(), command_timeout_s=20)
        try:
            with Guest(self.kernel, self.image, dataclasses.replace(self.job.guest, memory_mib=1024, accel="tcg"),
                       Path(tempfile.mkdtemp()), self.cache, progress=lambda m: None, host=host) as g:
                pid = g.pid
                self.seen.add(pid)
                self.lab2.unplug()
                start = time.monotonic()
                with self.assertRaises(HarnessError) as cm:
                    balloon.drive(g, 512 << 20, timeout_s=60)
                noticed_s = time.monotonic() - start
        finally:
            host.close()
            self.restart(self.lab2)
        self.assertIn("lab2: connection lost", str(cm.exception))
        self.assertLess(noticed_s, 40, "TCP_USER_TIMEOUT (15 s) should end the dead connection")
        deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertFalse(alive(pid), "QEMU outlived its vanished controller")

    # helpers ----------------------------------------------------------------------------------------------------
    def job_yaml(self, cycles):
        return JOB.format(cycles=cycles, hosts="".join(lab.yaml() for lab in self.labs))

    def restart(self, lab):
        """Bring a dropped lab host back (fresh namespace, link, sshd and keys) for the tests after this one."""
        index = self.labs.index(lab)
        lab.__exit__()
        self.labs[index] = LabHost(index + 1).__enter__()
        self.sshd_pids.append(self.labs[index].sshd.proc.pid)
        type(self).lab1, type(self).lab2 = self.labs


if __name__ == "__main__":
    unittest.main()

"""Counting the guest's instructions: the plugin on QEMU's command line, building it, reading its counters here and
on an SSH host, and a sample's host speed (real: tests/integration/test_counting.py)."""

import dataclasses
import os
import struct
import tempfile
import unittest
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from unittest import mock

from harness.build import plugin
from harness.command import CommandResult
from harness.config import loader
from harness.config.specs import GuestSpec
from harness.errors import BuildError, HostError, PrerequisiteError
from harness.run import workload
from harness.run.guest import Guest
from harness.run.host import LocalHost
from harness.run.qemu_argv import COUNTER, NOT_ON_KVM, command_line


def argv(spec=GuestSpec(), accel="tcg", plugin_path="/cache/libinsn_count.so"):
    return command_line("qemu", SimpleNamespace(bzimage="bz"), SimpleNamespace(initrd="rd"), spec, accel, "/run",
                        "/log", 2222, plugin=plugin_path)


def plugins(args):
    return [args[i + 1] for i, a in enumerate(args) if a == "-plugin"]


class CommandLineTest(unittest.TestCase):
    def test_under_tcg_the_plugin_counts_into_the_private_run_directory(self):
        self.assertEqual(plugins(argv()), [f"/cache/libinsn_count.so,counter=/run/{COUNTER}"])
        self.assertEqual(plugins(argv(GuestSpec(tcg_thread="single"))),
                         [f"/cache/libinsn_count.so,counter=/run/{COUNTER}"])

    def test_no_plugin_under_kvm_when_turned_off_with_several_vcpus_or_not_given(self):
        self.assertEqual(plugins(argv(accel="kvm")), [])
        self.assertEqual(plugins(argv(GuestSpec(count_insns=False))), [])
        self.assertEqual(plugins(argv(GuestSpec(cpus=2))), [])
        self.assertEqual(plugins(argv(plugin_path=None)), [])


class FakeHost:
    """An SSH test host: ``put`` copies into its cache, ``od`` prints the counter."""

    name = "lab9"
    local = False

    def __init__(self, count=0):
        self.count, self.ran = count, []

    def put(self, path):
        return PurePosixPath("/home/bh/.cache/balloon-harness/artefacts/abc") / Path(path).name

    def run(self, argv, check=True, timeout=None):
        self.ran.append([str(a) for a in argv])
        return CommandResult(tuple(argv), 0, "" if self.count is None else f" {self.count:20d}\n", "", 0.0)


BUILT = plugin.Plugin("/cache/plugins/k/libinsn_count.so", "k", "qemu=1:7.2+dfsg-7", "gcc 12")


class GuestTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def guest(self, host, spec=GuestSpec(), run_dir=PurePosixPath("/tmp/bh-run")):
        g = Guest(SimpleNamespace(variant="base"), None, spec, self.tmp / "logs", self.tmp / "cache", host=host,
                  progress=lambda m: None)
        g._qemu_files.run_dir = run_dir
        return g

    def test_a_tcg_boot_builds_the_plugin_and_ships_it_to_the_host(self):
        g = self.guest(FakeHost())
        with mock.patch.object(plugin, "build", return_value=BUILT):
            self.assertEqual(g._counter.plugin_for("tcg"),
                             PurePosixPath("/home/bh/.cache/balloon-harness/artefacts/abc/libinsn_count.so"))
        self.assertEqual(g.counting, "counted by the TCG plugin k (built against qemu=1:7.2+dfsg-7)")

    def test_kvm_several_vcpus_and_a_job_that_turns_counting_off_build_nothing_and_say_why(self):
        for spec, accel, why in ((GuestSpec(), "kvm", NOT_ON_KVM),
                                 (GuestSpec(count_insns=False), "tcg", "not counted: guest.count_insns is false"),
                                 (GuestSpec(cpus=4), "tcg", "not counted: 4 vCPUs (the plugin's inline add")):
            g = self.guest(FakeHost(), spec)
            with mock.patch.object(plugin, "build") as build:
                self.assertIsNone(g._counter.plugin_for(accel))
            build.assert_not_called()
            self.assertTrue(g.counting.startswith(why), g.counting)
            g.accel = accel
            self.assertIsNone(g.insns())
        self.assertIn("host PMU", NOT_ON_KVM)

    def test_on_an_ssh_host_the_counter_is_read_with_od(self):
        host = FakeHost(12345678901)
        g = self.guest(host)
        with mock.patch.object(plugin, "build", return_value=BUILT):
            g.accel = "tcg"
            g._counter.plugin_for("tcg")
        self.assertEqual(g.insns(), 12345678901)
        self.assertEqual(host.ran[-1], ["od", "-An", "-tu8", "-N8", f"/tmp/bh-run/{COUNTER}"])
        host.count = None  # an empty file: od prints nothing
        with self.assertRaises(HostError) as cm:
            g.insns()
        self.assertIn(f"lab9: cannot read the instruction counter /tmp/bh-run/{COUNTER}: invalid literal",
                      str(cm.exception))

    def test_here_the_counter_is_read_with_pread_while_it_grows(self):
        g = self.guest(LocalHost(), run_dir=self.tmp)
        g._counter.plugin, g.accel = "/cache/libinsn_count.so", "tcg"
        counter = self.tmp / COUNTER
        counter.write_bytes(struct.pack("=Q", 7))
        self.assertEqual(g.insns(), 7)
        with open(counter, "r+b") as f:  # the plugin adds in place, through its shared mapping
            f.write(struct.pack("=Q", 1 << 40))
        self.assertEqual(g.insns(), 1 << 40)
        g._files.close()

    def test_a_missing_or_short_counter_file_names_it_and_the_state_of_qemu(self):
        g = self.guest(LocalHost(), run_dir=self.tmp)
        g._counter.plugin, g.accel = "/cache/libinsn_count.so", "tcg"
        with self.assertRaises(HostError) as cm:
            g.insns()
        self.assertIn(f"localhost: cannot read the instruction counter {self.tmp / COUNTER}: No such file",
                      str(cm.exception))
        self.assertIn("QEMU is gone", str(cm.exception))
        (self.tmp / COUNTER).write_bytes(b"\0" * 4)
        with self.assertRaises(HostError) as cm:
            g.insns()
        self.assertIn("unpack requires a buffer of 8 bytes", str(cm.exception))
        g._files.close()


@dataclasses.dataclass(frozen=True)
class Kernel:
    variant: str
    bzimage: Path


@dataclasses.dataclass(frozen=True)
class Image:
    initrd: Path


class OtherUserHost(LocalHost):
    """This machine, as if QEMU ran as another user who cannot reach the cache: ``env`` stands in for setpriv (real:
    LocalHost as root, tests/integration/test_guest.py)."""

    def qemu_account(self):
        return None

    def as_qemu(self):
        return ["env"]

    def qemu_can_read(self, path):
        return False


class HandOverTest(unittest.TestCase):
    """The files QEMU cannot reach by name are opened here and inherited: the argv names /proc/self/fd/N."""

    def test_kernel_initrd_plugin_and_binary_are_handed_over_open(self):
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        qemu = tmp / "qemu-system-x86_64"  # no -sandbox: it says so; run by its descriptor, it cats its argument
        qemu.write_text('#!/bin/sh\n[ "$1" = -sandbox ] && exit 1\nexec cat "$1"\n')
        qemu.chmod(0o755)
        (tmp / "bzImage").write_text("kernel")
        (tmp / "initrd.cpio").write_text("initrd")
        said = []
        g = Guest(Kernel("base", tmp / "bzImage"), Image(tmp / "initrd.cpio"),
                  GuestSpec(), tmp / "logs", tmp / "cache", host=OtherUserHost(), qemu=qemu, progress=said.append)
        g._prepare_host()
        try:
            kernel, image = g._artefacts
            for named, real in ((kernel.bzimage, tmp / "bzImage"), (image.initrd, tmp / "initrd.cpio"),
                                (g._exe, qemu)):
                self.assertRegex(named, r"^/proc/self/fd/\d+$")
                self.assertEqual(os.readlink(f"/proc/self/fd/{named.rsplit('/', 1)[1]}"), str(real))
            self.assertFalse(g.sandboxed)
            self.assertEqual(said, [f"{qemu} has no -sandbox (built without seccomp): QEMU runs unsandboxed on "
                                    f"localhost, as {g.host.qemu_user()}"])
            self.assertTrue(g._qemu_files.mirrored)
            self.assertNotEqual(g._private, g._run_dir)  # the pinned known_hosts is not in QEMU's directory
            with mock.patch.object(plugin, "build", return_value=plugin.Plugin(str(qemu), "k", "h", "gcc")):
                self.assertRegex(str(g._counter.plugin_for("tcg")), r"^/proc/self/fd/\d+$")
            self.assertEqual(len(g._qemu_files.fds), 4)
            proc = g.host.spawn([*g._qemu_files.prefix, g._exe, kernel.bzimage], tmp / "qemu.log",
                                 pass_fds=g._qemu_files.fds)
            proc.popen.wait(10)
            self.assertEqual((tmp / "qemu.log").read_text(), "kernel")  # the binary and the kernel, by descriptor
        finally:
            g._files.close()
        for fd in g._qemu_files.fds:
            with self.assertRaises(OSError):
                os.fstat(fd)

    def test_without_another_user_paths_stay_as_they_are(self):
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        g = Guest(Kernel("base", tmp / "bzImage"), Image(tmp / "rd"),
                  GuestSpec(), tmp / "logs", tmp / "cache", host=LocalHost(), progress=lambda m: None)
        with mock.patch.object(LocalHost, "qemu_account", return_value=None):
            g._prepare_host()
        try:
            self.assertEqual(g._artefacts[0].bzimage, tmp / "bzImage")
            files = g._qemu_files
            self.assertEqual((g._exe, files.fds, files.prefix, files.mirrored), (g.qemu, [], [], False))
            self.assertEqual(g._private, g._run_dir)
            self.assertTrue(g.sandboxed)  # the system QEMU has the sandbox
        finally:
            g._files.close()


class BuildTest(unittest.TestCase):
    def setUp(self):
        self.cache = Path(self.enterContext(tempfile.TemporaryDirectory()))
        self.src = Path(self.enterContext(tempfile.TemporaryDirectory()))
        header = self.src / plugin.HEADER
        header.parent.mkdir(parents=True)
        header.write_text("#include <stdint.h>\n")
        for name, value in (("installed_source_version", "1:7.2+dfsg-7"), ("source_tree", self.src)):
            patcher = mock.patch.object(plugin.qemu_build, name, return_value=value)
            patcher.start()
            self.addCleanup(patcher.stop)

    def test_missing_tools_are_named_with_their_packages(self):
        with mock.patch.object(plugin.shutil, "which", return_value=None):
            with self.assertRaises(PrerequisiteError) as cm:
                plugin.build(self.cache)
        self.assertIn("needs dpkg-dev and gcc", str(cm.exception))
        self.assertIn("apt-get install dpkg-dev gcc, or turn counting off", str(cm.exception))

    def test_without_the_system_qemu_there_is_no_header_to_build_against(self):
        with mock.patch.object(plugin.qemu_build, "installed_source_version",
                               side_effect=PrerequisiteError("not installed")):
            with self.assertRaises(PrerequisiteError) as cm:
                plugin.build(self.cache)
        self.assertIn("source of the installed qemu-system-x86, which is not installed here", str(cm.exception))
        self.assertIn("guest: {count_insns: false}", str(cm.exception))

    def test_gccs_error_is_quoted(self):
        with self.assertRaises(BuildError) as cm:  # the header lacks the plugin API
            plugin.build(self.cache)
        self.assertRegex(str(cm.exception), r"gcc cannot build the plugin .*insn_count\.c: .*error: .*qemu_plugin")
        self.assertFalse(list((self.cache / "plugins").glob("*/")))  # nothing half-made is cached


class SampleTest(unittest.TestCase):
    def test_host_speed_is_per_second_of_the_vcpu_threads_cpu_time(self):
        threads = {"CPU 0/TCG": 0.5, "CPU 1/TCG": 0.25, "qemu-system-x86": 0.2, "worker": 0.1}
        self.assertEqual(workload._host_speed(300_000_000, threads), 400_000_000)
        self.assertIsNone(workload._host_speed(None, threads))
        self.assertEqual(workload._host_speed(300, {"ALL CPUs/TCG": 1.5, "worker": 0.1}), 200)  # thread=single
        self.assertIsNone(workload._host_speed(300, {"CPU 0/KVM": 1.0, "qemu-system-x86": 0.1}))


class ConfigTest(unittest.TestCase):
    def test_counting_is_on_by_default_and_a_job_can_turn_it_off(self):
        path = Path(self.enterContext(tempfile.TemporaryDirectory())) / "job.yaml"
        path.write_text("base: {debian: linux-source-6.1}\n")
        self.assertTrue(loader.load(path).guest.count_insns)
        path.write_text("base: {debian: linux-source-6.1}\nguest: {count_insns: false}\n")
        self.assertFalse(loader.load(path).guest.count_insns)


if __name__ == "__main__":
    unittest.main()

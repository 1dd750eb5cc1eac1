"""Live migration with real QEMU: a ballooned guest carried on to its destination, and one the destination refuses.

The counterpart of tests/unit/test_migration.py's fakes.  A refusal is made by starting the destination with the
other machine type (``q35`` for a ``pc`` guest): QEMU starts, then cannot load the stream."""

import os
import tempfile
import unittest
from pathlib import Path

from harness import wait
from harness.errors import QMPError
from harness.run import balloon, functional
from harness.run.guest import Guest, State
from harness.units import MIB

from .common import base_build


def cmdline(proc):
    """A process's command line as bytes (empty once it has gone)."""
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def qemus_of(pids):
    """Those of ``pids`` still running."""
    return [pid for pid in pids if os.path.exists(f"/proc/{pid}")]


class MigrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.job, cls.kernel, cls.image, cls.cache = base_build()

    def guest(self):
        return Guest(self.kernel, self.image, self.job.guest, Path(tempfile.mkdtemp()), self.cache,
                     progress=lambda m: None)

    def test_a_ballooned_guest_is_carried_on_to_the_destination(self):
        with self.guest() as g:
            source, port = g.pid, g.port
            total_kb = functional.meminfo(g)["MemTotal"]
            target = (g.spec.memory_mib - 768) * MIB
            balloon.drive(g, target)
            done = g.migrate()
            self.assertNotEqual(g.pid, source)
            self.assertEqual(qemus_of([source]), [])
            self.assertNotEqual(g.port, port)
            self.assertEqual(g.qmp("query-status")["status"], "running")
            self.assertEqual(balloon.actual(g), target)  # QMP, and the balloon's size, on the destination
            self.assertEqual(functional.meminfo(g)["MemTotal"], total_kb - 768 * 1024)  # SSH, same pinned key
            self.assertNotIn(self.image.ready, g.console_text())  # the console is the destination's, not the boot's
            g.ssh_run(["sh", "-c", "echo after the migration > /dev/kmsg"])
            wait.until(lambda: "after the migration" in g.console_text(), 10, "the kernel's line on the console")
            self.assertEqual(done.parameters["max-bandwidth"], 1_250_000_000)
            self.assertGreater(done.total_ms, 0)
            self.assertGreater(done.transferred_bytes, 0)
            self.assertGreater(done.zero_pages, 0)
            balloon.drive(g, g.spec.memory_mib * MIB)  # the balloon still works there
            print(f"\nmigration of an idle {g.spec.memory_mib} MiB guest, its balloon holding 768 MiB: {done.line()}; "
                  f"{done.wall_s:.2f} s from migrate to the destination running")

    def test_a_destination_of_another_machine_type_is_named_and_both_qemus_end(self):
        with self.guest() as g:
            source = g.pid
            g.machine = "q35"  # the destination alone boots q35
            with self.assertRaises(QMPError) as caught:
                g.migrate()
            print(f"\n{caught.exception}")
            self.assertIn("migration: destination refused the stream", str(caught.exception))
            self.assertIn("Machine type received is 'pc-i440fx", str(caught.exception))
            self.assertIs(g.state, State.STOPPED)
            argv = (g.log_dir / "qemu-command.txt").read_text().split()  # the destination's
            incoming = argv[argv.index("-incoming") + 1]
            self.assertEqual(qemus_of([source]), [])
            self.assertEqual([p for p in Path("/proc").glob("[0-9]*") if incoming.encode() in cmdline(p)], [])

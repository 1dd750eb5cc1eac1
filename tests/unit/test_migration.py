"""Migration over QMP against small fake monitors; tests/integration/test_migration.py migrates real QEMUs."""

import unittest
from unittest import mock

from qemu.qmp import ExecuteError
from qemu.qmp.models import ErrorResponse

from harness.errors import HarnessError, QMPError
from harness.run import migration
from harness.run.guest import Guest, State
from harness.run.qemu_argv import _balloon


class FakeMonitor:
    """Answers QMP commands from ``answers`` (name -> a value, or a list of values given in turn, the last kept) and
    records every command; a value that is an exception is raised."""

    def __init__(self, **answers):
        self.answers = {name.replace("_", "-"): value for name, value in answers.items()}
        self.sent = []

    def cmd(self, name, **args):
        self.sent.append((name, args))
        value = self.answers.get(name, {})
        if isinstance(value, list):
            value = value.pop(0) if len(value) > 1 else value[0]
        if isinstance(value, BaseException):
            raise value
        return value


def active(sent):
    return {"status": "active", "ram": {"transferred": sent}}


COMPLETED = {"status": "completed", "total-time": 401, "downtime": 98, "setup-time": 3,
             "ram": {"transferred": 65011712, "duplicate": 509721, "normal": 15000}}


def run(source, destination=None, exited=lambda: None, **kw):
    destination = destination or FakeMonitor(query_status={"status": "running"})
    return migration.run(source, destination, "unix:/run/migrate.sock", exited, poll_s=0.001, **kw)


class RunTest(unittest.TestCase):
    def test_a_completed_migration_reports_what_qemu_said_and_what_was_set(self):
        source = FakeMonitor(query_migrate=[active(0), active(4096), COMPLETED])
        destination = FakeMonitor(query_status=[{"status": "inmigrate"}, {"status": "running"}])
        done = run(source, destination, parameters={"max-bandwidth": 1 << 20})
        self.assertEqual((done.total_ms, done.downtime_ms, done.setup_ms, done.transferred_bytes, done.zero_pages,
                          done.normal_pages), (401, 98, 3, 65011712, 509721, 15000))
        self.assertEqual(done.parameters, {"max-bandwidth": 1 << 20, "downtime-limit": 300})
        self.assertEqual(done.capabilities, {"auto-converge": False, "xbzrle": False})
        names = [name for name, _ in source.sent]
        self.assertEqual(names[:3], ["migrate-set-capabilities", "migrate-set-parameters", "migrate"])
        self.assertEqual(source.sent[2][1], {"uri": "unix:/run/migrate.sock"})
        self.assertEqual(source.sent[1][1], {"max-bandwidth": 1 << 20, "downtime-limit": 300})
        self.assertIn(("migrate-set-capabilities", {"capabilities": [{"capability": "auto-converge", "state": False},
                                                                     {"capability": "xbzrle", "state": False}]}),
                      destination.sent)
        self.assertEqual(done.record()["zero_pages"], 509721)
        self.assertIn("401 ms total, 98 ms downtime", done.line())

    def test_a_destination_that_ended_is_named_as_refusing_the_stream(self):
        source = FakeMonitor(query_migrate={"status": "failed", "error-desc": "Unable to write to socket"})
        with self.assertRaises(QMPError) as caught:
            run(source, exited=lambda: "QEMU exited with status 1: load of migration failed: Invalid argument")
        self.assertEqual(caught.exception.cause, "migration: destination refused the stream: QEMU exited with status "
                                                 "1: load of migration failed: Invalid argument")

    def test_a_destination_that_ends_just_after_the_source_fails_is_named_as_refusing_the_stream(self):
        source = FakeMonitor(query_migrate={"status": "failed", "error-desc": "Unable to write to socket: Broken pipe"})
        ends = iter([None, None, None, "QEMU exited with status 1: load of migration failed: Invalid argument"])
        with self.assertRaises(QMPError) as caught:
            run(source, exited=lambda: next(ends, "QEMU exited with status 1"))
        self.assertTrue(caught.exception.cause.startswith("migration: destination refused the stream: QEMU exited"))

    def test_a_failure_with_the_destination_running_names_the_source_and_its_error(self):
        source = FakeMonitor(query_migrate={"status": "failed", "error-desc": "Unable to write to socket"})
        with mock.patch.object(migration, "REFUSED_S", 0.05), self.assertRaises(QMPError) as caught:
            run(source)
        self.assertEqual(caught.exception.cause, "migration: source: failed: Unable to write to socket")

    def test_a_destination_that_ends_while_data_flows_is_named(self):
        source = FakeMonitor(query_migrate=active(4096))
        with self.assertRaises(QMPError) as caught:
            run(source, exited=lambda: "QEMU exited with status 1: killed")
        self.assertIn("destination: QEMU ended during the migration: QEMU exited with status 1", str(caught.exception))

    def test_a_stall_is_cancelled_and_named(self):
        source = FakeMonitor(query_migrate=[active(0), active(8192)])
        with self.assertRaises(QMPError) as caught:
            run(source, stall_s=0.05)
        self.assertEqual(source.sent[-1], ("migrate_cancel", {}))
        self.assertIn("migration: source: stalled: active, RAM transferred stayed at 8192 bytes for 0.05 s",
                      str(caught.exception))

    def test_a_migration_past_its_deadline_is_cancelled_and_named(self):
        source = FakeMonitor(query_migrate=[active(sent) for sent in range(0, 4096 * 100000, 4096)])
        with self.assertRaises(QMPError) as caught:
            run(source, timeout_s=0.05)
        self.assertEqual(source.sent[-1], ("migrate_cancel", {}))
        self.assertIn("migration: source: not completed within 0.05 s: active", str(caught.exception))

    def test_a_refused_command_names_its_side(self):
        error = {"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}}
        refused = ExecuteError(ErrorResponse(error), {"execute": "migrate-set-parameters"}, error)
        with self.assertRaises(QMPError) as caught:
            run(FakeMonitor(migrate_set_parameters=refused))
        self.assertEqual(caught.exception.cause, "migration: source: QMP migrate-set-parameters refused: Parameter 'x' "
                                                 "is unexpected")
        with self.assertRaises(QMPError) as caught:
            run(FakeMonitor(query_migrate=COMPLETED), FakeMonitor(query_status=EOFError()))
        self.assertEqual(caught.exception.cause, "migration: destination: QMP query-status failed: EOFError")

    def test_a_destination_that_does_not_run_after_completion_is_named(self):
        migration_running_s, migration.RUNNING_S = migration.RUNNING_S, 0.02
        try:
            with self.assertRaises(QMPError) as caught:
                run(FakeMonitor(query_migrate=COMPLETED), FakeMonitor(query_status={"status": "paused"}))
        finally:
            migration.RUNNING_S = migration_running_s
        self.assertIn("destination: the guest is paused, not running", str(caught.exception))


class DestinationTest(unittest.TestCase):
    def test_the_balloon_gets_the_iothread_it_names(self):
        argv = _balloon("pc", (("free-page-hint", "on"), ("iothread", "balloon-io")))
        self.assertEqual(argv, ["-object", "iothread,id=balloon-io", "-device",
                                "virtio-balloon-pci,id=balloon0,free-page-hint=on,iothread=balloon-io"])

    def test_a_guest_that_is_not_ready_does_not_migrate(self):
        guest = Guest.__new__(Guest)
        guest.state = State.CREATED
        with self.assertRaises(HarnessError) as caught:
            guest.migrate()
        self.assertEqual(caught.exception.cause, "guest is created; the operation needs it ready")

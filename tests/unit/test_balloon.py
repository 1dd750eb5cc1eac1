"""Balloon polling against a small fake QMP peer; tests/integration/test_guest.py drives the same code on QEMU."""

import unittest

from harness import balloon
from harness.errors import GuestError, QMPError


class FakeGuest:
    """Answers ``balloon`` and ``query-balloon`` like QEMU, moving ``actual`` by ``step`` per query."""

    def __init__(self, actual, step, stop_at=None):
        self.actual, self.step, self.stop_at, self.target = actual, step, stop_at, actual

    def qmp(self, name, **args):
        if name == "balloon":
            self.target = args["value"]
            return {}
        limit = self.target if self.stop_at is None else self.stop_at
        if self.actual != limit:
            move = min(self.step, abs(limit - self.actual))
            self.actual += move if limit > self.actual else -move
        return {"actual": self.actual}


class BalloonTest(unittest.TestCase):
    def test_drive_records_every_change_and_ends_exactly_at_target(self):
        g = FakeGuest(2048 << 20, 256 << 20)
        trace = balloon.drive(g, 512 << 20, poll_s=0)
        self.assertEqual(trace.points[-1][1], 512 << 20)
        self.assertEqual(len(trace.points), 7)  # the start and six steps of 256 MiB
        self.assertEqual(trace.from_bytes - trace.to_bytes, 1536 << 20)
        self.assertLessEqual(trace.time_to(0.5), trace.time_to(0.9))
        self.assertEqual(trace.time_to(1.0), trace.points[-1][0])

    def test_stuck_balloon_times_out_with_the_trace(self):
        g = FakeGuest(2048 << 20, 512 << 20, stop_at=1024 << 20)
        with self.assertRaises(GuestError) as cm:
            balloon.drive(g, 512 << 20, poll_s=0.001, timeout_s=0.05)
        self.assertIn("did not reach 512 MiB", str(cm.exception))
        self.assertIn("1024MiB", str(cm.exception))

    def test_reply_without_actual_is_rejected(self):
        class Broken:
            def qmp(self, name, **args):
                return {"unexpected": 1}
        with self.assertRaises(QMPError):
            balloon.actual(Broken())

    def test_time_to_on_a_trace(self):
        t = balloon.Trace(100, 0, ((0.0, 100), (0.1, 60), (0.2, 40), (0.3, 5), (0.4, 0)), 0.4)
        self.assertEqual(t.time_to(0.5), 0.2)
        self.assertEqual(t.time_to(0.9), 0.3)


if __name__ == "__main__":
    unittest.main()

"""Balloon timing against a small fake QMP peer that also writes QEMU's trace lines; tests/integration/test_guest.py
drives the same code on QEMU."""

import types
import unittest

from harness.errors import GuestError, QMPError
from harness.run import balloon


class FakeGuest:
    """Answers ``balloon`` and ``query-balloon`` like QEMU, moving ``actual`` by ``step`` per query (10 ms of trace
    time each: a request kicked at +2 ms, answered at +5 ms) and tracing the target, the requests and every
    ``actual`` as QEMU's log backend does; with ``counted`` the guest runs ``INSNS`` instructions per query."""

    RAM = 2048 << 20
    INSNS = 1000

    def __init__(self, actual, step, stop_at=None, counted=None):
        self.actual, self.step, self.stop_at, self.target = actual, step, stop_at, actual
        self.counted = counted
        self.spec = types.SimpleNamespace(memory_mib=self.RAM >> 20, count_discards=False)
        self.lines, self.read, self.clock = ["1@100.000000:virtio_balloon_set_config actual: 0 oldactual: 0"], 0, 100.0

    def qmp(self, name, **args):
        if name == "balloon":
            self.target = args["value"]
            self.lines.append(f"1@{self.clock:.6f}:virtio_balloon_to_target balloon target: "
                              f"{hex(self.target)} num_pages: {(self.RAM - self.target) >> 12}")
            return {}
        limit = self.target if self.stop_at is None else self.stop_at
        if self.counted is not None:
            self.counted += self.INSNS
        if self.actual != limit:
            move = min(self.step, abs(limit - self.actual))
            old = self.actual
            self.actual += move if limit > self.actual else -move
            n, vq = (0, "0x5610") if limit < old else (1, "0x5688")
            self.lines += [f"1@{self.clock + 0.002:.6f}:virtio_queue_notify vdev 0x5600 n {n} vq {vq}",
                           f"1@{self.clock + 0.005:.6f}:virtio_notify vdev 0x5600 vq {vq}"]
            self.clock += 0.01
            self.lines.append(f"1@{self.clock:.6f}:virtio_balloon_set_config actual: {(self.RAM - self.actual) >> 12} "
                              f"oldactual: {(self.RAM - old) >> 12}")
        return {"actual": self.actual}

    def trace_lines(self):
        new, self.read = self.lines[self.read:], len(self.lines)
        return new

    def insns(self):
        return self.counted


class BalloonTest(unittest.TestCase):
    def test_drive_records_every_change_and_ends_exactly_at_target(self):
        g = FakeGuest(2048 << 20, 256 << 20)
        trace = balloon.drive(g, 512 << 20, poll_s=0)
        self.assertEqual(trace.points[-1][1], 512 << 20)
        self.assertEqual(len(trace.points), 7)  # the start and six steps of 256 MiB
        self.assertEqual(trace.from_bytes - trace.to_bytes, 1536 << 20)
        self.assertAlmostEqual(trace.wall_s, 0.06, places=6)  # QEMU's clock, not the poller's
        self.assertLessEqual(trace.time_to(0.5), trace.time_to(0.9))
        self.assertEqual(trace.time_to(1.0), trace.points[-1][0])
        self.assertEqual(trace.phases, balloon.Phases(requests=6, host_s=0.018, wait_s=0.002))
        back = balloon.drive(g, 2048 << 20, poll_s=0)  # deflate: only this operation's lines count
        self.assertEqual((back.from_bytes, back.points[-1][1], len(back.points)), (512 << 20, 2048 << 20, 7))
        self.assertEqual(back.phases.requests, 6)

    def test_drive_counts_the_guests_instructions_from_the_command_to_the_target_where_counted(self):
        self.assertIsNone(balloon.drive(FakeGuest(2048 << 20, 256 << 20), 512 << 20, poll_s=0).insns)
        g = FakeGuest(2048 << 20, 256 << 20, counted=5)
        trace = balloon.drive(g, 512 << 20, poll_s=0)
        self.assertEqual(trace.insns, 6 * FakeGuest.INSNS)  # the six queries after the command, not the one before

    def test_phases_are_the_balloons_requests_among_every_devices(self):
        lines = ["7@10.000000:virtio_balloon_to_target balloon target: 0x40000000 num_pages: 262144",
                 "7@10.001000:virtio_queue_notify vdev 0xnet n 0 vq 0xnetrx",  # the network's rx queue is also 0
                 "7@10.004000:virtio_queue_notify vdev 0xb n 0 vq 0xbq0",
                 "7@10.004100:virtio_balloon_handle_range inflate 1 addr 0x1000000 len 0x200000",
                 "7@10.004200:ram_block_discard_range pc.ram@0x7f + 0x200000: madvise: 1 fallocate: 0 ret: 0",
                 "7@10.006000:virtio_notify vdev 0xb vq 0xbq0",
                 "7@10.007000:virtio_queue_notify vdev 0xb n 0 vq 0xbq0",
                 "7@10.007500:virtio_notify vdev 0xnet vq 0xnetrx",
                 "7@10.010000:virtio_notify vdev 0xb vq 0xbq0",
                 "7@10.012000:virtio_balloon_set_config actual: 262144 oldactual: 0",
                 "7@10.020000:virtio_queue_notify vdev 0xb n 0 vq 0xbq0"]  # after the target: the next operation's
        _, events = balloon.operation(lines)
        p = balloon.phases(events, "inflate", 0.012, counted=True)
        self.assertEqual((p.requests, p.ranges, p.discards), (2, 1, 1))
        self.assertAlmostEqual(p.host_s, 0.005)
        self.assertAlmostEqual(p.wait_s, 0.004)
        self.assertIsNone(balloon.phases(events, "inflate", 0.012).ranges)  # not traced: not counted
        self.assertIsNone(balloon.phases(events, "deflate", 0.012))  # no request on the deflate queue
        t = balloon.from_trace(lines, 2048 << 20, 2048 << 20, 1024 << 20)
        self.assertEqual(t.phases.requests, 2)

    def test_trace_lines_as_qemu_writes_them(self):
        lines = ["21124@1795774924.698358:qmp_enter_balloon {\"value\": 1610612736}",
                 "21124@1795774924.698481:virtio_balloon_to_target balloon target: 0x60000000 num_pages: 131072",
                 "21124@1795774924.712481:virtio_balloon_set_config actual: 65536 oldactual: 0",
                 "21124@1795774924.7",  # a line QEMU is still writing is never handed over, but is ignored
                 "21124@1795774924.798481:virtio_balloon_set_config actual: 131072 oldactual: 65536"]
        t = balloon.from_trace(lines, 2048 << 20, 2048 << 20, 1536 << 20)
        self.assertEqual(t.points, ((0.0, 2048 << 20), (0.014, 1792 << 20), (0.1, 1536 << 20)))
        self.assertAlmostEqual(t.wall_s, 0.1)
        with self.assertRaises(QMPError) as cm:
            balloon.from_trace(lines[2:], 2048 << 20, 2048 << 20, 1536 << 20)
        self.assertIn("log' trace backend", str(cm.exception))
        with self.assertRaises(QMPError):
            balloon.from_trace(lines[:3], 2048 << 20, 2048 << 20, 1536 << 20)

    def test_a_balloon_that_stops_moving_fails_once_stalled_with_its_distinct_trace_points(self):
        g = FakeGuest(2048 << 20, 512 << 20, stop_at=1024 << 20)
        with self.assertRaises(GuestError) as cm:
            balloon.drive(g, 512 << 20, poll_s=0.001, timeout_s=60, stall_s=0.05)
        text = str(cm.exception)
        self.assertIn("stalled: actual stayed at 1024 MiB for 0.", text)
        self.assertIn("from 1536 MiB towards 512 MiB", text)  # the fake moves once per query, the first too
        self.assertIn("1 change(s) of actual, the last: 1536 MiB at 0.00 s, 1024 MiB at 0.01 s", text)

    def test_a_balloon_that_never_starts_names_no_change(self):
        g = FakeGuest(2048 << 20, 512 << 20, stop_at=2048 << 20)
        with self.assertRaises(GuestError) as cm:
            balloon.drive(g, 512 << 20, poll_s=0.001, stall_s=0.05)
        self.assertIn("stayed at 2048 MiB", str(cm.exception))
        self.assertIn("target set at 0.00 s; 0 change(s) of actual", str(cm.exception))

    def test_a_slow_balloon_times_out(self):
        g = FakeGuest(2048 << 20, 1 << 20)
        with self.assertRaises(GuestError) as cm:
            balloon.drive(g, 512 << 20, poll_s=0.001, timeout_s=0.05)
        self.assertIn("did not arrive within 0 s", str(cm.exception))

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

"""``wait.until``: the first truthy value, polled; a timeout that names what was awaited and for how long."""

import time
import unittest

from harness import wait
from harness.errors import HarnessError, WaitTimeout


class UntilTest(unittest.TestCase):
    def test_polls_until_the_predicate_holds_and_returns_its_value(self):
        calls = []

        def third_time():
            calls.append(time.monotonic())
            return len(calls) >= 3 and {"seen": len(calls)}

        self.assertEqual(wait.until(third_time, 5, "the third call", poll_s=0.01), {"seen": 3})
        self.assertEqual(len(calls), 3)
        self.assertGreaterEqual(calls[2] - calls[0], 0.02)  # it slept between calls

    def test_a_value_at_the_first_call_returns_at_once(self):
        start = time.monotonic()
        self.assertEqual(wait.until(lambda: "ready", 5, "anything", poll_s=1), "ready")
        self.assertLess(time.monotonic() - start, 0.5)

    def test_a_timeout_names_what_and_how_long(self):
        calls = []
        start = time.monotonic()
        with self.assertRaises(WaitTimeout) as caught:
            wait.until(lambda: calls.append(1), 0.03, "the QMP socket", poll_s=0.005)
        self.assertGreaterEqual(time.monotonic() - start, 0.03)
        self.assertIsInstance(caught.exception, HarnessError)
        self.assertEqual(str(caught.exception), "timed out after 0.03 s waiting for the QMP socket")
        self.assertGreater(len(calls), 1)

    def test_a_negative_timeout_still_asks_once(self):
        with self.assertRaises(WaitTimeout):
            wait.until(lambda: 0, -1, "nothing")
        self.assertEqual(wait.until(lambda: 7, -1, "a value"), 7)

    def test_what_the_predicate_raises_propagates(self):
        def broken():
            raise HarnessError("QEMU exited")

        with self.assertRaisesRegex(HarnessError, "QEMU exited"):
            wait.until(broken, 5, "a dead guest")


if __name__ == "__main__":
    unittest.main()

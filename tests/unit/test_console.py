"""The first trouble line of a kernel console, as a reviewer needs it."""

import unittest

from harness.run import console

BUG_IN_PROBE = """\
[    1.201312] virtio_balloon virtio1: probing
[    1.202001] ------------[ cut here ]------------
[    1.202077] kernel BUG at drivers/virtio/virtio_balloon.c:867!
[    1.202145] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
[    1.202301] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1
[    1.202400] RIP: 0010:virtballoon_probe+0x1a/0x3c0
[    1.202500] Call Trace:
[    1.202555]  <TASK>
[    1.202600]  virtio_dev_probe+0x1a5/0x2a0
[    1.202700] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b
"""


class Printing:
    """A console the kernel is still writing: each read gives one more line of ``text``, up to all of it."""

    def __init__(self, text, shown):
        self.lines, self.shown = text.splitlines(keepends=True), shown

    def __call__(self):
        self.shown = min(self.shown + 1, len(self.lines))
        return "".join(self.lines[:self.shown])


class SettleTest(unittest.TestCase):
    def test_a_report_caught_before_its_rip_line_is_read_to_its_end(self):
        text = BUG_IN_PROBE.replace("Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b",
                                    "---[ end trace 0000000000000000 ]---")
        read = Printing(text, 4)  # read as far as "invalid opcode"
        early = read()
        self.assertEqual(console.first_trouble(early), "kernel BUG at drivers/virtio/virtio_balloon.c:867!")
        self.assertFalse(console.ended(early))
        settled = console.settle(early, read, poll_s=0)
        self.assertTrue(console.ended(settled))
        self.assertEqual(console.first_trouble(settled),
                         "kernel BUG at drivers/virtio/virtio_balloon.c:867! (RIP: virtballoon_probe+0x1a/0x3c0)")

    def test_a_report_without_an_end_line_settles_once_the_console_is_quiet(self):
        read = Printing(BUG_IN_PROBE, 100)  # all printed, no end line: the console stays as it is
        settled = console.settle(read(), read, poll_s=0.001, quiet_s=0.02)
        self.assertEqual(settled, BUG_IN_PROBE)
        self.assertTrue(console.ended("[    1.0] virtio_balloon virtio1: probing\n"))  # a clean log has no report


class ConsoleTest(unittest.TestCase):
    def test_bug_names_its_headline_and_faulting_function_not_the_call_trace(self):
        self.assertEqual(console.first_trouble(BUG_IN_PROBE),
                         "kernel BUG at drivers/virtio/virtio_balloon.c:867! (RIP: virtballoon_probe+0x1a/0x3c0)")

    def test_warning_before_a_later_panic_comes_first(self):
        text = ("[ 2.0] WARNING: CPU: 0 PID: 5 at mm/page_alloc.c:5 x\n[ 2.1] Call Trace:\n"
                "[ 3.0] Kernel panic - not syncing: oops\n")
        self.assertEqual(console.first_trouble(text), "WARNING: CPU: 0 PID: 5 at mm/page_alloc.c:5 x")

    def test_a_warning_that_names_its_function_gets_no_rip(self):
        text = ("[ 2.0] WARNING: CPU: 0 PID: 14 at drivers/virtio/virtio_balloon.c:212 "
                "update_balloon_size_func+0x54/0x1bf\n[ 2.0] RIP: 0010:update_balloon_size_func+0x54/0x1bf\n")
        self.assertEqual(console.first_trouble(text), "WARNING: CPU: 0 PID: 14 at drivers/virtio/virtio_balloon.c:212 "
                                                      "update_balloon_size_func+0x54/0x1bf")

    def test_sanitizer_reports_are_trouble(self):
        for line in ("BUG: KASAN: use-after-free in leak_balloon+0x10/0x20",
                     "UBSAN: shift-out-of-bounds in drivers/virtio/virtio_balloon.c:300:12"):
            self.assertEqual(console.first_trouble(f"ok\n[ 1.0] {line}\n"), line)

    def test_a_clean_console_has_no_trouble(self):
        text = ("[ 0.1] virtio_balloon virtio1: ready\nFreeing unused kernel image memory: 1000K\n"
                "balloon-harness ready\n")
        self.assertIsNone(console.first_trouble(text))
        self.assertEqual(console.trouble(text), [])

    def test_trouble_lists_every_report_line_in_order(self):
        self.assertEqual(console.trouble(BUG_IN_PROBE)[0], "kernel BUG at drivers/virtio/virtio_balloon.c:867!")
        self.assertIn("Call Trace:", console.trouble(BUG_IN_PROBE))


if __name__ == "__main__":
    unittest.main()

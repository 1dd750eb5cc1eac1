import os
import signal
import subprocess
import sys
import time
import unittest

from harness import command
from harness.command import Process
from harness.errors import CommandError


def gone(pid, within_s=5.0):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split()[2] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


class CommandTest(unittest.TestCase):
    def test_run_returns_a_result_and_raises_with_it(self):
        res = command.run(["sh", "-c", "echo out; echo err >&2"])
        self.assertEqual((res.rc, res.stdout, res.stderr), (0, "out\n", "err\n"))
        with self.assertRaises(CommandError) as cm:
            command.run(["sh", "-c", "echo broken >&2; exit 4"])
        self.assertEqual(cm.exception.result.rc, 4)
        self.assertIn("broken", str(cm.exception))

    def test_process_group_is_ended_on_exit_of_the_block(self):
        with Process(["sh", "-c", "sleep 60 & sleep 60"]) as p:
            pid = p.pid
        self.assertTrue(gone(pid))

    def test_child_dies_when_the_harness_process_is_killed(self):
        code = "from harness.command import Process; import time; p = Process(['sleep', '60']).start(); " \
               "print(p.pid, flush=True); time.sleep(60)"
        parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        child = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        self.assertTrue(gone(child), f"sleep {child} outlived its killed parent")


if __name__ == "__main__":
    unittest.main()

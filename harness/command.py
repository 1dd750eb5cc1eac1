"""Run commands and own the processes the harness starts.

``run`` executes an argument list (never a shell string) and returns a ``CommandResult``; ``check=True`` turns a
non-zero exit into a ``CommandError`` carrying that result.  ``Process`` starts a long-lived child (QEMU, sshd,
make) in its own process group and guarantees it is ended by pid on every exit path of its ``with`` block; the
child also gets SIGKILL from the kernel if the harness process itself dies (``PR_SET_PDEATHSIG``), so not even
a killed test runner leaves one behind.
"""

import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass

from harness.errors import CommandError

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """``preexec_fn``: have the kernel SIGKILL this child when the process that started it dies."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True)
class CommandResult:
    """What one finished command did."""

    argv: tuple
    rc: int
    stdout: str
    stderr: str
    duration_s: float


def run(argv, *, cwd=None, check=True, input=None, timeout=None, env=None, log=None):
    """Run ``argv`` to completion; append the command and its output to ``log`` (a path) when given."""
    start = time.perf_counter()
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, input=input, capture_output=True, text=True,
                          timeout=timeout, env=env, errors="replace", check=False)
    result = CommandResult(tuple(str(a) for a in argv), proc.returncode, proc.stdout, proc.stderr,
                           time.perf_counter() - start)
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"$ {' '.join(result.argv)}\n{result.stdout}{result.stderr}[rc={result.rc}]\n")
    if check and result.rc != 0:
        raise CommandError(result, log=log)
    return result


class Process:
    """A child process owned by a ``with`` block: started on entry, ended by pid (group) on exit."""

    def __init__(self, argv, *, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=None, env=None,
                 pass_fds=()):
        self.argv = [str(a) for a in argv]
        self._popen_args = dict(stdout=stdout, stderr=stderr, cwd=cwd, env=env, pass_fds=tuple(pass_fds))
        self.popen = None

    @property
    def pid(self):
        return self.popen.pid

    def start(self):
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, start_new_session=True,
                                      preexec_fn=die_with_parent, **self._popen_args)
        return self

    def poll(self):
        """The exit status, or None while running."""
        return self.popen.poll()

    def stop(self, grace_s=3.0):
        """End the process group: SIGTERM, then SIGKILL after ``grace_s``; always reaps."""
        if self.popen is None or self.popen.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

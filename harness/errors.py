"""The harness's one error hierarchy.

Every failure the harness can diagnose is a ``HarnessError``: a one-line cause, a hint saying what to do about it,
and the path of the log that shows more.  Library code raises these and never exits; the CLI catches the root
once, and the Avocado tests map the class to a result (see ``OUTCOME``).
"""


class HarnessError(Exception):
    """Root of the hierarchy: ``cause`` (one line), ``hint`` and ``log`` (a path, or None).  ``outcome`` is the
    Avocado result it maps to, ``stage`` where in the pipeline the kernel under test stopped (None: not its fault)."""

    outcome = "error"
    stage = None

    def __init__(self, cause, hint=None, log=None):
        super().__init__(cause)
        self.cause = cause
        self.hint = hint
        self.log = log

    def __str__(self):
        text = self.cause
        if self.hint:
            text += f" (hint: {self.hint})"
        if self.log:
            text += f" [log: {self.log}]"
        return text


class ConfigError(HarnessError):
    """A job configuration that cannot be used."""

    outcome = "cancel"


class PrerequisiteError(HarnessError):
    """Something the harness needs is not installed (a package, a binary, a source tree)."""

    outcome = "cancel"


class SeriesError(HarnessError):
    """A patch series that cannot be read or used as given."""

    outcome = "cancel"
    stage = "apply"


class ApplyError(HarnessError):
    """A series that does not apply to its base."""

    outcome = "fail"
    stage = "apply"


class BuildError(HarnessError):
    """A kernel (or QEMU) that does not build."""

    outcome = "fail"
    stage = "build"


class BootError(HarnessError):
    """A guest that did not come up (or misbehaved on its console)."""

    outcome = "fail"
    stage = "boot"


class GuestError(HarnessError):
    """The kernel under test misbehaved after boot: panic, oops, balloon stuck short of its target."""

    outcome = "fail"
    stage = "run"


class QMPError(HarnessError):
    """The QMP conversation with QEMU failed."""


class SSHError(HarnessError):
    """An SSH connection or command failed (guest or test host)."""


class HostError(HarnessError):
    """A command on the host running QEMU failed, or the host lacks something."""


def reason(exc):
    """What an exception says, or its class where it says nothing (``str`` of many socket errors is empty)."""
    return str(exc) or type(exc).__name__


class CommandError(HarnessError):
    """A command exited non-zero; ``result`` is its ``CommandResult``."""

    def __init__(self, result, hint=None, log=None):
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        cause = f"{' '.join(result.argv)} exited {result.rc}" + (f": {' | '.join(tail)}" if tail else "")
        super().__init__(cause, hint, log)
        self.result = result


class WaitTimeout(HarnessError):
    """Something awaited (``harness.wait.until``) did not come in time; callers usually say what that means."""

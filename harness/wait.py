"""The harness's one way to wait for something: poll a predicate until it holds or a deadline passes.

Only for waiting; what is timed (a balloon operation, a workload) keeps its own clock."""

import time

from harness.errors import WaitTimeout


def until(predicate, timeout_s, what, poll_s=0.05):
    """``predicate()``'s first truthy value (called at once, then every ``poll_s`` until ``timeout_s`` has passed),
    else ``WaitTimeout`` naming ``what`` and ``timeout_s``.  What ``predicate`` raises propagates."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout_s:.3g} s waiting for {what}")
        time.sleep(poll_s)
    return value

"""The kernel's own words on its console: which lines report trouble, and the first of them a reviewer needs.

``trouble`` lists the lines that report a warning, bug, oops, panic, sanitizer report, OOM kill or lockup, in
console order.  ``first_trouble`` names the first report's headline (``kernel BUG at …``, ``WARNING: … at …``,
``BUG: KASAN: …``, ``Kernel panic …``) rather than the ``Call Trace:`` or ``Modules linked in`` that follow it, with
the faulting function from the report's ``RIP:`` line when there is one.  A console read while the kernel is
still printing a report may end before its ``RIP:`` line: ``settle`` reads on until the report has ended.
"""

import re
import time

from harness import wait
from harness.errors import WaitTimeout

HEADLINE = re.compile(r"kernel BUG at|BUG:|WARNING:.* at |WARNING:|Oops|general protection fault|Kernel panic|"
                      r"UBSAN:|KASAN:|Out of memory|invoked oom-killer|soft lockup|hung_task|blocked for more than")
TROUBLE = re.compile(HEADLINE.pattern + r"|Call Trace:")
RIP = re.compile(r"RIP: [0-9a-f]{4}:(?P<where>\S+)")
TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s*")
END = "---[ end trace"  # the last line of a BUG, WARNING or Oops report
SETTLE_S = 5.0  # how long a report that has begun may take to reach its end
QUIET_S = 0.5   # a console silent this long has finished (not every report ends with END)


def trouble(text):
    """The lines of a kernel log that report trouble, stripped, in order."""
    return [_clean(line) for line in text.splitlines() if TROUBLE.search(line)]


def first_trouble(text):
    """The first trouble report's headline, with `` (RIP: function+off/len)`` where the report has one; None if
    the log is clean."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if HEADLINE.search(line):
            rip = next((m["where"] for l in lines[i + 1:i + 40] if (m := RIP.search(l))), None)
            return _clean(line) + (f" (RIP: {rip})" if rip and rip not in line else "")  # a WARNING names it
    found = trouble(text)
    return found[0] if found else None


def ended(text):
    """Whether the first trouble report of ``text`` has reached its end line (True for a clean log)."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if HEADLINE.search(line)), None)
    return first is None or any(END in line for line in lines[first + 1:])


def settle(text, read, poll_s=0.01, settle_s=SETTLE_S, quiet_s=QUIET_S):
    """``text``, or the console as ``read()`` gives it once its first report has ended: the end line printed, or
    the console silent for ``quiet_s``, or ``settle_s`` passed."""
    if ended(text):
        return text
    quiet = time.monotonic()

    def settled():
        nonlocal text, quiet
        now, text_now = time.monotonic(), read()
        if text_now != text:
            text, quiet = text_now, now
            return ended(text)
        return now - quiet >= quiet_s

    try:
        wait.until(settled, settle_s, "the console's first report to end", poll_s=poll_s)
    except WaitTimeout:
        pass  # settle_s passed: the report as it stands
    return text


def _clean(line):
    return TIMESTAMP.sub("", line.strip())

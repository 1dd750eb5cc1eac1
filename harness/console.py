"""The kernel's own words on its console: which lines report trouble, and the first of them a reviewer needs.

``trouble`` lists the lines that report a warning, bug, oops, panic, sanitizer report, OOM kill or lockup, in
console order.  ``first_trouble`` names the first report's headline (``kernel BUG at …``, ``WARNING: … at …``,
``BUG: KASAN: …``, ``Kernel panic …``) rather than the ``Call Trace:`` or ``Modules linked in`` that follow it, with
the faulting function from the report's ``RIP:`` line when there is one.
"""

import re

HEADLINE = re.compile(r"kernel BUG at|BUG:|WARNING:.* at |WARNING:|Oops|general protection fault|Kernel panic|"
                      r"UBSAN:|KASAN:|Out of memory|invoked oom-killer|soft lockup|hung_task|blocked for more than")
TROUBLE = re.compile(HEADLINE.pattern + r"|Call Trace:")
RIP = re.compile(r"RIP: [0-9a-f]{4}:(?P<where>\S+)")
TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s*")


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


def _clean(line):
    return TIMESTAMP.sub("", line.strip())

"""Parsers of a host's /proc text, read through a ``Host``: the TCP ports in use, the memory available, the CPU model.

Pure functions of the text, so a local and an SSH host parse it alike and the unit tests need no host.
"""

from harness.errors import HarnessError


def ports_in_use(text, listening=False):
    """The local ports of the sockets listed in ``/proc/net/tcp`` (and tcp6) text (only listening ones)."""
    ports = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[0].endswith(":") and (not listening or fields[3] == "0A"):
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def mem_available_mib(meminfo):
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) >> 10
    raise HarnessError("/proc/meminfo has no MemAvailable line")


def cpu_model(cpuinfo):
    """The ``model name`` of the first CPU in /proc/cpuinfo text, or None."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return None

"""Building blocks of the functional balloon checks: seeded targets, guest statistics, dmesg scans.

The checks in ``tests/balloon/functional.py`` ask whether a patched driver still behaves (as tp-qemu's
``balloon_check`` does); this module holds what they share and what can be tested without a guest.  Targets come
from a ``random.Random`` seeded with a recorded seed (tp-qemu draws them unseeded, so a failure cannot be
replayed), whole MiB between a floor (what the guest uses plus a buffer) and all its RAM.  Every text or QMP reply
is parsed into a small record that raises on a missing field; a guest whose view disagrees with the host's beyond
the stated tolerance raises ``GuestError`` (the kernel under test misbehaves: FAIL).
"""

import random
import secrets
from dataclasses import dataclass

from harness.errors import GuestError, HarnessError, QMPError
from harness.run.console import first_trouble

KINDS = ("evict", "enlarge", "evict-enlarge", "ratios")
RATIOS = (0.5, 0.75, 0.8)          # of the guest's RAM, as tp-qemu's expect_memory_ratio steps
MIN_FLOOR_MIB = 512                # tp-qemu's minmem: never balloon a guest below this
FLOOR_BUFFER_MIB = 256             # ... nor below what it uses plus this

MEMTOTAL_TOLERANCE_KB = 1024       # MemTotal moves by exactly what the balloon moved; 1 MiB of slack
STATS_TOTAL_TOLERANCE_KB = 1024    # stat-total-memory is MemTotal (both totalram_pages)
STATS_FREE_TOLERANCE_KB = 16 << 10  # stat-free/available-memory, stat-disk-caches vs /proc/meminfo: the larger of
STATS_FREE_TOLERANCE_FRACTION = 0.02  # 16 MiB and 2 % of MemTotal (tp-qemu: 10 % and 150 MiB)

STAT_UNSET = (1 << 64) - 1         # QEMU's value for a statistic the guest did not report
STAT_KEYS = ("stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-minor-faults", "stat-free-memory",
             "stat-total-memory", "stat-available-memory", "stat-disk-caches")
MEMINFO_KEYS = ("MemTotal", "MemFree", "MemAvailable", "Cached")


# targets -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """The balloon targets of one check: ``steps`` are (label, MiB the guest keeps) in order, ending at full."""

    kind: str
    seed: int
    full_mib: int
    floor_mib: int
    steps: tuple

    def record(self):
        return {"kind": self.kind, "seed": self.seed, "full_mib": self.full_mib, "floor_mib": self.floor_mib,
                "steps": [{"label": label, "target_mib": mib} for label, mib in self.steps]}


def new_seed():
    """A fresh seed (32 bits, so it is easy to pass back as ``-p seed=N``)."""
    return secrets.randbits(32)


def floor_mib(full_mib, memtotal_kb, available_kb):
    """The lowest target: what the guest uses now plus a buffer, and never under ``MIN_FLOOR_MIB``."""
    used_mib = -(-(memtotal_kb - available_kb) // 1024)
    floor = max(MIN_FLOOR_MIB, used_mib + FLOOR_BUFFER_MIB)
    if floor >= full_mib:
        raise HarnessError(f"a {full_mib} MiB guest using {used_mib} MiB leaves no room to balloon "
                           f"(floor {floor} MiB)", hint="give the guest more memory (guest: memory_mib)")
    return floor


def plan(kind, full_mib, floor, seed, count=3):
    """Targets for ``kind`` (one of ``KINDS``) drawn with ``random.Random(seed)``; the same seed, the same plan."""
    rng = random.Random(seed)
    steps = []
    if kind == "evict":
        for n, mib in enumerate(sorted(rng.sample(range(floor, full_mib), count), reverse=True), 1):
            steps.append((f"evict {n}", mib))
    elif kind == "enlarge":
        steps.append(("evict to floor", floor))
        for n, mib in enumerate(sorted(rng.sample(range(floor + 1, full_mib), count)), 1):
            steps.append((f"enlarge {n}", mib))
    elif kind == "evict-enlarge":
        now = full_mib
        for n in range(1, count + 1):
            now = rng.randrange(floor, now)
            steps.append((f"evict {n}", now))
            now = rng.randrange(now + 1, full_mib + 1)
            steps.append((f"enlarge {n}", now))
    elif kind == "ratios":
        for ratio in RATIOS:
            mib = int(full_mib * ratio)
            if mib < floor:
                raise HarnessError(f"ratio {ratio} of {full_mib} MiB is below the floor of {floor} MiB",
                                   hint="give the guest more memory (guest: memory_mib)")
            steps.append((f"ratio {ratio}", mib))
    else:
        raise HarnessError(f"unknown target plan {kind!r}", hint=f"one of {', '.join(KINDS)}")
    if not steps or steps[-1][1] != full_mib:
        steps.append(("reset to full", full_mib))
    return Plan(kind, seed, full_mib, floor, tuple(steps))


# the guest's view --------------------------------------------------------------------------------------------
def parse_meminfo(text):
    """``/proc/meminfo`` as {name: kB}; raises if a field the checks need is missing."""
    fields = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and rest.split():
            try:
                fields[name.strip()] = int(rest.split()[0])
            except ValueError:
                continue
    missing = [k for k in MEMINFO_KEYS if k not in fields]
    if missing:
        raise HarnessError(f"guest /proc/meminfo lacks {', '.join(missing)}")
    return fields


def parse_vmstat(text):
    """``/proc/vmstat`` as {name: count}."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def meminfo(guest):
    return parse_meminfo(guest.ssh_run(["cat", "/proc/meminfo"]).stdout)


def expect_memtotal(step, baseline_kb, now_kb, full_bytes, actual_bytes, tolerance_kb=MEMTOTAL_TOLERANCE_KB):
    """The guest's MemTotal must be down from its full-RAM ``baseline_kb`` by what the balloon holds."""
    ballooned_kb = (full_bytes - actual_bytes) >> 10
    seen_kb = baseline_kb - now_kb
    if abs(seen_kb - ballooned_kb) > tolerance_kb:
        raise GuestError(f"{step}: the balloon holds {ballooned_kb} kB but the guest's MemTotal is down "
                         f"{seen_kb} kB ({baseline_kb} -> {now_kb} kB; tolerance {tolerance_kb} kB)")
    return seen_kb - ballooned_kb


# guest statistics --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GuestStats:
    """QOM ``guest-stats`` of the balloon: ``last_update`` (host seconds since the epoch, 0 = never) and the
    statistics in bytes or counts, None where the guest reported none."""

    last_update: int
    stats: dict

    def kb(self, key):
        value = self.stats[key]
        return None if value is None else value >> 10


def parse_guest_stats(reply):
    """Validate a ``qom-get guest-stats`` reply into ``GuestStats``; raises QMPError on a malformed one."""
    if not isinstance(reply, dict) or not isinstance(reply.get("stats"), dict) \
            or not isinstance(reply.get("last-update"), int):
        raise QMPError(f"guest-stats reply lacks 'stats' or an integer 'last-update': {reply!r}")
    stats = {}
    for key in STAT_KEYS:
        value = reply["stats"].get(key)
        if not isinstance(value, int) or value < 0:
            raise QMPError(f"guest-stats reply has no integer {key!r}: {reply['stats']!r}")
        stats[key] = None if value == STAT_UNSET else value
    return GuestStats(reply["last-update"], stats)


def stats_tolerance_kb(memtotal_kb):
    return max(STATS_FREE_TOLERANCE_KB, int(STATS_FREE_TOLERANCE_FRACTION * memtotal_kb))


@dataclass(frozen=True)
class Comparison:
    """One statistic against the guest's own view: ``qmp`` and ``guest`` values, ``tolerance`` and ``ok``."""

    stat: str
    source: str
    qmp: int
    guest: int
    tolerance: int
    unit: str
    ok: bool

    def line(self):
        return (f"{self.stat} {self.qmp} {self.unit} vs {self.source} {self.guest} {self.unit} "
                f"(tolerance {self.tolerance} {self.unit}): {'ok' if self.ok else 'MISMATCH'}")


def compare_stats(stats, mem, vmstat):
    """Compare ``GuestStats`` with /proc/meminfo (kB) and /proc/vmstat read just after them."""
    loose = stats_tolerance_kb(mem["MemTotal"])
    out = []
    for key, field, tol in (("stat-total-memory", "MemTotal", STATS_TOTAL_TOLERANCE_KB),
                            ("stat-free-memory", "MemFree", loose),
                            ("stat-available-memory", "MemAvailable", loose),
                            ("stat-disk-caches", "Cached", loose)):
        value = stats.kb(key)
        if value is None:
            raise GuestError(f"the guest reported no {key}")
        out.append(Comparison(key, f"/proc/meminfo {field}", value, mem[field], tol, "kB",
                              abs(value - mem[field]) <= tol))
    for key, field in (("stat-minor-faults", "pgfault"), ("stat-major-faults", "pgmajfault")):
        value = stats.stats[key]
        if value is None or field not in vmstat:
            raise GuestError(f"the guest reported no {key} (CONFIG_VM_EVENT_COUNTERS off?)")
        # the statistic was sampled before /proc/vmstat was read: it may lag it, never pass it
        out.append(Comparison(key, f"/proc/vmstat {field} (read later)", value, vmstat[field], 0, "events",
                              value <= vmstat[field] and (key != "stat-minor-faults" or value > 0)))
    return out


# dmesg -------------------------------------------------------------------------------------------------------
def expect_clean(where, text, log=None):
    """Raise GuestError naming the first trouble report of a kernel log, if any."""
    first = first_trouble(text)
    if first:
        raise GuestError(f"kernel log ({where}) reports trouble: {first}", log=log)

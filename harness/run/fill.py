"""Use the guest's free memory once, so that the host has it populated: what an inflate must then give back.

A guest that has only booted has touched little of its RAM, and QEMU's anonymous RAM is populated on first touch,
so an inflate of an idle guest discards memory the host never had (the madvise is a system call, not a page-table
zap and a free).  ``fill`` writes the guest's free memory, less a margin, into a tmpfs of its own and unmounts it:
the pages are back on the guest's free lists, written, and resident in QEMU.  It runs over SSH before an inflate,
outside the timed window; the guest's page cache and slabs are left as they were.
"""

from harness.errors import GuestError

MARGIN_MIB = 64         # left unwritten, so the guest's own allocations never meet a full memory
MARGIN_FRACTION = 0.03  # ... or this share of the guest's free memory, if larger
MOUNT = "/run/bh-fill"
TIMEOUT_S = 600.0       # 7 GiB under TCG takes about a minute


def amount_mib(memfree_kb):
    """How much of ``memfree_kb`` kB of free memory a fill writes, in MiB."""
    free_mib = memfree_kb >> 10
    return max(0, free_mib - max(MARGIN_MIB, int(free_mib * MARGIN_FRACTION)))


def fill(ssh):
    """Write the guest's free memory (less the margin) and free it again; return the MiB written."""
    mib = amount_mib(_memfree_kb(ssh.run(["cat", "/proc/meminfo"]).stdout))
    script = (f"mkdir -p {MOUNT} && mount -t tmpfs -o size={mib}m bh-fill {MOUNT} && "
              f"dd if=/dev/zero of={MOUNT}/fill bs=1M count={mib} 2>&1; status=$?; umount {MOUNT}; exit $status")
    out = ssh.run(["sh", "-c", script], check=False, timeout=TIMEOUT_S)
    if out.rc != 0:
        raise GuestError(f"filling {mib} MiB of the guest's free memory failed (exit {out.rc}): "
                         f"{(out.stdout + out.stderr).strip()[-300:]}")
    return mib


def _memfree_kb(meminfo):
    for line in meminfo.splitlines():
        if line.startswith("MemFree:"):
            return int(line.split()[1])
    raise GuestError("the guest's /proc/meminfo has no MemFree line")

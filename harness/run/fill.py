"""Use the guest's free memory once, so that the host has it populated: what an inflate must then give back.

A guest that has only booted has touched little of its RAM, and QEMU's anonymous RAM is populated on first touch,
so an inflate of an idle guest discards memory the host never had (the madvise is a system call, not a page-table
zap and a free).  ``fill`` writes the guest's free memory, less a margin, into a tmpfs of its own and unmounts it:
the pages are back on the guest's free lists, written (not with zeros: see ``SCRIPT``), and resident in QEMU.  It
runs over SSH before an inflate or a migration, outside the timed window; the guest's page cache and slabs are left
as they were.
"""

from harness.errors import GuestError

MARGIN_MIB = 64         # left unwritten, so the guest's own allocations never meet a full memory
MARGIN_FRACTION = 0.03  # ... or this share of the guest's free memory, if larger
MOUNT = "/run/bh-fill"
BLOCK_MIB = 16          # memory is written as copies of a block this large
# $1 the mount point, $2 its size in MiB, $3 the copies of the block to write beside it.  The block is not zero
# ('b' made by tr): a guest's used memory is not, and a live migration sends zero pages as flags.
SCRIPT = r"""dir=$1 size=$2 copies=$3
mkdir -p "$dir" && mount -t tmpfs -o size="$size"m bh-fill "$dir" || exit
{ head -c 1048576 /dev/zero | tr '\0' b > "$dir/1m" &&
  for i in $(seq 16); do cat "$dir/1m"; done > "$dir/block" && rm "$dir/1m" &&
  set -- && for i in $(seq "$copies"); do set -- "$@" "$dir/block"; done &&
  cat "$@" > "$dir/fill"; } 2>&1
status=$?; umount "$dir"; exit $status"""
TIMEOUT_S = 600.0       # 7 GiB under TCG takes about a minute


def amount_mib(free_kb):
    """How much of ``free_kb`` kB of free memory a fill writes, in MiB."""
    free_mib = free_kb >> 10
    return max(0, free_mib - max(MARGIN_MIB, int(free_mib * MARGIN_FRACTION)))


def fill(ssh):
    """Write the guest's free memory (less the margin) and free it again; return the MiB written (0 where less
    than two blocks are free)."""
    mib = amount_mib(memfree_kb(ssh.run(["cat", "/proc/meminfo"]).stdout))
    copies = mib // BLOCK_MIB - 1
    if copies < 1:
        return 0
    run_script(ssh, SCRIPT, ("fill", MOUNT, mib, copies), TIMEOUT_S, f"filling {mib} MiB of the guest's free memory")
    return mib


def run_script(ssh, script, args, timeout_s, what):
    """Run the shell ``script`` with ``args`` in the guest; a failure raises GuestError saying ``what`` failed, with
    its exit status and the last of its output."""
    out = ssh.run(["sh", "-c", script, *(str(a) for a in args)], check=False, timeout=timeout_s)
    if out.rc != 0:
        raise GuestError(f"{what} failed (exit {out.rc}): {(out.stdout + out.stderr).strip()[-300:]}")


def memfree_kb(meminfo):
    """MemFree of a guest's /proc/meminfo text, in kB."""
    for line in meminfo.splitlines():
        if line.startswith("MemFree:"):
            return int(line.split()[1])
    raise GuestError("the guest's /proc/meminfo has no MemFree line")

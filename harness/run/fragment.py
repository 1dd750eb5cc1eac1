"""Cut the guest's free memory into single pages, so that an inflate finds few free 2 MiB blocks.

``fragment`` mounts a tmpfs and fills all but ``KEEP_MIB`` of the guest's free memory with one file (occupied, and
kept), then writes ``PAGES`` one-page files and deletes every other one: what is left free is ~``PAGES``/2 single
pages between occupied ones, beside what the small files did not reach.  It runs once after boot, over SSH; the
files stay until the guest ends.  The balloon's inflate then meets what a long-running guest offers: an allocator
with few free high-order blocks, where a driver that asks for them pays for compaction or falls back.
"""

from harness.run.fill import memfree_kb, run_script

KEEP_MIB = 700    # free memory left beside the big file, for the one-page files and the guest
PAGES = 100_000   # one-page files written; every other one is deleted
MOUNT = "/run/bh-fragment"
TIMEOUT_S = 1500.0  # ~50 s under TCG
SCRIPT = r"""dir=$1 big=$2 pages=$3
mkdir -p "$dir" && mount -t tmpfs -o size=100% bh-fragment "$dir" && mkdir "$dir/pages" || exit
{ dd if=/dev/zero of="$dir/big" bs=1M count="$big" && cd "$dir/pages" && i=0 &&
  while [ $i -lt "$pages" ]; do echo > $i; i=$((i + 1)); done &&
  find . -name '*[02468]' | xargs rm -f; } 2>&1"""


def fragment(ssh):
    """Fragment the guest's free memory; return the MiB the big file took."""
    big = max(0, (memfree_kb(ssh.run(["cat", "/proc/meminfo"]).stdout) >> 10) - KEEP_MIB)
    run_script(ssh, SCRIPT, ("fragment", MOUNT, big, PAGES), TIMEOUT_S,
               f"fragmenting the guest's free memory ({big} MiB file, {PAGES} one-page files)")
    return big

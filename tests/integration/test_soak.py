"""Soak in CI: 50 inflate/deflate cycles on one guest (benchmarks/soak.py runs the 1000-cycle target)."""

import tempfile
import unittest
from pathlib import Path

from harness.run import workload
from harness.run.accounting import guest_snapshot
from harness.run.guest import Guest

from .common import base_build

CYCLES = 50
RSS_SLACK_KB = 16 << 10


class SoakTest(unittest.TestCase):
    def test_memtotal_restored_and_qemu_rss_flat(self):
        job, kernel, image, cache_dir = base_build()
        with Guest(kernel, image, job.guest, Path(tempfile.mkdtemp()), cache_dir, progress=lambda m: None) as g:
            first = guest_snapshot(g.ssh).memtotal_kb
            rows = workload.soak(g, job.workload, CYCLES, progress=lambda m: None)
        self.assertEqual({r["memtotal_kb"] for r in rows}, {first})
        early = max(r["qemu_rss_kb"] for r in rows[:10])
        late = max(r["qemu_rss_kb"] for r in rows[-10:])
        self.assertLessEqual(late, early + RSS_SLACK_KB, f"QEMU RSS grew from {early} to {late} kB")


if __name__ == "__main__":
    unittest.main()

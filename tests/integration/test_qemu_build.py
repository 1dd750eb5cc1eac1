"""QEMU from the Debian source package: fetched through the harness's own deb-src lists, and a series that does
not apply is refused, naming the patch, before any build starts.  (The full build and a job on the built QEMU
run in ``make matrix``: ten minutes of two cores is too long for ``make check``.)"""

import tempfile
import time
import unittest
from pathlib import Path

from harness import cache
from harness.build import qemu_build
from harness.config.specs import QemuSpec
from harness.errors import ApplyError

PATCH = """\
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: balloon-harness <balloon-harness@localhost>
Date: Fri, 27 Nov 2026 10:00:00 +0000
Subject: [PATCH] virtio-balloon: a hunk whose context is not in this QEMU

---
 hw/virtio/virtio-balloon.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/hw/virtio/virtio-balloon.c b/hw/virtio/virtio-balloon.c
--- a/hw/virtio/virtio-balloon.c
+++ b/hw/virtio/virtio-balloon.c
@@ -79,3 +79,3 @@
 static void balloon_inflate_page_that_never_was(VirtIOBalloon *balloon)
-    int old_line_not_here;
+    int new_line;
 }
-- 
2.39.5
"""


class QemuSourceTest(unittest.TestCase):
    def test_series_that_does_not_apply_is_named_before_any_build(self):
        series = Path(tempfile.mkdtemp()) / "broken"
        series.mkdir()
        (series / "0001-virtio-balloon-broken.patch").write_text(PATCH)
        cache_dir = cache.root()
        start = time.perf_counter()
        with self.assertRaises(ApplyError) as cm:
            qemu_build.build(QemuSpec("debian", series), cache_dir, progress=lambda m: None)
        self.assertLess(time.perf_counter() - start, 300)  # fetch and unpack at most: no configure, no ninja
        self.assertIn("virtio-balloon: a hunk whose context", str(cm.exception))  # the patch, by its subject
        self.assertIn("conflict: hw/virtio/virtio-balloon.c: hunk @@ -79,3 +79,3 @@ fails", str(cm.exception))
        version = qemu_build.installed_source_version()
        src = cache_dir / "qemu-src" / cache.digest(qemu_build.SOURCE_PACKAGE, version) / "src"
        upstream = (src / "VERSION").read_text().strip()
        self.assertTrue(version.split(":")[-1].startswith(upstream.rsplit(".", 1)[0]), (version, upstream))
        self.assertTrue((src / "debian" / "patches" / "series").exists())  # dpkg-source applied Debian's patches


if __name__ == "__main__":
    unittest.main()

"""The HTML report in a real browser: headless Chromium renders the verdict table and every SVG plot."""

import shutil
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import report

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVIL = "<b>$(touch /tmp/x)</b>"


def document():
    """Two variants, 2 boots × 3 cycles (the first a warm-up), with an ``actual`` trace per inflate."""
    samples, traces = [], []
    for name, speed in (("base", 1.0), (EVIL, 0.8)):
        for boot, cycle in ((b, c) for b in (1, 2) for c in (1, 2, 3)):
            j = 0.002 * (3 * boot + cycle)
            samples += [{"variant": name, "boot": boot, "cycle": cycle, "op": op, "warmup": cycle == 1,
                         "wall_s": 0.4 * k + j, "t50_s": 0.2 * k + j, "t90_s": 0.35 * k + j,
                         "qemu_cpu_s": 0.4 / k + j, "guest_cpu_s": 0.1 + j}
                        for op, k in (("inflate", speed), ("deflate", 1.0))]
            traces.append({"variant": name, "boot": boot, "cycle": cycle, "op": "inflate",
                           "points": [[i * 0.04 * speed, (2048 - 153.6 * i) * 2 ** 20] for i in range(11)]})
    kernel = {"release": "6.1.192", "config_sha256": "5a5146acb3a7b0aa", "bzimage_sha256": "0" * 64}
    return {"schema": 1, "job": {"host": "vm", "accel": "tcg"}, "samples": samples, "traces": traces,
            "variants": [{"name": n, "series": [], "kernel": kernel} for n in ("base", EVIL)]}


def png_size(path):
    """(width, height) from a PNG's IHDR chunk."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


@unittest.skipUnless(CHROMIUM, "needs headless Chromium (Debian package 'chromium')")
class ReportBrowserTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(self.enterContext(tempfile.TemporaryDirectory()))
        page = self.dir / "report.html"
        data = document()
        page.write_text(report.html(data, report.comparisons(data)))
        self.url = page.as_uri()

    def chromium(self, *args):
        """Run Chromium on the report with a fresh profile; the timeout kills it if it hangs."""
        profile = tempfile.mkdtemp(dir=self.dir)
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, self.url],
                              capture_output=True, text=True, timeout=120, check=True)

    def test_dom_holds_the_verdict_table_and_the_plots(self):
        dom = self.chromium("--dump-dom").stdout
        self.assertIn('<table id="verdicts">', dom)
        self.assertIn('<span class="verdict better">faster</span>', dom)
        self.assertEqual(dom.count("<svg "), 2 * 5 + 1)
        self.assertIn("&lt;b&gt;$(touch /tmp/x)&lt;/b&gt;", dom)
        self.assertNotIn("<b>$(touch", dom)

    def test_screenshot_is_a_full_page_not_a_blank_one(self):
        png = self.dir / "report.png"
        self.chromium(f"--screenshot={png}", "--window-size=1280,2400")
        self.assertEqual(png_size(png), (1280, 2400))
        self.assertGreater(png.stat().st_size, 60_000)   # a blank page of this size is ~14 KB

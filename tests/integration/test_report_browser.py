"""A real job of the base and four broken variants, and its report in a real browser.

One Avocado job, 1 boot × 2 cycles each: the base, a series that breaks the build, one that hits
``BUG()`` in probe, one whose inflate never starts, and one whose inflate sleeps after every batch.  Every variant
must appear in every output with its outcome and the line a reviewer needs, the slowed one must never read "no
significant change", Avocado's JUnit XML and TAP must say the same as read by junitparser and tap.py, and headless
Chromium must render the report with all five.
"""

import json
import shutil
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

import junitparser
import tap.parser

from . import avocado_job
from .common import base_build

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
JOB = """\
base: {debian: linux-source-6.1}
kernel: {fragments: [configs/kernel/balloon.config]}
guest: {memory_mib: 2048, accel: auto}
workload: {target_mib: 512, warmup: 0, cycles: 2}
variants: !mux
  base: {variant: base}
  broken: {variant: broken, series: patches/faults/build-break}
  probe-bug: {variant: probe-bug, series: patches/faults/bug-in-probe}
  never: {variant: never, series: patches/faults/never-inflates}
  paced: {variant: paced, series: patches/faults/slow-inflate}
"""


def png_size(path):
    """(width, height) from a PNG's IHDR chunk."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


class FailingVariantsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        base_build()
        cls.console, cls.tests, cls.job = avocado_job.run(JOB, timeout=1500, cleanup=cls.addClassCleanup)
        cls.doc = json.loads((cls.job / "balloon" / "results.json").read_text())
        variant = {o["test"]: o["variant"] for o in cls.doc["outcomes"]}
        cls.by = {variant[t["id"]]: t for t in cls.tests}

    def test_each_variant_ends_with_the_line_a_reviewer_needs(self):
        self.assertEqual(self.by["base"]["status"], "PASS", self.by["base"]["fail_reason"])
        self.assertEqual(self.by["paced"]["status"], "PASS", self.by["paced"]["fail_reason"])
        broken, bug, never = self.by["broken"], self.by["probe-bug"], self.by["never"]
        self.assertEqual((broken["status"], bug["status"], never["status"]), ("FAIL", "FAIL", "FAIL"))
        self.assertIn("balloon_harness_undeclared", broken["fail_reason"])
        self.assertRegex(bug["fail_reason"], r"kernel BUG at drivers/virtio/virtio_balloon\.c:\d+! "
                                             r"\(RIP: virtballoon_probe\+")
        self.assertIn("stalled: actual stayed at 2048 MiB for 1", never["fail_reason"])
        self.assertIn("0 change(s) of actual", never["fail_reason"])

    def test_every_variant_is_in_results_json_and_the_console(self):
        names = ["base", "broken", "probe-bug", "never", "paced"]
        self.assertEqual([v["name"] for v in self.doc["variants"]], names)
        outcome = {o["variant"]: o for o in self.doc["outcomes"]}
        self.assertEqual({v: outcome[v]["status"] for v in names},
                         {"base": "PASS", "broken": "FAIL", "probe-bug": "FAIL", "never": "FAIL", "paced": "PASS"})
        self.assertEqual((outcome["broken"]["stage"], outcome["probe-bug"]["stage"], outcome["never"]["stage"]),
                         ("build", "boot", "run"))  # the BUG() stops the boot; the stall, a running guest
        self.assertRegex(outcome["probe-bug"]["trouble"], r"^kernel BUG at drivers/virtio/virtio_balloon\.c")
        self.assertIn("3 of 5 variant(s) did not pass: broken FAIL in benchmark; probe-bug FAIL in benchmark; "
                      "never FAIL in benchmark", self.console)
        for name in ("broken", "probe-bug", "never"):
            self.assertIn(f"{name}: not measured (FAIL: ", self.console)

    def test_the_paced_inflate_never_reads_no_significant_change(self):
        (c,) = [c for c in self.doc["comparisons"] if (c["variant"], c["op"], c["metric"]) == ("paced", "inflate",
                                                                                              "wall_s")]
        self.assertEqual(c["verdict"], "inconclusive: 1 boot(s) a side, needs ≥ 3")
        self.assertGreater(c["ratio"], 2)

    def test_avocados_junit_and_tap_say_the_same_read_by_their_own_libraries(self):
        xml = junitparser.JUnitXml.fromfile(str(self.job / "results.xml"))
        cases = [case for suite in (xml if isinstance(xml, junitparser.JUnitXml) else [xml]) for case in suite]
        self.assertEqual(len(cases), 5)
        self.assertEqual(sum(any(isinstance(r, junitparser.Failure) for r in c.result) for c in cases), 3)
        lines = [line for line in tap.parser.Parser().parse_file(str(self.job / "results.tap"))
                 if line.category == "test"]
        self.assertEqual(len(lines), 5)
        self.assertEqual(sorted(line.ok for line in lines), [False, False, False, True, True])

    @unittest.skipUnless(CHROMIUM, "needs headless Chromium (Debian package 'chromium')")
    def test_chromium_renders_all_five_with_their_outcomes(self):
        page = self.job / "balloon" / "report.html"
        profile = tempfile.mkdtemp()
        dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        self.assertIn("3 of 5 variant(s) did not pass", dom)
        rows = dom.split('<table id="outcomes">')[1].split("</table>")[0]
        for name, status in (("base", "PASS"), ("broken", "FAIL"), ("probe-bug", "FAIL"), ("never", "FAIL"),
                             ("paced", "PASS")):
            self.assertRegex(rows, rf"</span>{name}</td>\s*<td><span class=\"verdict \w+\">{status}</span>")
        self.assertIn("balloon_harness_undeclared", rows)
        self.assertIn("kernel BUG at drivers/virtio/virtio_balloon.c", rows)
        self.assertEqual(dom.count("not measured: FAIL"), 3)
        png = self.job / "balloon" / "report.png"
        subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tempfile.mkdtemp()}", f"--screenshot={png}",
                        "--window-size=1280,1600", page.as_uri()], capture_output=True, timeout=120, check=True)
        self.assertEqual(png_size(png), (1280, 1600))
        self.assertGreater(png.stat().st_size, 60_000)   # a blank page of this size is ~10 KB


if __name__ == "__main__":
    unittest.main()

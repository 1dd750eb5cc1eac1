import contextlib
import io
import tempfile
import unittest
from pathlib import Path

from harness import cli, plots, report, results
from harness.avocado_plugin import finish

EVIL = "<b>$(touch /tmp/x)</b>"
PATCH = "virtio_balloon: batch 4096 PFNs & <more>"


def document():
    """Two variants, 2 boots × 3 cycles (the first a warm-up): the second inflates faster and burns more QEMU CPU."""
    samples, traces = [], []
    for name, speed in (("base", 1.0), (EVIL, 0.8)):
        for boot in (1, 2):
            for cycle in (1, 2, 3):
                j = 0.002 * (3 * boot + cycle)
                for op, k in (("inflate", speed), ("deflate", 1.0)):
                    samples.append({"variant": name, "boot": boot, "cycle": cycle, "op": op, "warmup": cycle == 1,
                                    "wall_s": 0.4 * k + j, "t50_s": 0.2 * k + j, "t90_s": 0.35 * k + j,
                                    "qemu_cpu_s": 0.4 / k + j, "guest_cpu_s": 0.1 + j})
                traces.append({"variant": name, "boot": boot, "cycle": cycle, "op": "inflate",
                               "points": [[i * 0.04 * speed, (2048 - 153.6 * i) * 2 ** 20] for i in range(11)]})
    kernel = {"release": "6.1.192", "config_sha256": "5a5146acb3a7b0aa", "bzimage_sha256": "606148d4d1dacbdc" + "0" * 48}
    variants = [{"name": "base", "series": [], "kernel": kernel},
                {"name": EVIL, "series": [PATCH], "kernel": {**kernel, "bzimage_sha256": "ca9b4d15da85f15f" + "1" * 48}}]
    job = {"dir": "/results/job-1", "host": "vm", "qemu_version": "7.2.22", "accel": "tcg", "memory_mib": 2048,
           "cpus": 1}
    return {"schema": 1, "job": job, "variants": variants, "samples": samples, "traces": traces}


class ReportHtmlTest(unittest.TestCase):
    def setUp(self):
        self.doc = document()
        self.comps = report.comparisons(self.doc)
        self.html = report.html(self.doc, self.comps)

    def test_verdicts_carry_the_numbers_of_the_console_table(self):
        verdicts = {(c.op, c.metric): c.verdict for c in self.comps}
        self.assertEqual(verdicts[("inflate", "wall_s")], "faster")
        self.assertEqual(verdicts[("inflate", "qemu_cpu_s")], "more CPU")
        self.assertEqual(verdicts[("deflate", "wall_s")], "no significant change")
        text = report.table(self.doc, self.comps)
        for c in self.comps:
            self.assertIn(report.change_text(c), text)
            self.assertIn(report.change_text(c), self.html)
            self.assertIn(f"{c.p:.3g}", self.html)
            self.assertIn(f"±{c.detectable * 100:.1f} %", self.html)
        for tone, word in (("better", "faster"), ("worse", "more CPU"), ("same", "no significant change")):
            self.assertIn(f'<span class="verdict {tone}">{word}</span>', self.html)

    def test_identity_and_job_facts(self):
        for text in ("6.1.192", "5a5146acb3a7b0aa", "606148d4d1dacbdc", "ca9b4d15da85f15f", "7.2.22", "tcg",
                     "virtio_balloon: batch 4096 PFNs &amp; &lt;more&gt;", "2048 MiB, 1 vCPU"):
            self.assertIn(text, self.html)

    def test_names_from_configs_render_as_text(self):
        self.assertIn("&lt;b&gt;$(touch /tmp/x)&lt;/b&gt;", self.html)
        self.assertNotIn("<b>$(touch", self.html)
        self.assertNotIn("<more>", self.html)

    def test_one_strip_plot_per_op_and_metric_and_one_trace_plot(self):
        self.assertEqual(self.html.count("<svg "), 2 * 5 + 1)
        self.assertIn("base (boot 1, cycle 2)", self.html)   # the first measured inflate, not the warm-up

    def test_range_diff_only_when_present(self):
        self.assertNotIn("range-diff", self.html)
        html = report.html({**self.doc, "range_diff": {EVIL: "1:  abc = 1:  def <script>x</script>"}}, self.comps)
        self.assertIn("Series range-diff", html)
        self.assertIn("&lt;script&gt;x&lt;/script&gt;", html)

    def test_ticks_cover_the_range_with_round_steps(self):
        self.assertEqual(plots.ticks(0.683, 0.741), [0.68, 0.7, 0.72, 0.74, 0.76])
        self.assertEqual(plots.ticks(0.7, 0.7)[0], 0.66)


class ReportFilesTest(unittest.TestCase):
    def setUp(self):
        self.job = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def test_cli_writes_the_report_and_prints_its_path(self):
        results.write_json(self.job / "balloon" / "results.json", document())
        for argv, path in ((["report", str(self.job)], self.job / "balloon" / "report.html"),
                           (["report", str(self.job), "-o", str(self.job / "r.html")], self.job / "r.html")):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                self.assertEqual(cli.main(argv), 0)
            self.assertEqual(out.getvalue(), f"{path}\n")
            self.assertIn("faster", path.read_text())

    def test_job_end_plugin_writes_the_report(self):
        doc = document()
        for i, v in enumerate(doc["variants"]):
            record = {"schema": 1, "variant": v["name"], "round": 1, "kernel": v["kernel"], "guest": doc["job"],
                      "samples": [s for s in doc["samples"] if s["variant"] == v["name"]],
                      "traces": [t for t in doc["traces"] if t["variant"] == v["name"]]}
            results.write_json(self.job / "test-results" / f"{i}-bench" / "data" / results.TEST_FILE, record)
        finish(self.job)
        self.assertIn("more CPU", (self.job / "balloon" / "report.html").read_text())

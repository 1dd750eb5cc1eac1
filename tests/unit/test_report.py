import contextlib
import io
import tempfile
import unittest
from pathlib import Path

from harness import cli
from harness.avocado.plugins import finish
from harness.judge import html, outcomes, phases, plots, policy, report
from harness.results import contract

EVIL = "<b>$(touch /tmp/x)</b>"
PATCH = "virtio_balloon: batch 4096 PFNs & <more>"


def document():
    """Two variants, 3 boots × 3 cycles (the first a warm-up): the second inflates faster and burns more QEMU CPU;
    a third variant failed to build and a fourth was never run."""
    samples, traces = [], []
    for name, speed in (("base", 1.0), (EVIL, 0.8)):
        for boot in (1, 2, 3):
            for cycle in (1, 2, 3):
                j = 0.002 * (3 * boot + cycle)
                for op, k in (("inflate", speed), ("deflate", 1.0)):
                    samples.append({"variant": name, "boot": boot, "cycle": cycle, "op": op, "warmup": cycle == 1,
                                    "wall_s": 0.4 * k + j, "t50_s": 0.2 * k + j, "t90_s": 0.35 * k + j,
                                    "qemu_cpu_s": 0.4 / k + j, "guest_cpu_s": 0.1 + j})
                traces.append({"variant": name, "boot": boot, "cycle": cycle, "op": "inflate",
                               "points": [[i * 0.04 * speed, (2048 - 153.6 * i) * 2 ** 20] for i in range(11)]})
    kernel = {"release": "6.1.192", "config_sha256": "5a5146acb3a7b0aa",
              "bzimage_sha256": "606148d4d1dacbdc" + "0" * 48}
    variants = [{"name": "base", "series": [], "kernel": kernel},
                {"name": EVIL, "series": [PATCH],
                 "kernel": {**kernel, "bzimage_sha256": "ca9b4d15da85f15f" + "1" * 48}},
                {"name": "broken", "series": ["patches/faults/build-break"], "kernel": {}},
                {"name": "later", "series": [], "kernel": {}}]
    job = {"dir": "/results/job-1", "host": "vm", "qemu_version": "7.2.22", "accel": "tcg", "memory_mib": 2048,
           "cpus": 1}
    outs = [{"variant": v, "round": r, "test": f"{i}-benchmark.py:Benchmark.test;run-r{r}-{v}", "check": "benchmark",
             "status": "PASS", "reason": "", "trouble": None, "log": f"/results/job-1/test-results/{i}/debug.log"}
            for i, (r, v) in enumerate(((r, v) for r in (1, 2, 3) for v in ("base", EVIL)), 1)]
    outs.append({"variant": "broken", "round": 1, "test": "7-benchmark.py:Benchmark.test;run-r1-broken",
                     "check": "benchmark", "status": "FAIL", "stage": "build",
                     "reason": "make bzImage failed: drivers/virtio/virtio_balloon.c:120:2: error: expected ';'",
                     "trouble": None, "log": "/results/job-1/test-results/7/debug.log"})
    return {"schema": 1, "job": job, "variants": variants, "samples": samples, "traces": traces,
            "outcomes": outs}


class ReportHtmlTest(unittest.TestCase):
    def setUp(self):
        self.doc = document()
        self.comps = policy.comparisons(self.doc)
        self.html = html.page(self.doc, self.comps)

    def test_verdicts_carry_the_numbers_of_the_console_table(self):
        verdicts = {(c.op, c.metric): c.verdict for c in self.comps}
        self.assertEqual(verdicts[("inflate", "wall_s")], "faster")
        self.assertEqual(verdicts[("inflate", "qemu_cpu_s")], "more CPU")
        self.assertRegex(verdicts[("deflate", "wall_s")], r"^no significant change \(could detect ±")
        short, full = report.table(self.doc, self.comps), report.table(self.doc, self.comps, full=True)
        for c in self.comps:
            self.assertIn(report.change_text(c), full)
            self.assertIn(report.change_text(c), self.html)
            self.assertIn(report.p_text(c), self.html)
            self.assertIn(f"±{c.detectable * 100:.1f} %", self.html)
            if c.primary:
                self.assertIn(report.change_text(c), short)
        self.assertNotIn("QEMU CPU", short)  # by default the console shows the primary metric only
        self.assertNotIn("warm-up", short)
        self.assertIn("(warm-up)", full)
        for tone, word in (("better", "faster"), ("worse", "more CPU")):
            self.assertIn(f'<span class="verdict {tone}">{word}</span>', self.html)
        self.assertIn('<span class="verdict same">no significant change (could detect', self.html)

    def test_every_variant_appears_with_its_outcome_first(self):
        text = report.table(self.doc, self.comps)
        self.assertEqual(text.splitlines()[0],
                         "2 of 4 variant(s) did not pass: broken FAIL in benchmark; later not run")
        self.assertIn("broken: not measured (FAIL: make bzImage failed: drivers/virtio/virtio_balloon.c:120:2: "
                      "error: expected ';')", text)
        self.assertIn("later: not measured (not run)", text)
        self.assertLess(self.html.index('id="headline"'), self.html.index('id="verdicts"'))
        self.assertIn("2 of 4 variant(s) did not pass", self.html)
        self.assertIn('<a href="../test-results/7/debug.log">log</a>', self.html)
        self.assertIn("verdict worse\">not measured: FAIL", self.html)
        for name in ("broken", "later"):
            self.assertIn(f"</span>{name}</td>", self.html)

    def test_rule_states_the_statistics_modules_numbers(self):
        self.assertIn("95 % interval", report.rule())
        self.assertIn("adjusted p &lt; 0.05", self.html)

    def test_identity_and_job_facts(self):
        for text in ("6.1.192", "5a5146acb3a7b0aa", "606148d4d1dacbdc", "ca9b4d15da85f15f", "7.2.22", "tcg",
                     "virtio_balloon: batch 4096 PFNs &amp; &lt;more&gt;", "2048 MiB, 1 vCPU"):
            self.assertIn(text, self.html)

    def test_prerequisites_are_named_with_their_identity(self):
        doc = document()
        on = {"source": "/s/stay-awake", "patches": ["virtio_balloon: stay awake <while>"], "digest": "0d1f2e3c"}
        for v in doc["variants"][:2]:
            v["kernel"] = {**v["kernel"], "prerequisites": [on]}
        self.assertIn("series (none); on prerequisites /s/stay-awake (1 patch, digest 0d1f2e3c)",
                      report.facts(doc).splitlines()[1])
        page = html.page(doc, policy.comparisons(doc))
        self.assertEqual(page.count("on prerequisite /s/stay-awake\n(1 patch, digest 0d1f2e3c)"), 2)
        self.assertIn("<li>virtio_balloon: stay awake &lt;while&gt;</li>", page)
        self.assertNotIn("on prerequisite", self.html)

    def test_names_from_configs_render_as_text(self):
        self.assertIn("&lt;b&gt;$(touch /tmp/x)&lt;/b&gt;", self.html)
        self.assertNotIn("<b>$(touch", self.html)
        self.assertNotIn("<more>", self.html)

    def test_one_strip_plot_per_op_and_metric_and_one_trace_plot(self):
        self.assertEqual(self.html.count("<svg "), 2 * 5 + 2 + 1)  # strips, drift per op, the trace
        self.assertIn("base (boot 1, cycle 2)", self.html)   # the first measured inflate, not the warm-up
        self.assertIn("each boot&#39;s Q1 of the time to target, in run order", self.html)

    def test_range_diff_only_when_present(self):
        self.assertNotIn("range-diff", self.html)
        page = html.page({**self.doc, "range_diff": {EVIL: "1:  abc = 1:  def <script>x</script>"}}, self.comps)
        self.assertIn("Series range-diff", page)
        self.assertIn("&lt;script&gt;x&lt;/script&gt;", page)

    def test_ticks_cover_the_range_with_round_steps(self):
        self.assertEqual(plots.ticks(0.683, 0.741), [0.68, 0.7, 0.72, 0.74, 0.76])
        self.assertEqual(plots.ticks(0.7, 0.7)[0], 0.66)


class ReportFilesTest(unittest.TestCase):
    def setUp(self):
        self.job = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def test_cli_writes_the_report_and_prints_its_path(self):
        contract.write_json(self.job / "balloon" / "results.json", document())
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
            contract.write_json(self.job / "test-results" / f"{i}-bench" / "data" / contract.TEST_FILE, record)
        finish(self.job, job_files=[])
        self.assertIn("more CPU", (self.job / "balloon" / "report.html").read_text())


class InterferenceTest(unittest.TestCase):
    def test_boots_measured_beside_other_load_are_flagged_and_kept(self):
        doc = document()
        for s in doc["samples"]:
            s["host_other_cpu_s"] = 0.9 * s["wall_s"] if (s["variant"], s["boot"]) == ("base", 2) else 0.01
        self.assertEqual([(n, b) for n, b, _ in outcomes.interference(doc)], [("base", 2)])
        text = report.table(doc)
        self.assertIn("1 boot(s) measured while the rest of the host used more than 0.5 core (kept in the "
                      "comparison): base boot 2 (0.90 cores)", text)
        self.assertIn('id="interference"', html.page(doc, policy.comparisons(doc)))
        self.assertEqual(policy.comparisons(doc)[0].boots, 3)  # never dropped


class SetupTest(unittest.TestCase):
    def test_jobs_that_ran_their_guests_differently_are_compared_only_with_a_note(self):
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        quiet = document()
        quiet["job"] = {**quiet["job"], "placement": "split",
                        "setup": {"tcg_thread": "single", "tcg_tb_mib": 0, "backend": "memfd", "prealloc": False,
                                  "balloon": {"x-ranges": "on"}}}
        self.assertEqual(report.setup_text(quiet["job"]),
                         "placement split, tcg_thread=single, backend=memfd, balloon=x-ranges=on")
        self.assertIn("1 vCPU, placement split, tcg_thread=single", report.facts(quiet))
        self.assertEqual(report.setup_text({"placement": "per setting", "setup": "per setting"}),
                         "placement per setting, setup per setting")  # a job with axes: each setting says its own
        for name, doc in (("a", document()), ("b", quiet)):
            contract.write_json(tmp / name / "balloon" / "results.json", doc)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(cli.main(["compare", str(tmp / "a"), str(tmp / "b")]), 0)
        self.assertIn("the jobs ran their guests differently: a: placement ?; b: placement split, backend=memfd, "
                      "balloon=x-ranges=on, tcg_thread=single", out.getvalue())  # results.json sorts the keys
        with contextlib.redirect_stdout(io.StringIO()) as same:
            cli.main(["compare", str(tmp / "a"), str(tmp / "a")])
        self.assertNotIn("differently", same.getvalue())


class PairsTest(unittest.TestCase):
    def test_pairs_the_job_names_get_a_table_of_their_own(self):
        doc = document()
        doc["samples"] += [{**s, "variant": "v2", "wall_s": s["wall_s"] * 0.5} for s in doc["samples"]
                           if s["variant"] == EVIL]
        doc["variants"].append({**doc["variants"][1], "name": "v2"})
        doc["job"]["pairs"] = [["v2", EVIL]]
        comps = policy.comparisons(doc)
        pair = {(c.op, c.metric): c.verdict for c in comps if c.baseline == EVIL}
        self.assertEqual(pair[("inflate", "wall_s")], "faster")
        self.assertEqual({c.variant for c in comps if c.baseline == EVIL}, {"v2"})
        text = report.table(doc, comps)
        self.assertIn(f"vs {EVIL} (95 % CI)", text)
        self.assertEqual(text.count("vs base (95 % CI)"), 1)
        page = html.page(doc, comps)
        self.assertIn(f'<span class="ratio">vs {EVIL.replace("<", "&lt;").replace(">", "&gt;")}', page)


class PhasesTest(unittest.TestCase):
    def test_the_split_of_each_variants_operations_and_the_seeds_beside_its_scenario(self):
        doc = document()
        for s in doc["samples"]:
            s.update(from_bytes=8192 << 20, to_bytes=1024 << 20, requests=7168, host_s=0.25 * s["wall_s"],
                     wait_s=0.01 * s["wall_s"], ranges=None, discards=None)
            if s["variant"] == EVIL:
                s.update(requests=448, ranges=3584, discards=3584)
        rows = {(op, name): r for op, name, r in phases.split(doc["samples"])}
        self.assertEqual(set(rows), {(op, v) for op in ("inflate", "deflate") for v in ("base", EVIL)})
        base = rows[("inflate", "base")]
        self.assertEqual((base["operations"], base["requests"], base["KiB a request"], base["ranges"]),
                         (6, 7168, 1024, None))
        self.assertAlmostEqual(base["host %"], 25.0)
        self.assertAlmostEqual(base["guest %"], 74.0)
        self.assertAlmostEqual(base["waiting %"], 1.0)
        self.assertEqual(rows[("inflate", EVIL)]["discards"], 3584)
        text = report.table(doc)
        self.assertIn("Where the time goes", text)
        self.assertIn("the host's side of the requests 93.4 %, the guest's 6.5 %", text)
        self.assertIn('<table id="phases">', html.page(doc, policy.comparisons(doc)))
        for s in doc["samples"]:
            s["from_bytes"] = 2048 << 20
        self.assertNotIn("2017", report.table(doc))  # another scenario: the seed's profile is not beside it
        for s in doc["samples"]:
            s["requests"] = None
        self.assertNotIn("Where the time goes", report.table(doc))


class VariantQemuTest(unittest.TestCase):
    def test_variants_on_qemus_of_their_own_say_which(self):
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        for i, (name, series) in enumerate((("base", []), ("ranges-v2", ["patches/qemu/ranges/v2"]))):
            out = tmp / "test-results" / f"{i}-benchmark" / "data"
            guest = {"host": "vm", "qemu_version": "7.2.22", "memory_mib": 8192,
                     "setup": {"backend": "anonymous", "balloon": {"x-ranges": "on"} if series else {}},
                     "qemu_build": {"binary": f"/q/{i}", "source": "debian" if series else "system",
                                    "series": series, "version": "7.2.22", "cached": bool(i)}}
            contract.write_json(out / contract.TEST_FILE, contract.test_record(name, 1, {}, guest, [], []))
        data = contract.gather(tmp)
        self.assertEqual(data["job"]["qemu_version"], "per variant")
        self.assertIn("ranges-v2: (not built) config - bzImage - series (none); QEMU 7.2.22 from debian + "
                      "patches/qemu/ranges/v2, balloon x-ranges=on", report.facts(data))
        self.assertNotIn("balloon=", report.facts(data).splitlines()[0])  # the job's line: not the last test's


class HostSpeedTest(unittest.TestCase):
    def test_operations_in_a_slow_spell_are_counted_per_variant(self):
        samples = [{"variant": v, "boot": b, "cycle": c, "op": "inflate", "warmup": c == 1,
                    "host_speed": 4e8 * (0.5 if (v, b) == ("v1", 2) else 1.0)}
                   for v in ("base", "v1") for b in (1, 2) for c in (1, 2, 3)]
        text = report.speed_table({"samples": samples, "variants": [{"name": "base"}, {"name": "v1"}]})
        rows = [line.split() for line in text.splitlines()[2:]]
        self.assertEqual(rows, [["inflate", "base", "4", "400", "400–400", "0", "(0%)"],
                                ["inflate", "v1", "4", "300", "200–400", "2", "(50%)"]])
        self.assertEqual(report.speed_table({"samples": [{**s, "host_speed": None} for s in samples]}), "")

    def test_values_are_shown_in_their_unit(self):
        self.assertEqual(report.value_text("wall_s", 0.61234), "0.6123")
        self.assertEqual(report.value_text("guest_insns", 267_421_000), "267.421 M")
        self.assertEqual(report.value_text("requests", 96), "96")

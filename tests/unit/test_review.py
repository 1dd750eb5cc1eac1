"""``balloon-harness review``: the job file it writes and the reply it composes (tests/integration/test_review.py
runs the whole command on real kernels)."""

import tempfile
import unittest
from pathlib import Path

from harness.commands import review
from harness.config import loader
from harness.intake.apply import Outcome
from harness.intake.series import count, read_series

ROOT = Path(__file__).resolve().parents[2]


def outcome(variant, status="PASS", check="benchmark", **kw):
    return {"variant": variant, "test": f"x;{variant};{check}", "check": check, "status": status, "reason": "",
            "trouble": None, "log": None, **kw}


RECORD = {"baseline": "base", "boots": 3, "baseline_boots": 3, "p": 0.001, "p_adjusted": 0.002, "detectable": 0.01,
          "needs": 0, "primary": True, "where": None, "axis": "variant", "counted": False, "spread": None,
          "one_qemu": True}


def bench(v2_status="PASS", stage=None):
    kernel = {"release": "6.1.192", "config_sha256": "efb96d46fed3ac7e0000"}
    comps = [{**RECORD, "variant": v, "op": op, "metric": m, "ratio": r, "ci": [r - 0.03, r + 0.03],
              "verdict": "faster" if r < 0.97 else "no significant change (could detect ±4.1 % with 80 % power)",
              "primary": m == "wall_s"}
             for v, r in (("v1", 0.99), ("v2", 0.90)) for op, m in review.PRIMARY]
    return {"job": {"accel": "tcg", "qemu_version": "7.2.22", "memory_mib": 2048, "cmdline": "",
                    "host_facts": {"cpu_model": "AMD EPYC 7B13"}},
            "variants": [{"name": n, "series": [], "kernel": kernel} for n in ("base", "v1", "v2")],
            "samples": [], "comparisons": comps,
            "outcomes": [outcome("base"), outcome("v1"), outcome("v2", v2_status,
                                                                  **({"stage": stage} if stage else {}))]}


def functional(v2_status="PASS"):
    return {"outcomes": [outcome(v, s, c) for v in ("base", "v1", "v2") for c in ("test_evict", "test_reboot")
                         for s in (v2_status if (v, c) == ("v2", "test_reboot") else "PASS",)]}


class ReviewTest(unittest.TestCase):
    def setUp(self):
        self.versions = [read_series(ROOT / "patches" / "batch-pfns" / v) for v in ("v1", "v2")]
        self.applies = {n: (Outcome("1/1", "clean", ""),) for n in ("v1", "v2")}

    def reply(self, b, f, tested_by="Ann Reviewer <ann@example.org>"):
        return review.reply(b, [f], ["v1", "v2"], self.versions, self.applies,
                            ["avocado run --max-parallel-tasks 1 --job-results-dir /r tests/balloon/benchmark.py "
                             "-m /r/job.yaml"], tested_by)

    def test_the_job_file_is_a_valid_job_with_a_variant_per_version(self):
        text = review.job_text(ROOT / "configs" / "default.yaml", {"debian": "linux-source-6.1"},
                               {"v1": ROOT / "patches/batch-pfns/v1", "v2": ROOT / "patches/batch-pfns/v2"}, 3)
        path = Path(tempfile.mkdtemp()) / "job.yaml"
        path.write_text(text)
        job = loader.load(path)
        self.assertEqual([v.name for v in job.variants], ["base", "v1", "v2"])
        self.assertEqual(job.rounds, 3)
        self.assertEqual(job.workload.cycles, 8)

    def test_per_patch_asks_for_every_prefix_of_each_version_and_none_of_the_base(self):
        text = review.job_text(ROOT / "configs" / "default.yaml", {"debian": "linux-source-6.1"},
                               {"v3": ROOT / "patches/ranges/v3"}, 3, per_patch=True)
        path = Path(tempfile.mkdtemp()) / "job.yaml"
        path.write_text(text)
        job = loader.load(path, count)
        self.assertEqual([(v.name, v.patches) for v in job.variants],
                         [("base", None), ("v3-1", 1), ("v3-2", 2), ("v3-3", 3), ("v3", None)])
        self.assertEqual(job.pairs, (("v3-2", "v3-1"), ("v3-3", "v3-2"), ("v3", "v3-3")))

    def test_each_patch_gets_its_step_under_its_versions_verdicts_within_72_columns(self):
        labels = ["1/2 virtio_balloon: batch 4096 PFNs per request...", "2/2 virtio_balloon: a second patch..."]
        b = bench()
        b["variants"] = [{"name": "base", "series": [], "kernel": b["variants"][0]["kernel"]},
                         {"name": "v1", "series": ["1/1 virtio_balloon: v1's only patch..."]},
                         {"name": "v2-1", "series": labels[:1]}, {"name": "v2", "series": labels}]
        b["job"]["pairs"], b["samples"] = [["v2", "v2-1"]], [{"variant": v} for v in ("base", "v1", "v2-1", "v2")]
        step = {**RECORD, "op": "inflate"}
        b["comparisons"] += [
            {**step, "variant": "v2-1", "baseline": "base", "metric": "guest_insns", "ratio": 0.388,
             "ci": [0.386, 0.390], "verdict": "fewer", "primary": False, "counted": True},
            {**step, "variant": "v2-1", "baseline": "base", "metric": "wall_s", "ratio": 0.42, "ci": [0.40, 0.44],
             "verdict": "faster", "primary": True},
            {**step, "variant": "v2", "baseline": "v2-1", "metric": "wall_s", "ratio": 1.01, "ci": [0.95, 1.07],
             "verdict": "inconclusive: 3 boots a side could detect only ±12 %, needs ≥ 9", "primary": True}]
        text = self.reply(b, functional())
        self.assertLessEqual(max(map(len, text.splitlines())), review.WIDTH, text)
        v2 = text[text.index("\nv2 "):]
        self.assertIn("  inflate time to target: -10.0 % [-13.0, -7.0] faster\n", v2)  # v2 against base
        self.assertIn("  inflate, each patch against the prefix before it:\n    1/2 virtio_balloon: batch", v2)
        self.assertIn("1/2 virtio_balloon: batch 4096 PFNs per request...: guest instructions -61.20 % [-61.40, "
                      "-61.00] fewer, time -58 % [-60, -56] faster", " ".join(v2.split()))
        self.assertIn("2/2 virtio_balloon: a second patch...: time +1 % [-5, +7] inconclusive Measured",
                      " ".join(v2.split()))
        self.assertNotIn("each patch", text[:text.index("\nv2 ")])  # v1 has no staircase

    def test_a_clean_review_fits_72_columns_and_ends_tested_by(self):
        text = self.reply(bench(), functional())
        lines = text.splitlines()
        self.assertLessEqual(max(map(len, lines)), 72, text)
        self.assertLessEqual(len(lines), 24, text)
        self.assertIn("v2 (1 patch): applies, builds, functional checks 2 of 2 PASS", text)
        self.assertIn("  inflate time to target: -10.0 % [-13.0, -7.0] faster", text)
        self.assertIn("  inflate time to target: -1.0 % [-4.0, +2.0] no significant change", text)
        self.assertIn("AMD EPYC 7B13", text)
        self.assertEqual(lines[-1], "Tested-by: Ann Reviewer <ann@example.org>")

    def test_a_failure_is_named_and_withholds_tested_by(self):
        f = functional("FAIL")
        f["outcomes"][-1]["trouble"] = "kernel BUG at drivers/virtio/virtio_balloon.c:867!"
        text = self.reply(bench(), f)
        self.assertIn("v2 (1 patch): applies, builds, functional checks 1 of 2 PASS", text)
        self.assertIn("test_reboot: FAIL: kernel BUG at drivers/virtio/virtio_balloon.c:867!", text)
        self.assertNotIn("Tested-by", text)
        b = bench("FAIL", "build")
        b["outcomes"][-1]["reason"] = ("v2: build failed: drivers/virtio/virtio_balloon.c:213:48: error: 'x' "
                                       "undeclared | make[3]: *** [scripts/Makefile.build:255] Error 1")
        broken = self.reply(b, functional())
        self.assertIn("v2 (1 patch): applies, does not build", broken)
        self.assertIn("build: v2: build failed: drivers/virtio/virtio_balloon.c:213:48: error: 'x' undeclared",
                      " ".join(broken.split()))
        self.assertNotIn("make[3]", broken)  # the compiler's error once, not make's echo of it
        self.assertNotIn("Tested-by", broken)

    def test_prerequisites_are_on_every_variant_and_named_in_the_reply(self):
        upstream = ROOT / "tests" / "fixtures" / "upstream"
        text = review.job_text(ROOT / "configs" / "default.yaml", {"debian": "linux-source-6.1"},
                               {"v2": upstream / "stats-wakeup"}, 3, [upstream / "stay-awake"])
        path = Path(tempfile.mkdtemp()) / "job.yaml"
        path.write_text(text)
        job = loader.load(path)
        self.assertEqual([(v.name, v.prerequisites) for v in job.variants],
                         [("base", (upstream / "stay-awake",)), ("v2", (upstream / "stay-awake",))])
        text = review.reply(bench(), [functional()], ["v1", "v2"], self.versions, self.applies, [], None,
                            [read_series(upstream / "stay-awake")])
        self.assertTrue(" ".join(text.split()).startswith(
            "On prerequisite stay-awake (1 patch: virtio_balloon: stay awake while adjusting balloon), applied to "
            "the base and to every version, so each is compared with base + prerequisites."), text)
        self.assertLessEqual(max(map(len, text.splitlines())), review.WIDTH)

    def test_the_robots_words_come_first_and_a_new_warning_withholds_tested_by(self):
        b = bench()
        clean = {"levels": ["default", "W=1"], "new": [], "removed": []}
        b["variants"][1]["kernel"] = {**b["variants"][1]["kernel"], "warnings": clean,
                                      "checkpatch": {"strict": False, "errors": 0, "warnings": 0, "checks": 0,
                                                     "patches": []}}
        new = {"file": "drivers/virtio/virtio_balloon.c", "line": 211, "level": "W=1", "patch": "1/1 x",
               "message": "warning: variable 'unused' set but not used [-Wunused-but-set-variable]"}
        b["variants"][2]["kernel"] = {**b["variants"][2]["kernel"], "warnings": {**clean, "new": [new]}}
        text = self.reply(b, functional())
        flat = " ".join(text.split())
        self.assertIn("v1 (1 patch): applies, builds, functional checks 2 of 2 PASS no new warnings (default, W=1); "
                      "checkpatch: clean", flat)
        self.assertIn("v2 (1 patch): applies, builds, functional checks 2 of 2 PASS 1 new warning (default, W=1): "
                      "drivers/virtio/virtio_balloon.c:211: warning: variable 'unused' set but not used", flat)
        self.assertNotIn("Tested-by", text)
        self.assertLessEqual(max(map(len, text.splitlines())), review.WIDTH)

    def test_no_tested_by_without_an_identity(self):
        self.assertNotIn("Tested-by", self.reply(bench(), functional(), tested_by=None))


if __name__ == "__main__":
    unittest.main()

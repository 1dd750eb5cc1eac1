import json
import random
import re
import tempfile
import unittest
from pathlib import Path

from harness import history
from harness.commands import nightly
from harness.errors import ConfigError, HarnessError

ROOT = Path(__file__).resolve().parents[2]


def night(job, walls, cpu=0.4, series=(), cycles=5, seed=0):
    """A results.json document: per variant, ``cycles`` inflates after a warm-up, at ``walls[variant]`` spread by
    ±1 % the same way every night, in an order of the ``seed``'s."""
    rng = random.Random(seed)
    spread = [1 + 0.02 * (i / (cycles - 1) - 0.5) for i in range(cycles)]
    samples = [{"variant": v, "boot": 1, "cycle": c, "op": "inflate", "warmup": c == 1,
                "wall_s": (3 if c == 1 else 1) * w * f, "qemu_cpu_s": cpu * g}
               for v, w in walls.items()
               for c, f, g in zip(range(1, cycles + 2), [1, *rng.sample(spread, cycles)],
                                  [1, *rng.sample(spread, cycles)])]
    variants = [{"name": v, "series": list(series) if v != "base" else [],
                 "kernel": {"release": "6.1.192", "config_sha256": "5a5146acb3a7b0aa", "compiler": "gcc 12.2.0",
                            "base": "linux-source-6.1=6.1.192-2", "build_s": 9.5}} for v in walls]
    return {"schema": 1, "job": {"dir": f"/results/{job}", "host": "vm", "accel": "tcg", "qemu_version": "7.2.22"},
            "variants": variants, "samples": samples, "traces": []}


class HistoryTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.conn = history.connect(self.tmp / "sub" / history.DB_NAME)
        self.addCleanup(self.conn.close)

    def store_nights(self, *docs):
        return [history.store(self.conn, d, "base: {debian: linux-source-6.1}\n", f"2026-11-2{i}T02:00:00+00:00")
                for i, d in enumerate(docs, 1)]

    def test_store_and_load_round_trip(self):
        first = night("job-1", {"base": 0.40, "candidate": 0.36}, series=["virtio_balloon: batch 4096 PFNs"])
        runs = self.store_nights(first, night("job-2", {"base": 0.40}), night("job-3", {"base": 0.40}))
        row = self.conn.execute("SELECT job_dir, host, accel, qemu_version, config FROM runs WHERE id = ?",
                                (runs[0],)).fetchone()
        self.assertEqual(row, ("/results/job-1", "vm", "tcg", "7.2.22", "base: {debian: linux-source-6.1}\n"))
        nights, samples = history.previous(self.conn, "candidate", before=runs[2] + 1, count=7)
        self.assertEqual([n.id for n in nights], [runs[0]])  # the only night that measured the candidate
        mine = [s for s in first["samples"] if s["variant"] == "candidate"]
        self.assertEqual(sorted(s["wall_s"] for s in samples), sorted(s["wall_s"] for s in mine))
        self.assertEqual(samples[0]["boot"], (runs[0], 1))
        self.assertEqual((samples[0]["kernel_release"], samples[0]["series"]),
                         ("6.1.192", "virtio_balloon: batch 4096 PFNs"))
        self.assertEqual(sum(s["warmup"] for s in samples), 1)
        nights, _ = history.previous(self.conn, "base", before=runs[2], count=1)
        self.assertEqual([(n.id, n.job_dir) for n in nights], [(runs[1], "/results/job-2")])

    def test_unwritable_database_is_a_harness_error_naming_it(self):
        with self.assertRaises(HarnessError) as cm:
            history.connect(Path("/proc/no/history.sqlite"))
        self.assertIn("/proc/no/history.sqlite", cm.exception.cause)

    def trends_tonight(self, wall, cpu=0.4):
        runs = self.store_nights(night("j1", {"base": 0.40}, seed=1), night("j2", {"base": 0.40}, seed=2))
        tonight = night("j3", {"base": wall}, cpu=cpu, seed=3)
        _, samples = history.previous(self.conn, "base", before=runs[-1] + 1, count=7)
        return {t.metric: t for t in history.trends(tonight["samples"], samples, "base")}

    def test_same_performance_is_no_regression(self):
        trends = self.trends_tonight(0.40)
        self.assertEqual(trends["wall_s"].comparison.verdict, "no significant change")
        self.assertFalse(any(t.regression for t in trends.values()))
        self.assertEqual(len(trends["wall_s"].nights), 2)
        self.assertAlmostEqual(trends["wall_s"].nights[0][1], 0.40, delta=0.01)

    def test_slower_night_is_a_regression_with_its_interval(self):
        trends = self.trends_tonight(0.48, cpu=0.5)
        wall = trends["wall_s"]
        self.assertTrue(wall.regression)
        self.assertEqual(wall.comparison.verdict, "slower")
        self.assertGreater(wall.comparison.ci95[0], 1.1)
        self.assertAlmostEqual(wall.comparison.ratio, 1.2, delta=0.03)
        self.assertEqual(trends["qemu_cpu_s"].comparison.verdict, "more CPU")

    def test_faster_night_is_not_a_regression(self):
        trends = self.trends_tonight(0.32)
        self.assertEqual(trends["wall_s"].comparison.verdict, "faster")
        self.assertFalse(trends["wall_s"].regression)

    def test_changes_name_what_differs_from_the_last_night(self):
        self.store_nights(night("j1", {"candidate": 0.4}, series=["v2 patch"]))
        _, samples = history.previous(self.conn, "candidate", before=99, count=7)
        variant = night("j2", {"candidate": 0.4}, series=["slow patch"])["variants"][0]
        self.assertEqual(history.changes(variant, samples), ["candidate: series `v2 patch` → `slow patch`"])
        self.assertEqual(history.changes(variant, []), [])


class NightlyOutputTest(unittest.TestCase):
    def judge(self, *docs):
        conn = history.connect(Path(tempfile.mkdtemp()) / history.DB_NAME)
        self.addCleanup(conn.close)
        for i, d in enumerate(docs, 1):
            tonight = nightly.judge(conn, d, "config", f"2026-11-2{i}T02:00:00+00:00", 7, ())
        return tonight, docs[-1]

    def test_regression_summary_b4_and_kcidb(self):
        tonight, data = self.judge(night("job-1", {"base": 0.4, "candidate": 0.36}, seed=1),
                                   night("job-2", {"base": 0.4, "candidate": 0.36}, seed=2),
                                   night("job-3", {"base": 0.4, "candidate": 0.45}, seed=3, series=["slow"]))
        self.assertEqual(tonight.status, "fail")
        text = nightly.summary(tonight)
        self.assertIn("1 regression(s)", text.splitlines()[0])
        self.assertRegex(text, r"\*\*candidate\*\* inflate, time to target: \*\*slower\*\* \+2\d\.\d % \[")
        self.assertIn("/results/job-3/balloon/report.html", text)
        self.assertIn("candidate: series `(none)` → `slow`", text)
        self.assertRegex(text, r"\| variant +\| op +\| metric +\| #1 11-21 02:00 +\| #2 11-22 02:00 +\| tonight")

        (check,) = nightly.b4_check(tonight)
        self.assertEqual(set(check), {"tool", "status", "summary", "url", "details"})
        self.assertEqual((check["tool"], check["status"]), ("balloon-harness", "fail"))
        self.assertIn("slower", check["details"])
        self.assertRegex(check["summary"], r"^nightly: 1 regression\(s\); worst: candidate inflate time to target")

        record = json.loads(json.dumps(nightly.kcidb(tonight, data)))
        self.assertEqual(record["version"], {"major": 4, "minor": 3})
        self.assertEqual(len(record["checkouts"]), 2)
        self.assertNotIn("null", json.dumps(record))
        for kind in ("checkouts", "builds", "tests"):
            for obj in record[kind]:
                self.assertEqual(obj["origin"], "balloon_harness")
                self.assertRegex(obj["id"], r"^balloon_harness:job-3:")
        tests = {t["path"]: t for t in record["tests"] if t["build_id"].endswith(":candidate")}
        self.assertEqual(tests["balloon.inflate.wall_s"]["status"], "FAIL")
        self.assertTrue(all(re.fullmatch(r"[.a-zA-Z0-9_-]*", t["path"]) for t in record["tests"]))
        self.assertEqual(tests["balloon.inflate.wall_s"]["misc"]["verdict"], "slower")

    def test_quiet_night_and_first_night(self):
        first, _ = self.judge(night("job-1", {"base": 0.4}, seed=1))
        self.assertEqual(first.status, "warn")
        self.assertIn("no previous night", nightly.summary(first).splitlines()[0])
        self.assertEqual(nightly.kcidb(first, night("job-1", {"base": 0.4}))["tests"][0]["status"], "DONE")
        quiet, _ = self.judge(night("job-1", {"base": 0.4}, seed=1), night("job-2", {"base": 0.4}, seed=2),
                              night("job-3", {"base": 0.4}, seed=3))
        self.assertEqual(quiet.status, "pass")
        self.assertIn("no regression", nightly.summary(quiet).splitlines()[0])
        self.assertEqual(nightly.b4_check(quiet)[0]["status"], "pass")


class NightlyConfigTest(unittest.TestCase):
    def test_set_series_keeps_the_mux_and_names_unknown_variants(self):
        path = ROOT / "configs" / "nightly.yaml"
        text = nightly.with_series(path, {"candidate": Path("/x/slow-inflate")})
        self.assertIn("variants: !mux", text)
        self.assertIn("candidate: {variant: candidate, series: /x/slow-inflate}", text)
        self.assertIn("base: {variant: base}", text)
        with self.assertRaises(ConfigError) as cm:
            nightly.with_series(path, {"candidte": Path("/x")})
        self.assertIn("candidte", cm.exception.cause)
        self.assertIn("candidate", cm.exception.hint)

    def test_failed_tests_are_listed_and_errored_ones_are_harness_errors(self):
        job = Path(tempfile.mkdtemp())
        test = {"name": "benchmark.py:Benchmark.test;candidate", "status": "FAIL", "fail_reason": "WARNING: on console"}
        (job / "results.json").write_text(json.dumps({"tests": [test]}))
        (line,) = nightly.test_failures(job)
        self.assertIn("WARNING: on console", line)
        (job / "results.json").write_text(json.dumps({"tests": [{**test, "status": "ERROR"}]}))
        with self.assertRaises(HarnessError):
            nightly.test_failures(job)


if __name__ == "__main__":
    unittest.main()

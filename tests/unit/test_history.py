import json
import math
import random
import sqlite3
import tempfile
import unittest
from pathlib import Path

import kcidb_io

from harness.commands import nightly
from harness.errors import ConfigError, HarnessError
from harness.judge import exports, history, outcomes
from harness.judge.nights import DB_NAME, alike, changes, connect, harness_errors, samples_of, store

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "base: {debian: linux-source-6.1}\n"


def night(job, walls, seed, boots=3, cycles=5, drift=0.04, axes=None, series=(), config="5a5146acb3a7b0aa",
          outcomes=None):
    """A results.json document: per variant ``boots`` boots of ``cycles`` inflates after a warm-up, around
    ``walls[variant]`` times a drift the night shares between its variants (the host's mood), with 1 % noise."""
    rng = random.Random(seed)
    mood = math.exp(rng.gauss(0, drift))
    samples = []
    for v, w in walls.items():
        for boot in range(1, boots + 1):
            for c in range(1, cycles + 2):
                x = w * mood * math.exp(rng.gauss(0, 0.01))
                samples.append({"variant": v, "boot": boot, "cycle": c, "op": "inflate", "warmup": c == 1,
                                "wall_s": 3 * x if c == 1 else x, "qemu_cpu_s": x, "host": "vm",
                                **({"axes": axes} if axes else {})})
    variants = [{"name": v, "series": list(series) if v != "base" else [],
                 "kernel": {"release": "6.1.192", "config_sha256": config, "compiler": "gcc 12.2.0",
                            "base": "linux-source-6.1=6.1.192-2", "build_s": 9.5}} for v in walls]
    outs = outcomes if outcomes is not None else [
        {"variant": v, "test": f"{i}-benchmark.py:Benchmark.test;run-{v}", "check": "benchmark", "status": "PASS",
         "reason": "", "trouble": None, "log": None} for i, v in enumerate(walls, 1)]
    return {"schema": 1, "job": {"dir": f"/results/{job}", "host": "vm", "accel": "tcg", "qemu_version": "7.2.22"},
            "variants": variants, "samples": samples, "traces": [], "outcomes": outs}


class Nights:
    """A history database and the nights stored in it."""

    def __init__(self, test):
        self.conn = connect(Path(tempfile.mkdtemp()) / "sub" / DB_NAME)
        test.addCleanup(self.conn.close)
        self.count = 0

    def add(self, doc, config=CONFIG, overrides=""):
        self.count += 1
        return store(self.conn, doc, config, None, overrides, f"2026-11-{self.count:02d}T02:00:00+00:00")

    def quiet(self, count, candidate=0.36, seed=0, **kw):
        return [self.add(night(f"job-{i}", {"base": 0.40, "candidate": candidate}, seed + i, **kw))
                for i in range(count)]


class StoreTest(unittest.TestCase):
    def test_store_and_load_round_trip_with_axes_and_hosts(self):
        db = Nights(self)
        doc = night("job-1", {"base": 0.4, "candidate": 0.36}, 1, axes={"init_on_alloc": "on"}, series=["v2 patch"])
        run = db.add(doc)
        row = db.conn.execute("SELECT job_dir, host, accel, qemu_version, config, config_source, overrides FROM runs "
                              "WHERE id = ?", (run,)).fetchone()
        self.assertEqual(row, ("/results/job-1", "vm", "tcg", "7.2.22", CONFIG, CONFIG, ""))
        back = samples_of(db.conn, [run])
        self.assertEqual(len(back), len(doc["samples"]))
        self.assertEqual({(s["host"], json.dumps(s["axes"])) for s in back}, {("vm", '{"init_on_alloc": "on"}')})
        self.assertEqual({s["series"] for s in back if s["variant"] == "candidate"}, {"v2 patch"})
        self.assertEqual(sorted(s["wall_s"] for s in back), sorted(s["wall_s"] for s in doc["samples"]))

    def test_a_database_of_the_previous_schema_gains_the_new_columns(self):
        path = Path(tempfile.mkdtemp()) / DB_NAME
        with sqlite3.connect(path) as old:
            old.executescript("CREATE TABLE runs (id INTEGER PRIMARY KEY, time TEXT NOT NULL, job_dir TEXT NOT NULL,"
                              " host TEXT, accel TEXT, qemu_version TEXT, config TEXT);"
                              "INSERT INTO runs (time, job_dir) VALUES ('2026-01-01', '/old');")
        conn = connect(path)
        self.addCleanup(conn.close)
        self.assertEqual(conn.execute("SELECT job_dir, overrides, base FROM runs").fetchall(), [("/old", "", None)])
        self.assertIn("axes", {r[1] for r in conn.execute("PRAGMA table_info(samples)")})
        self.assertEqual(conn.execute("SELECT count(*) FROM bisections").fetchone(), (0,))

    def test_unwritable_database_is_a_harness_error_naming_it(self):
        with self.assertRaises(HarnessError) as cm:
            connect(Path("/proc/no/history.sqlite"))
        self.assertIn("/proc/no/history.sqlite", cm.exception.cause)


class AlikeTest(unittest.TestCase):
    def test_only_nights_of_the_same_job_file_host_and_qemu_without_overrides(self):
        db = Nights(self)
        kept = db.quiet(2)
        db.add(night("job-other", {"base": 0.4}, 9), config="other: job\n")
        db.add(night("job-slow", {"base": 0.4, "candidate": 0.9}, 9), overrides="candidate=patches/faults/x")
        moved = night("job-moved", {"base": 0.4}, 9)
        moved["job"]["qemu_version"] = "8.0.0"
        db.add(moved)
        tonight = db.add(night("job-now", {"base": 0.4, "candidate": 0.36}, 10))
        self.assertEqual([n.id for n in alike(db.conn, tonight, 14)], kept)


class TrendTest(unittest.TestCase):
    def judge(self, db, tonight_doc, overrides="", min_nights=5):
        run = db.add(tonight_doc, overrides=overrides)
        trends, nights = history.judge(db.conn, run, min_nights)
        return {(t.variant, t.op, t.metric): t for t in trends}, nights

    def test_no_verdict_before_enough_nights(self):
        db = Nights(self)
        db.quiet(3)
        trends, _ = self.judge(db, night("now", {"base": 0.4, "candidate": 0.36}, 50))
        self.assertEqual(trends[("candidate", "inflate", "wall_s")].verdict, "no verdict: 3 of 5 nights alike")

    def test_the_candidate_is_judged_against_the_same_nights_base(self):
        """A night when the host is 30 % slower for both is no regression: the ratio to tonight's base holds."""
        db = Nights(self)
        db.quiet(8)
        trends, nights = self.judge(db, night("now", {"base": 0.52, "candidate": 0.468}, 50))
        t = trends[("candidate", "inflate", "wall_s")]
        self.assertEqual(len(nights), 8)
        self.assertTrue(t.relative)
        self.assertAlmostEqual(t.tonight, 0.9, delta=0.01)
        self.assertEqual(t.verdict, "no change")
        self.assertFalse(t.regression)
        base = trends[("base", "inflate", "wall_s")]
        self.assertFalse(base.alerting)  # the base's level moves with the host: shown, never alerting

    def test_a_slower_candidate_is_a_regression_and_fails_the_night(self):
        db = Nights(self)
        db.quiet(8)
        run = db.add(night("now", {"base": 0.4, "candidate": 0.40}, 50), overrides="candidate=slow")
        trends, nights = history.judge(db.conn, run)
        t = next(t for t in trends if (t.variant, t.metric) == ("candidate", "wall_s"))
        self.assertEqual(t.verdict, "regression")
        self.assertLess(t.p_tonight, history.FALSE_ALARM / 4)
        cpu = next(t for t in trends if (t.variant, t.metric) == ("candidate", "qemu_cpu_s"))
        self.assertEqual(cpu.verdict, "higher")
        self.assertFalse(cpu.regression)  # secondary metrics never fail the night
        tonight = history.Tonight(Path("/results/now"), "2026-12-01T02:00:00+00:00", tuple(trends), tuple(nights),
                                  (), tuple(outcomes.outcomes(night("now", {"base": 0.4, "candidate": 0.4}, 50))))
        self.assertEqual(tonight.status, "fail")

    def test_a_faster_candidate_is_an_improvement(self):
        db = Nights(self)
        db.quiet(8)
        trends, _ = self.judge(db, night("now", {"base": 0.4, "candidate": 0.30}, 50))
        self.assertEqual(trends[("candidate", "inflate", "wall_s")].verdict, "improvement")

    def test_the_two_night_look_sees_a_step_one_night_cannot(self):
        values = [0.0, 0.02, -0.02, 0.01, -0.01, 0.015, -0.015]
        one = history.prediction_p(0.05, values)
        two = history.prediction_p(0.05, values[:-1], new=2)
        self.assertLess(two, one)
        self.assertAlmostEqual(history.prediction_p(0.0, [-1.0, 1.0]), 0.5)

    def test_a_count_that_never_varies_is_no_change_and_a_moved_one_is_higher(self):
        """Equal counts' mean of logs rounds either way; it must not read as lower or higher."""
        same = math.log(512)
        self.assertEqual(history.prediction_p((same * 3) / 3 + 1e-15, [same, (same + same + same) / 3]), 0.5)
        self.assertEqual(history.prediction_p(same + 0.01, [same, same]), 0.0)
        self.assertEqual(history.prediction_p(same - 0.01, [same, same]), 1.0)
        db = Nights(self)
        for i in range(6):
            doc = night(f"job-{i}", {"base": 0.4}, i)
            for smp in doc["samples"]:
                smp["requests"], smp["guest_insns"] = 512, 89e6
            db.add(doc)
        doc = night("now", {"base": 0.4}, 50)
        for smp in doc["samples"]:
            smp["requests"], smp["guest_insns"] = 512, 97e6
        trends, _ = self.judge(db, doc)
        self.assertEqual(trends[("base", "inflate", "requests")].verdict, "no change")
        insns = trends[("base", "inflate", "guest_insns")]
        self.assertEqual(insns.verdict, "higher")
        self.assertEqual(exports.value_text(insns, insns.tonight), "97.000 M instructions")

    def test_a_job_with_axes_is_stored_and_compared_per_setting(self):
        db = Nights(self)
        for i in range(6):
            doc = night(f"job-{i}", {"base": 0.4, "candidate": 0.36}, i, axes={"init_on_alloc": "off"})
            on = night(f"job-{i}", {"base": 0.8, "candidate": 0.72}, 100 + i, axes={"init_on_alloc": "on"})
            doc["samples"] += on["samples"]
            db.add(doc)
        doc = night("now", {"base": 0.4, "candidate": 0.36}, 50, axes={"init_on_alloc": "off"})
        doc["samples"] += night("now", {"base": 0.8, "candidate": 1.2}, 150, axes={"init_on_alloc": "on"})["samples"]
        run = db.add(doc)
        trends, _ = history.judge(db.conn, run)
        got = {(t.setting, t.verdict) for t in trends if (t.variant, t.metric) == ("candidate", "wall_s")}
        self.assertEqual(got, {("vm, init_on_alloc=off", "no change"), ("vm, init_on_alloc=on", "regression")})

    def test_a_night_with_another_kernel_config_is_not_in_the_baseline(self):
        db = Nights(self)
        db.quiet(5, config="0ld")
        trends, _ = self.judge(db, night("now", {"base": 0.4, "candidate": 0.36}, 50))
        self.assertEqual(trends[("candidate", "inflate", "wall_s")].verdict, "no verdict: 0 of 5 nights alike")

    def test_changes_name_what_differs_from_the_last_night(self):
        db = Nights(self)
        db.quiet(1, series=["v2 patch"])
        run = db.add(night("now", {"base": 0.4, "candidate": 0.36}, 5, series=["slow patch"]))
        nights = alike(db.conn, run, 14)
        self.assertEqual(changes(db.conn, run, nights), ["candidate: series `v2 patch` → `slow patch`"])
        self.assertEqual(changes(db.conn, run, []), [])


class NightlyOutputTest(unittest.TestCase):
    def tonight(self, db, doc, overrides=""):
        run = db.add(doc, overrides=overrides)
        return history.Tonight.of(db.conn, run, doc, "2026-12-01T02:00:00+00:00")

    def test_the_answers_tonights_time_did_not_decide_are_in_the_summary(self):
        db = Nights(self)
        db.quiet(2)
        said = {"op": "inflate", "variant": "candidate", "baseline": "base", "where": None, "axis": "variant",
                "by": "counted work", "spread": 2.1, "text": "time to target: inconclusive (host speed varied 2.1×); "
                "guest instructions: -0.80 % [-0.81, -0.79] fewer — decided on counted work"}
        data = {**night("job-9", {"base": 0.4, "candidate": 0.4}, 50), "answers": [said, {**said, "by": "time"}]}
        text = exports.summary(self.tonight(db, data))
        self.assertIn("### Tonight's job, where its time is undecided\n- candidate inflate: time to target: "
                      "inconclusive (host speed varied 2.1×); guest instructions: -0.80 % [-0.81, -0.79] fewer — "
                      "decided on counted work\n\n", text)
        self.assertEqual(text.count("candidate inflate: time to target"), 1)

    def test_regression_summary_b4_and_kcidb_validated_by_kcidb_io(self):
        db = Nights(self)
        db.quiet(8)
        data = night("job-9", {"base": 0.4, "candidate": 0.48}, 50, series=["slow"])
        tonight = self.tonight(db, data, "candidate=slow")
        self.assertEqual(tonight.status, "fail")
        text = exports.summary(tonight)
        self.assertIn("1 regression(s)", text.splitlines()[0])
        self.assertRegex(text, r"\*\*candidate\*\* \[vm\] inflate, time to target: \*\*regression\*\*, \+\d+\.\d % of "
                               r"the same night's base")
        self.assertIn("/results/job-9/balloon/report.html", text)
        self.assertIn("candidate: series `(none)` → `slow`", text)
        self.assertRegex(text, r"\| variant +\| op +\| metric +\| #1 11-01 02:00 +\|")
        (check,) = exports.b4_check(tonight)
        self.assertEqual((check["tool"], check["status"]), ("balloon-harness", "fail"))
        self.assertRegex(check["summary"], r"^nightly: 1 regression\(s\); worst: candidate inflate time to target")

        record = json.loads(json.dumps(exports.kcidb(tonight, data)))
        kcidb_io.schema.LATEST.validate_exactly(record)
        self.assertEqual(record["version"], {"major": kcidb_io.schema.LATEST.major,
                                             "minor": kcidb_io.schema.LATEST.minor})
        tests = {t["path"]: t for t in record["tests"] if t["build_id"].endswith(":candidate")}
        self.assertEqual(tests["balloon.inflate.wall_s"]["status"], "FAIL")
        self.assertEqual(tests["balloon.outcome"]["status"], "PASS")
        self.assertEqual({b["status"] for b in record["builds"]}, {"PASS"})

    def test_a_failed_build_is_reported_with_its_status_never_dropped(self):
        db = Nights(self)
        outs = [{"variant": "base", "test": "1-b", "check": "benchmark", "status": "PASS", "reason": "",
                 "trouble": None, "log": None},
                {"variant": "broken", "test": "2-b", "check": "benchmark", "status": "FAIL", "stage": "build",
                 "reason": "make bzImage failed: virtio_balloon.c:120:2: error: expected ';'", "trouble": None,
                 "log": "/results/job-1/test-results/2/debug.log"},
                {"variant": "oops", "test": "3-b", "check": "benchmark", "status": "FAIL", "stage": "boot",
                 "reason": "kernel reported trouble during boot", "log": None,
                 "trouble": "kernel BUG at drivers/virtio/virtio_balloon.c:867!"}]
        data = night("job-1", {"base": 0.4}, 1, outcomes=outs)
        data["variants"] += [{"name": "broken", "series": ["x"], "kernel": {}},
                             {"name": "oops", "series": ["y"], "kernel": {"release": "6.1.192"}}]
        tonight = self.tonight(db, data)
        self.assertEqual(tonight.status, "fail")
        self.assertIn("2 of 3 variant(s) did not pass: broken FAIL, oops FAIL", exports.summary(tonight))
        record = json.loads(json.dumps(exports.kcidb(tonight, data)))
        kcidb_io.schema.LATEST.validate_exactly(record)
        builds = {b["id"].rsplit(":", 1)[1]: b for b in record["builds"]}
        self.assertEqual(builds["broken"]["status"], "FAIL")
        self.assertIn("error: expected ';'", builds["broken"]["log_excerpt"])
        self.assertEqual(builds["oops"]["status"], "PASS")
        outcome = next(t for t in record["tests"] if t["id"].endswith("oops:outcome"))
        self.assertEqual((outcome["status"], outcome["log_excerpt"]),
                         ("FAIL", "kernel BUG at drivers/virtio/virtio_balloon.c:867!"))
        self.assertNotIn("null", json.dumps(record))

    def test_first_nights_warn_and_quiet_nights_pass(self):
        db = Nights(self)
        first = self.tonight(db, night("job-0", {"base": 0.4, "candidate": 0.36}, 0))
        self.assertEqual(first.status, "warn")
        self.assertIn("no verdict yet", exports.summary(first).splitlines()[0])
        db.quiet(6, seed=1)
        quiet = self.tonight(db, night("job-9", {"base": 0.4, "candidate": 0.36}, 99))
        self.assertEqual(quiet.status, "pass")
        self.assertIn("no regression", exports.summary(quiet).splitlines()[0])
        self.assertEqual(exports.b4_check(quiet)[0]["status"], "pass")


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

    def test_a_job_with_a_staircase_is_read(self):
        path = ROOT / "configs" / "staircase.yaml"  # per_patch: the series is read for its count of patches
        self.assertEqual(nightly.job_config(path, {}, Path(tempfile.mkdtemp())), path)

    def test_an_errored_or_cancelled_test_is_a_harness_error(self):
        doc = night("j", {"base": 0.4}, 1)
        harness_errors(doc)
        doc["outcomes"][0]["status"] = "CANCEL"
        with self.assertRaises(HarnessError) as cm:
            harness_errors(doc)
        self.assertIn("ended CANCEL", cm.exception.cause)


if __name__ == "__main__":
    unittest.main()

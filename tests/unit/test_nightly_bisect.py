"""``nightly --bisect``: the base stored with each night, the bisections table, which night asks for a bisection
of which range (and why not), how its end is worded, and where the morning's outputs name it."""

import json
import sys
import tempfile
import unittest
from dataclasses import replace
from pathlib import Path

import kcidb_io

from harness.commands import nightly
from harness.config.specs import Variant
from harness.judge import exports, history
from harness.judge.nights import Bisected, Night, base_identity, base_of, bisection_of, store_bisection
from harness.results.metrics import LABELS

from tests.unit.test_history import Nights, night

OLD, NEW = "a" * 40, "b" * 40
SLOW = "c" * 40


def git_night(job, walls, seed, sha, **kw):
    """``night`` built on the git base at commit ``sha``."""
    doc = night(job, walls, seed, **kw)
    for v in doc["variants"]:
        v["kernel"]["base"] = f"git:{sha}"
    return doc


def trend(variant, metric="wall_s", verdict="no change", op="inflate"):
    alerting = variant != history.BASE and metric == "wall_s"
    return history.Trend(variant, "vm", op, metric, variant != history.BASE, 1.0, ((1, 1.0), (2, 1.0)), 0.3, None,
                         verdict, alerting)


def tonight(*trends):
    return history.Tonight(Path("/results/job-9"), "2026-12-01T02:00:00+00:00", trends,
                           (Night(1, "2026-11-01", "/results/job-1"), Night(2, "2026-11-02", "/results/job-2")), (),
                           ())


VARIANTS = {"base": Variant("base"), "candidate": Variant("candidate", Path("patches/batch-pfns/v2"))}
FOUND = {"range": "/linux a..b (8 commits)", "op": "inflate", "metric": "guest_insns", "first_bad": SLOW,
         "steps": [{"commit": "d" * 40, "word": "good"}, {"commit": SLOW, "word": "bad"}], "possible": []}
TRANSCRIPT = ("bisect /linux a..b (8 commits): inflate guest instructions +9.40 % [9.3, 9.5] from the good end to "
              "the bad; a commit is bad beyond +4.70 %\n\n  step 1: dddddddddddd note: good (...)\n  step 2: "
              "cccccccccccc virtio_balloon: let the host settle: bad (...)\n\nfirst bad commit: cccccccccccc "
              "virtio_balloon: let the host settle: inflate guest instructions +9.40 % [9.3, 9.5] against the good "
              "end\nbill: 2 commits tried besides the ends, 3 kernel builds, 12 boots, 4.2 min\n")


class BaseColumnTest(unittest.TestCase):
    def test_each_night_stores_its_base_identity(self):
        db = Nights(self)
        run = db.add(git_night("job-1", {"base": 0.4, "candidate": 0.36}, 1, OLD))
        self.assertEqual(base_of(db.conn, run), f"git:{OLD}")
        debian = db.add(night("job-2", {"base": 0.4}, 2))
        self.assertEqual(base_of(db.conn, debian), "linux-source-6.1=6.1.192-2")
        self.assertIsNone(base_of(db.conn, 99))

    def test_the_base_variants_identity_first_else_the_first_built(self):
        doc = {"variants": [{"name": "v1", "kernel": {}}, {"name": "v2", "kernel": {"base": "git:2"}},
                            {"name": "base", "kernel": {"base": "git:1"}}]}
        self.assertEqual(base_identity(doc), "git:1")
        self.assertEqual(base_identity({"variants": doc["variants"][:2]}), "git:2")
        self.assertIsNone(base_identity({"variants": [{"name": "base", "series": []}]}))


class BisectionsTableTest(unittest.TestCase):
    def test_a_nights_bisection_round_trips_and_a_second_replaces_it(self):
        db = Nights(self)
        run = db.add(git_night("job-1", {"base": 0.4}, 1, NEW))
        self.assertIsNone(bisection_of(db.conn, run))
        b = Bisected("base", "inflate", "guest_insns", OLD, NEW, "found", SLOW, "first bad commit: ccc", TRANSCRIPT,
                     "/r/bisect/bisect-1", "balloon-harness bisect job.yaml")
        store_bisection(db.conn, run, b)
        self.assertEqual(bisection_of(db.conn, run), b)
        again = Bisected("base", "inflate", None, OLD, NEW, "error", None, "bisection undecided: x", "x", None, "c")
        store_bisection(db.conn, run, again)
        self.assertEqual(bisection_of(db.conn, run), again)
        self.assertEqual(db.conn.execute("SELECT count(*) FROM bisections").fetchone(), (1,))


class RequestTest(unittest.TestCase):
    def test_a_candidate_regression_bisects_the_candidates_series_by_bisects_own_metric(self):
        night_ = tonight(trend("base"), trend("candidate", verdict="regression"))
        request = history.bisect_request(night_, f"git:{NEW}", f"git:{OLD}", VARIANTS)
        self.assertEqual(request, history.BisectRequest("candidate", Path("patches/batch-pfns/v2"), "inflate", None,
                                                        OLD, NEW, "candidate inflate time to target: regression"))

    def test_the_bases_counted_work_asks_before_its_time_and_with_its_metric(self):
        night_ = tonight(trend("base", verdict="regression"), trend("base", "guest_cpu_s", "higher"),
                         trend("base", "guest_insns", "higher", op="deflate"))
        request = history.bisect_request(night_, f"git:{NEW}", f"git:{OLD}", VARIANTS)
        self.assertEqual((request.variant, request.series, request.op, request.metric), (
            "base", None, "deflate", "guest_insns"))
        night_ = tonight(trend("base", verdict="regression"), trend("base", "guest_cpu_s", "higher"))
        request = history.bisect_request(night_, f"git:{NEW}", f"git:{OLD}", VARIANTS)
        self.assertEqual((request.op, request.metric, request.why), ("inflate", "wall_s",
                                                                     "base inflate time to target: regression"))

    def test_why_not(self):
        moved = tonight(trend("base", "guest_insns", "higher"))
        cases = [
            (tonight(trend("base", verdict="improvement"), trend("base", "qemu_cpu_s", "higher")), f"git:{NEW}",
             f"git:{OLD}", "no bisection: the night did not move"),
            (moved, "linux-source-6.1=6.1.192-2", "linux-source-6.1=6.1.192-1",
             "no bisection of base inflate guest instructions: higher: the base linux-source-6.1=6.1.192-2 is not a "
             "git tree"),
            (moved, f"git:{NEW}", None, "the night alike before (#2) has no git base (none)"),
            (moved, f"git:{NEW}", f"git:{NEW}", "the base did not move since night #2 (bbbbbbbbbbbb)"),
            (tonight(trend("base", "guest_insns", "higher", op="migrate")), f"git:{NEW}", f"git:{OLD}",
             "bisect measures inflate and deflate only")]
        for night_, base, before, said in cases:
            with self.subTest(said=said):
                self.assertIn(said, history.bisect_request(night_, base, before, VARIANTS))

    def test_a_candidate_bisect_with_cannot_apply_is_refused_naming_why(self):
        night_ = tonight(trend("candidate", verdict="regression"))
        for variant, said in ((Variant("candidate", Path("s"), prerequisites=(Path("p"),)), "has prerequisites"),
                              (Variant("candidate", Path("s"), patches=2), "is the first 2 patches of its series"),
                              (None, "has no series in the job that ran")):
            with self.subTest(said=said):
                text = history.bisect_request(night_, f"git:{NEW}", f"git:{OLD}",
                                              {"candidate": variant} if variant else {})
                self.assertEqual(text, "no bisection of candidate inflate time to target: regression: bisect --with "
                                       f"applies one whole series, and candidate {said}")

    def test_a_real_regression_night_on_a_moved_git_base_asks_for_its_range(self):
        db = Nights(self)
        for i in range(6):
            db.add(git_night(f"job-{i}", {"base": 0.4, "candidate": 0.36}, i, OLD))
        doc = git_night("job-9", {"base": 0.4, "candidate": 0.48}, 50, NEW)
        run = db.add(doc)
        night_ = history.Tonight.of(db.conn, run, doc, "2026-12-01T02:00:00+00:00")
        request = history.bisect_request(night_, base_of(db.conn, run), base_of(db.conn, night_.nights[-1].id),
                                         VARIANTS)
        self.assertEqual((request.variant, request.good, request.bad), ("candidate", OLD, NEW))


class BisectedTest(unittest.TestCase):
    REQUEST = history.BisectRequest("base", None, "inflate", "guest_insns", OLD, NEW, "base inflate: higher")

    def test_found_names_the_commit_its_subject_size_and_step(self):
        b = history.bisected(self.REQUEST, "balloon-harness bisect x", Path("/r/bisect-1"), FOUND, TRANSCRIPT)
        self.assertEqual((b.outcome, b.first_bad, b.dir, b.transcript), ("found", SLOW, "/r/bisect-1", TRANSCRIPT))
        self.assertEqual(b.said, "first bad commit: cccccccccccc virtio_balloon: let the host settle: inflate guest "
                                 "instructions +9.40 % [9.3, 9.5] against the good end (bisection step 2 of 2)")

    def test_undecided_and_error_say_why(self):
        record = {**FOUND, "first_bad": None, "steps": FOUND["steps"][:1]}
        text = "bisect ...\n\nbisection undecided at dddddddddddd note: [0.9, 9.9]: the interval straddles the line\n"
        b = history.bisected(self.REQUEST, "c", Path("/r/b"), record, text)
        self.assertEqual((b.outcome, b.said), ("undecided", "bisection undecided at dddddddddddd note: [0.9, 9.9]: "
                                                            "the interval straddles the line"))
        text = "bisect ...\n\nfirst bad commit: one of cccccccccccc a, dddddddddddd b (the others were skipped)\n"
        b = history.bisected(self.REQUEST, "c", Path("/r/b"), {**record, "possible": [SLOW, "d" * 40]}, text)
        self.assertEqual(b.said, "bisection undecided: first bad commit: one of cccccccccccc a, dddddddddddd b (the "
                                 "others were skipped)")
        b = history.bisected(self.REQUEST, "c", None, None, "", "/linux a..b: the change is not between these commits")
        self.assertEqual((b.outcome, b.first_bad, b.dir), ("error", None, None))
        self.assertEqual(b.said, "bisection undecided: it stopped with an error: /linux a..b: the change is not "
                                 "between these commits")


class PublishedTest(unittest.TestCase):
    def night_with(self, bisection):
        db = Nights(self)
        db.quiet(2)
        data = night("job-9", {"base": 0.4, "candidate": 0.36}, 50)
        run = db.add(data)
        return replace(history.Tonight.of(db.conn, run, data, "2026-12-01T02:00:00+00:00"), bisection=bisection), data

    def found(self):
        return history.bisected(history.BisectRequest("candidate", Path("s"), "inflate", None, OLD, NEW, "x"),
                                "balloon-harness bisect job.yaml --good a --bad b", Path("/r/bisect/bisect-1"), FOUND,
                                TRANSCRIPT)

    def test_the_summary_b4_and_kcidb_name_the_first_bad_commit(self):
        night_, data = self.night_with(self.found())
        text = exports.summary(night_)
        self.assertIn("### Bisection (--bisect)\n- **first bad commit: cccccccccccc virtio_balloon: let the host "
                      "settle: inflate guest instructions +9.40 % [9.3, 9.5] against the good end (bisection step 2 "
                      "of 2)**\n- candidate's inflate guest instructions, over the base's "
                      "`aaaaaaaaaaaa..bbbbbbbbbbbb`, transcript `/r/bisect/bisect-1/bisect.txt`\n- rerun: "
                      "`balloon-harness bisect job.yaml --good a --bad b`\n", text)
        checks = exports.b4_check(night_, data)
        self.assertEqual(checks[0]["tool"], "balloon-harness")  # the night's own record stays first
        (b4,) = [c for c in checks if c["tool"] == "balloon-harness bisect"]
        self.assertEqual((b4["status"], b4["url"], b4["details"]), ("fail", "/r/bisect/bisect-1/bisect.txt",
                                                                    TRANSCRIPT))
        self.assertTrue(b4["summary"].startswith("first bad commit: cccccccccccc virtio_balloon: let the host settle"))
        record = json.loads(json.dumps(exports.kcidb(night_, data)))
        kcidb_io.schema.LATEST.validate_exactly(record)
        (test,) = [t for t in record["tests"] if t["path"] == "balloon.bisect"]
        self.assertEqual((test["status"], test["build_id"], test["log_excerpt"]), (
            "FAIL", "balloon_harness:job-9:candidate", TRANSCRIPT))
        self.assertIn(test["build_id"], {b["id"] for b in record["builds"]})
        self.assertTrue(test["comment"].startswith("first bad commit: cccccccccccc"))
        self.assertEqual((test["misc"]["first_bad"], test["misc"]["good"], test["misc"]["bad"]), (SLOW, OLD, NEW))

    def test_undecided_is_done_an_error_is_error_and_no_bisection_only_a_line(self):
        request = history.BisectRequest("base", None, "inflate", "wall_s", OLD, NEW, "x")
        for b, status, b4 in ((history.bisected(request, "c", Path("/b"), {**FOUND, "first_bad": None},
                                                "bisection undecided at d: why\n"), "DONE", "warn"),
                              (history.bisected(request, "c", None, None, "", "boom"), "ERROR", "warn")):
            night_, data = self.night_with(b)
            record = json.loads(json.dumps(exports.kcidb(night_, data)))
            kcidb_io.schema.LATEST.validate_exactly(record)
            self.assertEqual([t["status"] for t in record["tests"] if t["path"] == "balloon.bisect"], [status])
            self.assertEqual([c["status"] for c in exports.b4_check(night_, data)
                              if c["tool"] == "balloon-harness bisect"], [b4])
            self.assertIn(f"- **{b.said}**\n- base's inflate {LABELS[b.metric]}, over the base's",
                          exports.summary(night_))
        night_, data = self.night_with("no bisection: the night did not move")
        self.assertIn("### Bisection (--bisect)\n- no bisection: the night did not move\n\n", exports.summary(night_))
        self.assertEqual([c["tool"] for c in exports.b4_check(night_, data)], ["balloon-harness"])
        self.assertNotIn("balloon.bisect", json.dumps(exports.kcidb(night_, data)))
        night_, _ = self.night_with(None)
        self.assertNotIn("Bisection", exports.summary(night_))


class CommandTest(unittest.TestCase):
    def test_the_bisect_command_line_from_the_checkout(self):
        request = history.BisectRequest("candidate", Path("patches/batch-pfns/v2"), "deflate", None, OLD, NEW, "x")
        argv = nightly.bisect_argv(Path("/j/nightly.yaml"), {"git": "/src/linux", "ref": "main"}, request,
                                   Path("/r/bisect"))
        self.assertEqual(argv[1:], ["bisect", "/j/nightly.yaml", "--tree", "/src/linux", "--good", OLD, "--bad", NEW,
                                    "--results-dir", "/r/bisect", "--with",
                                    str(nightly.jobs.ROOT / "patches/batch-pfns/v2"), "--op", "deflate"])
        self.assertEqual(argv[0], str(Path(sys.executable).with_name("balloon-harness")))
        base = history.BisectRequest("base", None, "inflate", "guest_insns", OLD, NEW, "x")
        argv = nightly.bisect_argv(Path("/j.yaml"), {"git": "linux", "ref": "m"}, base, Path("/r"))
        self.assertEqual(argv[3:5], ["--tree", str(nightly.jobs.ROOT / "linux")])
        self.assertEqual(argv[-4:], ["--op", "inflate", "--metric", "guest_insns"])

    def test_run_bisect_finds_its_directory_and_the_error_it_said(self):
        out = Path(tempfile.mkdtemp()) / "bisect"
        said = "balloon-harness: error: /linux a..b: the change is not between these commits"
        directory, error = nightly.run_bisect(
            ["sh", "-c", f"mkdir {out}/bisect-1 && echo '{said}' >&2 && echo '  hint: nothing' >&2 && exit 2"], out)
        self.assertEqual((directory, error), (out / "bisect-1", "/linux a..b: the change is not between these commits"))
        directory, error = nightly.run_bisect(["sh", "-c", "echo Traceback >&2; exit 2"], out)
        self.assertEqual((directory, error), (None, "exit status 2: Traceback"))
        self.assertEqual(nightly.run_bisect(["sh", "-c", f"mkdir {out}/bisect-2"], out), (out / "bisect-2", ""))
        self.assertEqual(nightly.run_bisect(["/nonexistent/balloon-harness"], out),
                         (None, "/nonexistent/balloon-harness: cannot run: No such file or directory"))


if __name__ == "__main__":
    unittest.main()

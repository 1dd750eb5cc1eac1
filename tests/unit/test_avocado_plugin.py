import json
import os
import tempfile
import types
import unittest
from pathlib import Path
from unittest import mock

from trees import BASE, git, write_tree

from harness.avocado import plugins
from harness.config import loader
from harness.results import contract


class PluginTest(unittest.TestCase):
    def test_interrupted_job_keeps_completed_samples_and_names_every_variant(self):
        job = Path(tempfile.mkdtemp())
        done, cut, broken = (job / "test-results" / n for n in ("1-base", "2-v2", "3-v3"))
        sample = contract.Sample("base", 1, 1, "inflate", False, 2 << 30, 512 << 20, 0.4, 0.2, 0.35, 0.41, {}, 0.1,
                                2055964, 483100)
        contract.write_json(done / "data" / contract.TEST_FILE, contract.test_record(
            "base", 1, {"release": "6.1.192"}, {"accel": "tcg"}, [sample], []))
        for d, v, extra in ((done, "base", {}), (cut, "v2", {}), (broken, "v3", {"stage": "boot"})):
            contract.write_json(d / "data" / contract.IDENTITY_FILE, {"variant": v, "round": 1, "axes": {}, **extra})
        (broken / "guest").mkdir()
        (broken / "guest" / "console.log").write_text(
            "[ 1.2] virtio_balloon virtio1: probing\n[ 1.3] kernel BUG at drivers/virtio/virtio_balloon.c:867!\n"
            "[ 1.3] RIP: 0010:virtballoon_probe+0x1a/0x3c0\n[ 1.3] Call Trace:\n")
        tests = [{"name": "1-benchmark.py:Benchmark.test;run-base", "status": "PASS", "logdir": str(done)},
                 {"name": "2-benchmark.py:Benchmark.test;run-v2", "status": "INTERRUPTED", "logdir": str(cut),
                  "fail_reason": "SIGTERM"},
                 {"name": "3-functional.py:Functional.test_reboot;run-v3", "status": "FAIL", "logdir": str(broken),
                  "fail_reason": "kernel reported trouble during boot", "logfile": str(broken / "debug.log")}]
        text = plugins.finish(job, tests)
        self.assertEqual(text.split("\n\n")[1].splitlines()[0],
                         "2 of 3 variant(s) did not pass: v2 INTERRUPTED in benchmark; v3 FAIL in test_reboot")
        self.assertIn("v2: not measured (INTERRUPTED: SIGTERM)", text)
        self.assertIn("v3: not measured (FAIL: kernel BUG at drivers/virtio/virtio_balloon.c:867! "
                      "(RIP: virtballoon_probe+0x1a/0x3c0))", text)
        doc = json.loads((job / "balloon" / "results.json").read_text())
        self.assertEqual(len(doc["samples"]), 1)
        self.assertEqual([(o["variant"], o["status"], o.get("stage"), o["samples"]) for o in doc["outcomes"]],
                         [("base", "PASS", None, True), ("v2", "INTERRUPTED", None, False),
                          ("v3", "FAIL", "boot", False)])
        self.assertTrue((job / "balloon" / "report.html").exists())

    def test_a_job_whose_results_cannot_be_written_fails(self):
        job = types.SimpleNamespace(logdir=tempfile.mkdtemp(), config={}, exitcode=0)
        with mock.patch.object(plugins, "finish", side_effect=OSError(28, "No space left on device")):
            plugins.BalloonResult().render(types.SimpleNamespace(tests=[]), job)
        with self.assertRaises(SystemExit) as cm:
            plugins.BalloonJobCheck().post(job)
        self.assertEqual(cm.exception.code, 2)
        ok = types.SimpleNamespace(logdir=tempfile.mkdtemp(), config={}, exitcode=0)
        plugins.BalloonJobCheck().post(ok)  # nothing lost: the job's own exit status stands

    def test_range_diff_between_consecutive_series_versions_of_the_job(self):
        tmp = Path(tempfile.mkdtemp())
        repo = write_tree(tmp / "linux", BASE)
        (repo / "Makefile").write_text("all:\n")
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        git(repo, "tag", "v6.1")
        for version, value in (("v1", "1"), ("v2", "2")):
            write_tree(repo, [f"\tstat_20 = {value};" if i == 20 else x for i, x in enumerate(BASE, 1)])
            git(repo, "commit", "-qam", "virtio-balloon: change stat_20")
            git(repo, "format-patch", "-q", "-o", tmp / version, "HEAD~1")
            git(repo, "reset", "-q", "--hard", "v6.1")
        job = tmp / "job.yaml"
        job.write_text(f"base: {{git: {repo}, ref: v6.1}}\nvariants: !mux\n  base: {{variant: base}}\n"
                       f"  v1: {{variant: v1, series: {tmp / 'v1'}}}\n  v2: {{variant: v2, series: {tmp / 'v2'}}}\n")
        with mock.patch.dict(os.environ, {"BALLOON_HARNESS_CACHE": str(tmp / "cache")}):
            diffs = plugins.range_diffs([loader.load(job)])
        self.assertEqual(list(diffs), ["v2"])
        self.assertIn("-+\tstat_20 = 1;", diffs["v2"])
        self.assertIn("++\tstat_20 = 2;", diffs["v2"])


if __name__ == "__main__":
    unittest.main()

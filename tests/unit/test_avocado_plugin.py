import json
import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from harness import avocado_plugin, results
from trees import BASE, git, write_tree


class PluginTest(unittest.TestCase):
    def test_interrupted_job_keeps_completed_samples_and_names_the_missing_tests(self):
        job = Path(tempfile.mkdtemp())
        done, cut = job / "test-results" / "1-base", job / "test-results" / "2-v2"
        sample = results.Sample("base", 1, 1, "inflate", False, 2 << 30, 512 << 20, 0.4, 0.2, 0.35, 0.41, {}, 0.1,
                                2055964, 483100)
        results.write_json(done / "data" / results.TEST_FILE, results.test_record(
            "base", 1, {"release": "6.1.192"}, {"accel": "tcg"}, [sample], []))
        cut.mkdir(parents=True)
        tests = [{"name": "1-base", "status": "PASS", "logdir": str(done)},
                 {"name": "2-v2", "status": "INTERRUPTED", "logdir": str(cut), "fail_reason": "SIGTERM"}]
        text = avocado_plugin.finish(job, tests)
        self.assertIn("no samples from: 2-v2 (INTERRUPTED)", text)
        doc = json.loads((job / "balloon" / "results.json").read_text())
        self.assertEqual(len(doc["samples"]), 1)
        self.assertEqual(doc["missing"], [{"test": "2-v2", "status": "INTERRUPTED", "reason": "SIGTERM"}])
        self.assertTrue((job / "balloon" / "report.html").exists())

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
            diffs = avocado_plugin.range_diffs([job])
        self.assertEqual(list(diffs), ["v2"])
        self.assertIn("-+\tstat_20 = 1;", diffs["v2"])
        self.assertIn("++\tstat_20 = 2;", diffs["v2"])


if __name__ == "__main__":
    unittest.main()

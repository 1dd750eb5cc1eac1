import json
import tempfile
import unittest
from pathlib import Path

from harness import avocado_plugin, results


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


if __name__ == "__main__":
    unittest.main()

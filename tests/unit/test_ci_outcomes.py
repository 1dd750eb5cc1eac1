""".ci/outcomes.py counts make check's outcomes from the runners' records: a skip or a cancel fails the run."""

import importlib.util
import io
import json
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("outcomes", ROOT / ".ci" / "outcomes.py")
outcomes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(outcomes)

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.unit.test_a" name="test_ok"/>
<testcase classname="tests.unit.test_a" name="test_bad">
  <failure message="AssertionError: 1 != 2">trace</failure></testcase>
<testcase classname="tests.unit.test_a" name="test_broken"><error message="fixture failed">trace</error></testcase>
<testcase classname="tests.integration.test_b" name="test_browser">
  <skipped type="pytest.skip" message="needs headless Chromium"/></testcase>
<testcase classname="tests.integration.test_b" name="test_kvm">
  <skipped type="pytest.skip" message="optional: needs /dev/kvm"/></testcase>
</testsuite></testsuites>
"""


def avocado_job(root, *tests):
    job = root / "job-2026-12-01T00.00-abcdef0"
    job.mkdir(parents=True)
    (job / "job.log").write_text("")
    (job / "results.json").write_text(json.dumps({"tests": [
        {"name": name, "status": status, "fail_reason": reason} for name, status, reason in tests]}))


class Outcomes(unittest.TestCase):
    def run_main(self, *paths):
        out = io.StringIO()
        with redirect_stdout(out):
            rc = outcomes.main([str(p) for p in paths])
        return rc, out.getvalue().splitlines()

    def test_junit_counts_failures_errors_and_required_skips_as_failed(self):
        root = Path(tempfile.mkdtemp())
        (root / "pytest.xml").write_text(JUNIT)
        rc, lines = self.run_main(root)
        self.assertEqual(rc, 1)
        self.assertEqual(lines[-1], "1 passed, 3 failed, 1 skipped")
        self.assertIn("FAIL: tests.integration.test_b::test_browser: skipped: needs headless Chromium", lines)
        self.assertIn("FAIL: tests.unit.test_a::test_bad: AssertionError: 1 != 2", lines)

    def test_an_avocado_cancel_fails_the_run_and_names_the_test_and_its_reason(self):
        root = Path(tempfile.mkdtemp())
        avocado_job(root, ("1-benchmark.py:Benchmark.test;run-base", "PASS", ""),
                    ("2-benchmark.py:Benchmark.test;run-v2", "CANCEL", "MemAvailable 1900 MiB is short"),
                    ("3-functional.py:Functional.test_stress;run-v2", "FAIL", "kernel BUG at ..."))
        rc, lines = self.run_main(root)
        self.assertEqual(rc, 1)
        self.assertEqual(lines[-1], "1 passed, 2 failed, 0 skipped")
        self.assertIn("FAIL: 2-benchmark.py:Benchmark.test;run-v2: CANCEL: MemAvailable 1900 MiB is short", lines)

    def test_all_passed_is_exit_0(self):
        root = Path(tempfile.mkdtemp())
        avocado_job(root, ("1-a", "PASS", ""), ("2-b", "WARN", ""))
        self.assertEqual(self.run_main(root), (0, ["2 passed, 0 failed, 0 skipped"]))

    def test_no_records_at_all_fails(self):
        rc, lines = self.run_main(Path(tempfile.mkdtemp()))
        self.assertEqual(rc, 1)
        self.assertEqual(lines[-1], "0 passed, 1 failed, 0 skipped")


if __name__ == "__main__":
    unittest.main()

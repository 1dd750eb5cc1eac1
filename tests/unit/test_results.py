import json
import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from harness.errors import HarnessError
from harness.results import contract


class ResultsTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())

    def test_write_json_is_atomic_and_keeps_old_file_on_failure(self):
        path = self.dir / "r.json"
        contract.write_json(path, {"a": 1})
        with mock.patch("json.dump", side_effect=OSError(28, "No space left on device")):
            with self.assertRaises(HarnessError) as cm:
                contract.write_json(path, {"a": 2})
        self.assertIn("No space left on device", str(cm.exception))
        self.assertEqual(json.loads(path.read_text()), {"a": 1})
        self.assertEqual(os.listdir(self.dir), ["r.json"])

    def test_gather_builds_the_contract_from_test_records(self):
        for i, variant in enumerate(("base", "v2"), 1):
            data = self.dir / "test-results" / f"{i}-x" / "data"
            sample = contract.Sample(variant, 1, 1, "inflate", False, 2 << 30, 512 << 20, 0.4, 0.2, 0.35, 0.41,
                                    {"CPU 0/TCG": 0.3}, 0.1, 2055964, 483100)
            kernel = {"release": "6.1.192", "config_sha256": "c", "bzimage_sha256": "b", "series": [variant]}
            contract.write_json(data / contract.TEST_FILE, contract.test_record(
                variant, 1, kernel, {"accel": "tcg", "boot_s": 3.0, "qemu_version": "7.2"}, [sample], []))
        doc = contract.gather(self.dir)
        self.assertEqual(doc["schema"], 1)
        self.assertEqual([v["name"] for v in doc["variants"]], ["base", "v2"])
        self.assertEqual(doc["job"]["accel"], "tcg")
        keys = {"variant", "boot", "cycle", "op", "warmup", "from_bytes", "to_bytes", "wall_s", "t50_s", "t90_s",
                "qemu_cpu_s", "guest_cpu_s", "guest_memtotal_before_kb", "guest_memtotal_after_kb"}
        self.assertTrue(keys <= set(doc["samples"][0]))

    def test_load_of_an_empty_job_says_so(self):
        with self.assertRaises(HarnessError) as cm:
            contract.load(self.dir)
        self.assertIn("no balloon results", str(cm.exception))


if __name__ == "__main__":
    unittest.main()

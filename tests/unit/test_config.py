import tempfile
import unittest
from pathlib import Path

from harness import config
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(text):
    d = Path(tempfile.mkdtemp())
    (d / "job.yaml").write_text(text)
    return d / "job.yaml"


class ConfigTest(unittest.TestCase):
    def test_default_job_loads_with_variants_and_rounds(self):
        job = config.load(ROOT / "configs" / "default.yaml")
        self.assertEqual([v.name for v in job.variants], ["base", "v1", "v2"])
        self.assertIsNone(job.variant("base").series)
        self.assertEqual(job.variant("v2").series, Path("patches/batch-pfns/v2"))
        self.assertEqual(job.rounds, 3)
        self.assertEqual(job.guest.memory_mib, 2048)
        self.assertEqual(job.workload.target_mib, 512)

    def test_mistyped_key_names_file_line_and_closest_key(self):
        path = write("base: {debian: linux-source-6.1}\nguest:\n  memory_mib: 1024\n  acel: tcg\n")
        with self.assertRaises(ConfigError) as cm:
            config.load(path)
        self.assertIn(f"{path}:4", str(cm.exception))
        self.assertIn("guest.acel", str(cm.exception))
        self.assertIn("did you mean 'accel'", str(cm.exception))

    def test_unknown_section_is_named(self):
        with self.assertRaises(ConfigError) as cm:
            config.load(write("workloads: {cycles: 3}\n"))
        self.assertIn(":1: unknown key 'workloads'", str(cm.exception))
        self.assertIn("'workload'", str(cm.exception))

    def test_invalid_yaml_names_line(self):
        path = write("guest:\n  memory_mib: [1\n")
        with self.assertRaises(ConfigError) as cm:
            config.load(path)
        self.assertIn("invalid YAML", str(cm.exception))
        self.assertRegex(str(cm.exception), rf"{path}:\d+")

    def test_target_above_guest_ram_or_below_floor(self):
        for target in (4096, 2048, 10):
            with self.subTest(target=target), self.assertRaises(ConfigError) as cm:
                config.load(write(f"guest: {{memory_mib: 2048}}\nworkload: {{target_mib: {target}}}\n"))
            self.assertIn(f"balloon target {target} MiB", str(cm.exception))
            self.assertIn(":2:", str(cm.exception))

    def test_wrong_type_and_bad_accel(self):
        with self.assertRaises(ConfigError) as cm:
            config.load(write("workload: {cycles: three}\n"))
        self.assertIn("workload.cycles must be int", str(cm.exception))
        with self.assertRaises(ConfigError) as cm:
            config.load(write("guest: {accel: hvf}\n"))
        self.assertIn("accel 'hvf'", str(cm.exception))

    def test_git_base_needs_ref(self):
        with self.assertRaises(ConfigError) as cm:
            config.load(write("base: {git: /src/linux}\n"))
        self.assertIn("needs a ref", str(cm.exception))

    def test_job_files_are_told_from_other_mux_files(self):
        self.assertTrue(config.is_job_file(ROOT / "configs" / "check.yaml"))
        self.assertTrue(config.is_job_file(write("workloads: {cycles: 3}\n")))
        self.assertFalse(config.is_job_file(write("timeout: 30\ndistro: !mux\n  fedora: {name: f}\n")))

    def test_from_params_rebuilds_the_same_job(self):
        items = [
            ("/run/base", "debian", "linux-source-6.1"),
            ("/run/guest", "memory_mib", 1024),
            ("/run/workload", "target_mib", 256),
            ("/run/variants/v2", "variant", "v2"),
            ("/run/variants/v2", "series", "patches/batch-pfns/v2"),
            ("/run/rounds/r1", "round", 1),
        ]
        job = config.from_params(items)
        self.assertEqual(job.guest.memory_mib, 1024)
        self.assertEqual(job.variant("v2").series, Path("patches/batch-pfns/v2"))
        with self.assertRaises(ConfigError) as cm:
            config.from_params([("/run/guest", "memory", 1024)])
        self.assertIn("did you mean 'memory_mib'", str(cm.exception))


if __name__ == "__main__":
    unittest.main()

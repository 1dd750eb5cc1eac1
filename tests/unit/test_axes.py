"""Axes of a job: named !mux nodes whose leaves override sections, expanded, recorded, and compared apart."""

import json
import random
import tempfile
import unittest
from pathlib import Path

from test_config import write

from harness.config import loader, specs
from harness.errors import ConfigError
from harness.judge import html, policy, report, stats
from harness.results import contract

ROOT = Path(__file__).resolve().parents[2]
MATRIX = """\
kernel: {cmdline: quiet, fragments: [configs/kernel/balloon.config]}
init_on_alloc: !mux
  "off": {kernel: {cmdline: init_on_alloc=0}}
  "on": {kernel: {cmdline: init_on_alloc=1}}
profile: !mux
  minimal: {kernel: {profile: minimal}}
  defconfig: {kernel: {profile: defconfig, fragments: [extra.config]}}
scenario: !mux
  small: {guest: {memory_mib: 2048}, workload: {target_mib: 512}}
  seed-8g: {guest: {memory_mib: 8192}, workload: {target_mib: 1024}}
qemu_build: !mux
  system: {qemu: {source: system}}
  batched: {qemu: {source: debian, series: patches/qemu/batch-discard}}
variants: !mux
  base: {variant: base}
  v2: {variant: v2, series: patches/batch-pfns/v2, cmdline: loglevel=7}
"""


class AxesConfigTest(unittest.TestCase):
    def test_axes_expand_to_every_combination_with_leaf_overrides(self):
        job = loader.load(write(MATRIX))
        self.assertEqual(job.axes, {"init_on_alloc": ("off", "on"), "profile": ("minimal", "defconfig"),
                                    "scenario": ("small", "seed-8g"), "qemu_build": ("system", "batched")})
        self.assertEqual(len(job.settings), 16)
        choice, first = job.settings[0]
        self.assertEqual(choice, {"init_on_alloc": "off", "profile": "minimal", "scenario": "small",
                                  "qemu_build": "system"})
        self.assertEqual(first.kernel.cmdline, "quiet init_on_alloc=0")
        self.assertEqual(job.kernel, first.kernel)  # the job file's Job is its first combination
        last = job.settings[-1][1]
        self.assertEqual((last.kernel.profile, last.kernel.cmdline), ("defconfig", "quiet init_on_alloc=1"))
        self.assertEqual(last.kernel.fragments, (Path("configs/kernel/balloon.config"), Path("extra.config")))
        self.assertEqual((last.guest.memory_mib, last.workload.target_mib), (8192, 1024))
        self.assertEqual(last.qemu, specs.QemuSpec("debian", Path("patches/qemu/batch-discard")))
        self.assertEqual(job.cmdline(job.variant("v2")), "quiet init_on_alloc=0 loglevel=7")

    def test_targets_default_to_ram_down_to_target_and_the_seed_scenario_is_named(self):
        self.assertEqual(loader.load(write("guest: {memory_mib: 1024}\nworkload: {target_mib: 256}\n")).workload.pairs(
            1024), ((1024, 256),))
        seed = next(job for choice, job in loader.load(ROOT / "configs" / "scenarios.yaml").settings
                    if choice["scenario"] == "seed-8g")
        self.assertEqual((seed.guest.memory_mib, seed.workload.pairs(8192)), (8192, ((8192, 1024),)))

    def test_from_params_gives_the_test_its_combination_and_leaves(self):
        items = [("/run/kernel", "cmdline", "quiet"),
                 ("/run/init_on_alloc/on/kernel", "cmdline", "init_on_alloc=1"),
                 ("/run/scenario/seed-8g/guest", "memory_mib", 8192),
                 ("/run/scenario/seed-8g/workload", "target_mib", 1024),
                 ("/run/qemu_build/batched/qemu", "source", "debian"),
                 ("/run/qemu_build/batched/qemu", "series", "patches/qemu/batch-discard"),
                 ("/run/variants/base", "variant", "base")]
        job = loader.from_params(items)
        self.assertEqual(job.axes, {"init_on_alloc": "on", "scenario": "seed-8g", "qemu_build": "batched"})
        self.assertEqual((job.kernel.cmdline, job.guest.memory_mib, job.qemu.source),
                         ("quiet init_on_alloc=1", 8192, "debian"))

    def test_axis_errors_name_file_line_and_cause(self):
        cases = [("kernel: !mux\n  a: {profile: minimal}\n", "job.yaml:1", "section 'kernel' cannot be a !mux"),
                 ("x: !mux\n  a: {}\n", "job.yaml:2", "axis leaf x/a sets nothing"),
                 ("x: !mux\n  a: {variants: {}}\n", "job.yaml:2", "an axis leaf cannot set 'variants'"),
                 ("x: !mux\n  a: {kernel: {profil: distro}}\n", "job.yaml:2", "did you mean 'profile'"),
                 ("x: !mux\n  a: {guest: {memory_mib: 64}}\n", "job.yaml:2", "below the 128 MiB floor"),
                 ("kernel: {profile: tiny}\n", "job.yaml:1", "unknown profile 'tiny'"),
                 ("qemu: {series: patches/qemu/batch-discard}\n", "job.yaml:1", "needs a QEMU built from source"),
                 ("qemu: {source: fedora}\n", "job.yaml:1", "'fedora' is not one of system, debian"),
                 ("workload:\n  targets: [[2048, 512], [512, 2048]]\n", "job.yaml:2", "[512, 2048] is not [from_mib"),
                 ("workload:\n  targets: [[4096, 512]]\n", "job.yaml:2", "<= the guest's 2048 MiB")]
        for text, where, cause in cases:
            with self.subTest(text=text), self.assertRaises(ConfigError) as cm:
                loader.load(write(text))
            self.assertIn(where, str(cm.exception))
            self.assertIn(cause, str(cm.exception))

    def test_shipped_matrix_jobs_load(self):
        for name in ("matrix-kernel.yaml", "matrix-qemu.yaml", "scenarios.yaml"):
            with self.subTest(name):
                job = loader.load(ROOT / "configs" / name)
                self.assertGreater(len(job.settings), 1)


def doc():
    """base and v2 under init_on_alloc off/on: on doubles the time; v2 is 10 % faster under both."""
    rng = random.Random(5)
    samples = []
    for leaf, slow in (("off", 1.0), ("on", 2.0)):
        for variant, speed in (("base", 1.0), ("v2", 0.9)):
            samples += [{"variant": variant, "boot": boot, "cycle": c, "op": "inflate", "warmup": False,
                         "host": "vm", "axes": {"init_on_alloc": leaf},
                         "wall_s": 0.4 * slow * speed * rng.gauss(1, 0.01)} for boot in (1, 2, 3) for c in (1, 2, 3)]
    return {"job": {}, "variants": [{"name": "base", "kernel": {}, "series": []},
                                    {"name": "v2", "kernel": {}, "series": []}], "samples": samples}


class AxesComparisonTest(unittest.TestCase):
    def test_variants_compared_within_a_setting_and_the_axis_within_a_variant(self):
        comps = policy.comparisons(doc())
        variant = {c.setting: c for c in comps if c.axis == "variant"}
        self.assertEqual(set(variant), {"init_on_alloc=off", "init_on_alloc=on"})
        for c in variant.values():
            self.assertEqual((c.variant, c.baseline, c.verdict), ("v2", "base", "faster"))
            self.assertAlmostEqual(c.ratio, 0.9, delta=0.02)
        axis = {c.setting: c for c in comps if c.axis == "init_on_alloc"}
        self.assertEqual(set(axis), {"variant=base", "variant=v2"})
        for c in axis.values():
            self.assertEqual((c.variant, c.baseline, c.verdict), ("init_on_alloc=on", "init_on_alloc=off", "slower"))
            self.assertAlmostEqual(c.ratio, 2.0, delta=0.05)
        record = stats.record(axis["variant=v2"])  # results.json keeps the key it has always had
        self.assertEqual(list(record)[-6:-4], ["primary", "where"])
        self.assertEqual(record["where"], "variant=v2")

    def test_pooling_an_axis_when_asked(self):
        from harness.commands import compare
        pooled = compare.pool(doc(), ["init_on_alloc"])
        (c,) = policy.comparisons(pooled)
        self.assertEqual((c.variant, c.setting, c.axis), ("v2", None, "variant"))
        with self.assertRaises(ConfigError) as cm:
            compare.pool(doc(), ["profile"])
        self.assertIn("--pool profile: no such axis", str(cm.exception))

    def test_table_has_one_part_per_thing_compared_and_html_lists_settings(self):
        d = doc()
        text = report.table(d)
        self.assertIn("vs base (95 % CI)", text)
        self.assertIn("vs init_on_alloc=off (95 % CI)", text)
        self.assertIn("init_on_alloc=on", text)
        d["settings"] = [{"axes": {"init_on_alloc": leaf}, "qemu_build": {"version": "7.2.22 (balloon-harness)",
                                                                           "source": "qemu=1:7.2", "series": ["x"]},
                          "memory_mib": 2048, "cpus": 1, "cmdline": f"init_on_alloc={n}"}
                         for n, leaf in enumerate(("off", "on"))]
        page = html.page(d, policy.comparisons(d))
        self.assertIn('id="settings"', page)
        self.assertIn("init_on_alloc=1", page)
        self.assertIn("vs init_on_alloc=off", page)

    def test_gather_records_axes_per_sample_and_settings(self):
        job_dir = Path(tempfile.mkdtemp())
        for n, leaf in enumerate(("off", "on"), 1):
            data = job_dir / "test-results" / f"0{n}-t" / "data"
            data.mkdir(parents=True)
            guest = {"host": "vm", "axes": {"init_on_alloc": leaf}, "memory_mib": 2048, "cpus": 1,
                     "cmdline": f"init_on_alloc={n - 1}", "qemu_build": {"source": "system"}, "boot_s": 3.0}
            rec = contract.test_record("base", 1, {"release": "6.1"}, guest, [], [])
            rec["samples"] = [{"variant": "base", "boot": 1, "cycle": 1, "op": "inflate", "warmup": False,
                               "wall_s": 0.4}]
            (data / contract.TEST_FILE).write_text(json.dumps(rec))
        d = contract.gather(job_dir)
        self.assertEqual([s["axes"] for s in d["samples"]], [{"init_on_alloc": "off"}, {"init_on_alloc": "on"}])
        self.assertEqual(len(d["variants"]), 2)  # one kernel entry per setting
        self.assertEqual([st["cmdline"] for st in d["settings"]], ["init_on_alloc=0", "init_on_alloc=1"])
        self.assertEqual((d["job"]["cmdline"], d["job"]["host"]), ("per setting", "vm"))  # not the last test's
        self.assertEqual(stats.setting(d["samples"][1], per_host=True), "vm, init_on_alloc=on")


if __name__ == "__main__":
    unittest.main()

"""Balloon jobs' variant IDs name the mux leaves (``r2-v1``); the tests still find their variant, round and axes."""

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from avocado.core.parameters import AvocadoParams
from avocado.core.varianter import Varianter
from avocado_varianter_yaml_to_mux.mux import MuxTree, MuxTreeNode
from avocado_varianter_yaml_to_mux.varianter_yaml_to_mux import create_from_yaml

from harness.avocado import plugins, varianter
from harness.config import loader
from harness.intake.series import count
from harness.judge import outcomes
from harness.results import contract

ROOT = Path(__file__).resolve().parents[2]
AVOCADO = Path(sys.executable).parent / "avocado"


def variants(*args):
    """``avocado variants`` of the job files: the printed IDs and the dumped variants (as a Varianter's)."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "variants.json"
        out = subprocess.run([str(AVOCADO), "variants", "--json-variants-dump", str(dump), *args], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=120).stdout
        state = json.loads(dump.read_text())
    ids = [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("Variant ")]
    return out, ids, list(Varianter(state=state).itertests())


def mux_tree(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(text)
        f.flush()
        root = MuxTreeNode()
        root.merge(create_from_yaml([f.name]))
    return MuxTree(root)


class VariantIdsTest(unittest.TestCase):
    def test_default_job_names_round_then_variant_and_each_test_finds_both(self):
        out, ids, dumped = variants("-m", "configs/default.yaml")
        self.assertEqual([f"r{r}-{v}" for r in range(1, 7) for v in ("base", "v1", "v2")], ids)
        self.assertEqual(1, out.count("Multiplex variants"), "yaml_to_mux must not multiplex the job again")
        self.assertEqual(ids, [d["variant_id"] for d in dumped])
        for d in dumped:  # what a test's setUp (harness/avocado/base.py) reads from its params
            params = AvocadoParams(d["variant"], d["paths"])
            job = loader.from_params(params.iteritems())
            self.assertEqual(d["variant_id"], f"r{params.get('round')}-{job.variant(params.get('variant')).name}")

    def test_axes_join_in_file_order_and_the_params_keep_them(self):
        _, ids, dumped = variants("-m", "configs/matrix-kernel.yaml")
        self.assertEqual([f"r{r}-{p}-{c}" for r in (1, 2, 3) for p in ("minimal", "distro")
                          for c in ("default", "off", "on")], ids)
        for d in dumped:
            axes = loader.from_params(AvocadoParams(d["variant"], d["paths"]).iteritems()).axes
            self.assertEqual(d["variant_id"].split("-", 1)[1], f"{axes['profile']}-{axes['init_on_alloc']}")
        _, ids, _ = variants("-m", "configs/scenarios.yaml")
        self.assertEqual(["r1-default-2g-base", "r1-default-2g-v2", "r1-seed-8g-base"], ids[:3])

    def test_a_mapping_inside_a_section_reaches_the_test(self):
        _, ids, dumped = variants("-m", "configs/ranges.yaml")
        self.assertEqual(["r1-base", "r1-v1", "r1-v2"], ids[:3])
        job = loader.from_params(AvocadoParams(dumped[0]["variant"], dumped[0]["paths"]).iteritems())
        self.assertEqual((("x-ranges", "on"),), job.qemu.balloon)

    def test_a_variants_own_qemu_and_the_jobs_pairs_reach_its_tests(self):
        _, ids, dumped = variants("-m", "configs/seed.yaml")
        self.assertEqual(["r1-base", "r1-base-debian", "r1-base-batched", "r1-batch-pfns-v2", "r1-ranges-v3"], ids[:5])
        for d, (name, series, props) in zip(dumped, [("base", "v2", ()), ("base-debian", None, ()),
                                                     ("base-batched", "batch-discard", ()),
                                                     ("batch-pfns-v2", "batch-discard", ()),
                                                     ("ranges-v3", "v2", (("x-ranges", "on"),))]):
            job = loader.from_params(AvocadoParams(d["variant"], d["paths"]).iteritems())
            wanted = job.qemu_of(job.variant(name))
            self.assertEqual((series, props), (wanted.series and wanted.series.name, wanted.balloon))
            self.assertEqual(job.variant(name).series, loader.load(ROOT / "configs/seed.yaml").variant(name).series)
            self.assertEqual(loader.load(ROOT / "configs/seed.yaml").pairs, job.pairs)

    def test_per_patch_gives_every_prefix_its_variant_in_each_round_and_the_steps_reach_the_tests(self):
        _, ids, dumped = variants("-m", "configs/staircase.yaml", "--mux-filter-only", "/run/rounds/r2")
        self.assertEqual(["r2-base", "r2-v3-1", "r2-v3-2", "r2-v3-3", "r2-v3"], ids)
        whole = loader.load(ROOT / "configs/staircase.yaml", count)
        for d, patches in zip(dumped, (None, 1, 2, 3, None)):
            params = AvocadoParams(d["variant"], d["paths"])
            job = loader.from_params(params.iteritems())
            variant = job.variant(params.get("variant"))
            self.assertEqual((variant.patches, variant), (patches, whole.variant(variant.name)))
            self.assertEqual(whole.pairs, job.pairs)

    def test_a_one_patch_series_or_per_patch_false_is_the_version_as_it_is(self):
        one = ROOT / "patches" / "batch-pfns" / "v1"  # a series of one patch
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(f"variants: !mux\n  v1: {{variant: v1, series: {one}, per_patch: true}}\n"
                    f"  v2: {{variant: v2, series: {one}, per_patch: false}}\n")
            f.flush()
            root = MuxTreeNode()
            root.merge(create_from_yaml([f.name]))
        varianter.staircases(root, f.name)
        self.assertEqual([(leaf.name, leaf.value) for leaf in root.get_node("/run/variants").children],
                         [("v1", {"variant": "v1", "series": str(one)}), ("v2", {"variant": "v2", "series": str(one)})])

    def test_a_bad_per_patch_stops_the_job_naming_the_file_line_and_cause(self):
        with tempfile.TemporaryDirectory() as tmp:
            job = Path(tmp) / "job.yaml"
            job.write_text("base: {debian: linux-source-6.1}\nvariants: !mux\n  v3: {variant: v3, per_patch: true}\n")
            done = subprocess.run([str(AVOCADO), "run", "--dry-run", "--job-results-dir", tmp,
                                   "tests/balloon/benchmark.py", "-m", str(job)], cwd=ROOT, capture_output=True,
                                  text=True, timeout=120)
        self.assertEqual(2, done.returncode)
        self.assertIn(f"JobError: {job}:3: variants.v3.per_patch (every prefix of the variant's series) on a variant "
                      "without a series", done.stdout + done.stderr)
        self.assertNotIn("Traceback", done.stdout + done.stderr)

    def test_other_mux_files_keep_avocados_ids(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("speed: !mux\n  fast: {k: 1}\n  slow: {k: 2}\n")
            f.flush()
            _, ids, _ = variants("-m", f.name)
        self.assertEqual(2, len(ids))
        self.assertTrue(all(i.startswith("run-speed-") for i in ids), ids)


class FallbackTest(unittest.TestCase):
    def test_shared_or_empty_short_ids_keep_avocados_unique_ones(self):
        tree = mux_tree("a: !mux\n  x-y: {k: 1}\n  x: {k: 2}\nb: !mux\n  z: {j: 1}\n  y-z: {j: 2}\n")
        ids = varianter.variant_ids(tree)
        self.assertEqual(4, len(set(ids)))
        self.assertEqual(["x-y-y-z", "x-z"], [i for i in ids if not i.startswith("run-")])  # x-y-z twice: long
        [plain] = varianter.variant_ids(mux_tree("guest: {cpus: 1}\n"))  # no mux: no short ID
        self.assertRegex(plain, r"^run-guest-[0-9a-f]{4}$")

    def test_outcomes_read_variant_and_round_from_the_identity_file_not_the_id(self):
        logdir = Path(tempfile.mkdtemp())
        contract.write_json(logdir / "data" / contract.IDENTITY_FILE, {"variant": "v1", "round": 2, "axes": {}})
        got = plugins.outcomes([{"name": "1-tests/balloon/benchmark.py:Benchmark.test;r2-v1",
                                        "status": "PASS", "logdir": str(logdir)}])
        self.assertEqual(("v1", 2, "benchmark"), (got[0]["variant"], got[0]["round"], got[0]["check"]))
        self.assertEqual(["v1"], [o["variant"] for o in outcomes.outcomes({"outcomes": got, "variants": []})])


if __name__ == "__main__":
    unittest.main()

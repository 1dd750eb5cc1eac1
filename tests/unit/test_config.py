import tempfile
import unittest
from pathlib import Path

from harness.config import loader, specs
from harness.errors import ConfigError
from harness.intake import series

ROOT = Path(__file__).resolve().parents[2]


def write(text):
    d = Path(tempfile.mkdtemp())
    (d / "job.yaml").write_text(text)
    return d / "job.yaml"


class ConfigTest(unittest.TestCase):
    def test_default_job_loads_with_variants_and_rounds(self):
        job = loader.load(ROOT / "configs" / "default.yaml")
        self.assertEqual([v.name for v in job.variants], ["base", "v1", "v2"])
        self.assertIsNone(job.variant("base").series)
        self.assertEqual(job.variant("v2").series, Path("patches/batch-pfns/v2"))
        self.assertEqual(job.rounds, 6)
        self.assertEqual(job.guest.memory_mib, 2048)
        self.assertEqual(job.workload.target_mib, 512)

    def test_mistyped_key_names_file_line_and_closest_key(self):
        path = write("base: {debian: linux-source-6.1}\nguest:\n  memory_mib: 1024\n  acel: tcg\n")
        with self.assertRaises(ConfigError) as cm:
            loader.load(path)
        self.assertIn(f"{path}:4", str(cm.exception))
        self.assertIn("guest.acel", str(cm.exception))
        self.assertIn("did you mean 'accel'", str(cm.exception))

    def test_unknown_section_is_named(self):
        with self.assertRaises(ConfigError) as cm:
            loader.load(write("workloads: {cycles: 3}\n"))
        self.assertIn(":1: unknown key 'workloads'", str(cm.exception))
        self.assertIn("'workload'", str(cm.exception))

    def test_invalid_yaml_names_line(self):
        path = write("guest:\n  memory_mib: [1\n")
        with self.assertRaises(ConfigError) as cm:
            loader.load(path)
        self.assertIn("invalid YAML", str(cm.exception))
        self.assertRegex(str(cm.exception), rf"{path}:\d+")

    def test_target_above_guest_ram_or_below_floor(self):
        for target in (4096, 2048, 10):
            with self.subTest(target=target), self.assertRaises(ConfigError) as cm:
                loader.load(write(f"guest: {{memory_mib: 2048}}\nworkload: {{target_mib: {target}}}\n"))
            self.assertIn(f"balloon target {target} MiB", str(cm.exception))
            self.assertIn(":2:", str(cm.exception))

    def test_wrong_type_and_bad_accel(self):
        with self.assertRaises(ConfigError) as cm:
            loader.load(write("workload: {cycles: three}\n"))
        self.assertIn("workload.cycles must be int", str(cm.exception))
        with self.assertRaises(ConfigError) as cm:
            loader.load(write("guest: {accel: hvf}\n"))
        self.assertIn("accel 'hvf'", str(cm.exception))
        with self.assertRaises(ConfigError) as cm:
            loader.load(write("guest: {placement: pinned}\n"))
        self.assertIn("placement 'pinned' is not one of shared, split", str(cm.exception))
        self.assertEqual(loader.load(write("guest: {placement: split}\n")).guest.placement, "split")

    def test_git_base_needs_ref(self):
        with self.assertRaises(ConfigError) as cm:
            loader.load(write("base: {git: /src/linux}\n"))
        self.assertIn("needs a ref", str(cm.exception))

    def test_job_files_are_told_from_other_mux_files(self):
        self.assertTrue(loader.is_job_file(ROOT / "configs" / "check.yaml"))
        self.assertTrue(loader.is_job_file(write("workloads: {cycles: 3}\n")))
        self.assertFalse(loader.is_job_file(write("timeout: 30\ndistro: !mux\n  fedora: {name: f}\n")))

    def test_from_params_rebuilds_the_same_job(self):
        items = [
            ("/run/base", "debian", "linux-source-6.1"),
            ("/run/guest", "memory_mib", 1024),
            ("/run/workload", "target_mib", 256),
            ("/run/variants/v2", "variant", "v2"),
            ("/run/variants/v2", "series", "patches/batch-pfns/v2"),
            ("/run/rounds/r1", "round", 1),
        ]
        job = loader.from_params(items + [("/run/qemu", "source", "debian"), ("/run/qemu/balloon", "x-ranges", True)])
        self.assertEqual(job.guest.memory_mib, 1024)
        self.assertEqual(job.variant("v2").series, Path("patches/batch-pfns/v2"))
        self.assertEqual(job.qemu.balloon, (("x-ranges", "on"),))  # a mapping in a section is a node of its own
        with self.assertRaises(ConfigError) as cm:
            loader.from_params([("/run/guest", "memory", 1024)])
        self.assertIn("did you mean 'memory_mib'", str(cm.exception))

    def test_prerequisites_are_series_applied_before_a_variants_own(self):
        job = loader.load(write("base: {debian: linux-source-6.1}\nvariants: !mux\n"
                                "  base: {variant: base, prerequisites: [patches/p1, patches/p2]}\n"
                                "  v1: {variant: v1, series: patches/s, prerequisites: [patches/p1, patches/p2]}\n"))
        self.assertEqual([v.prerequisites for v in job.variants], [(Path("patches/p1"), Path("patches/p2"))] * 2)
        self.assertEqual(job.variant("v1").series, Path("patches/s"))

    def test_per_patch_makes_a_variant_of_every_prefix_each_compared_with_the_one_before(self):
        job = loader.load(ROOT / "configs" / "staircase.yaml", series.count)
        v3 = Path("patches/ranges/v3")
        self.assertEqual([(v.name, v.series, v.patches) for v in job.variants],
                         [("base", None, None), ("v3-1", v3, 1), ("v3-2", v3, 2), ("v3-3", v3, 3), ("v3", v3, None)])
        self.assertEqual(job.pairs, (("v3-2", "v3-1"), ("v3-3", "v3-2"), ("v3", "v3-3")))  # v3-1: against base

    def test_per_patch_keeps_the_jobs_own_compare_and_names_the_variant_not_the_leaf(self):
        text = ("base: {debian: linux-source-6.1}\nvariants: !mux\n  base: {variant: base}\n"
                "  old: {variant: v2, series: patches/s}\n  new: {variant: v3, series: patches/s, per_patch: true}\n"
                "compare: {v3: [v2]}\n")
        job = loader.load(write(text), lambda path: 3)
        self.assertEqual([v.name for v in job.variants], ["base", "v2", "v3-1", "v3-2", "v3"])
        self.assertEqual(job.pairs, (("v3", "v2"), ("v3", "v3-2"), ("v3-2", "v3-1")))
        self.assertEqual([v.name for v in loader.load(write(text.replace("true", "false")), None).variants],
                         ["base", "v2", "v3"])  # per_patch: false is the version as a whole
        self.assertEqual([v.name for v in loader.load(write(text), lambda path: 1).variants], ["base", "v2", "v3"])
        with self.assertRaisesRegex(ConfigError, r"job.yaml:6: compare.v3 must list the variants it is compared with"):
            loader.load(write(text.replace("[v2]", "v2")), lambda path: 3)

    def test_a_step_of_a_staircase_is_the_first_patches_of_its_series(self):
        head = "base: {debian: linux-source-6.1}\nvariants: !mux\n"
        job = loader.load(write(head + "  s: {variant: s, series: patches/s, patches: 2}\n"))
        self.assertEqual((job.variant("s").series, job.variant("s").patches), (Path("patches/s"), 2))
        for leaf, words in (("  s: {variant: s, patches: 2}\n", "the first N >= 1 patches of the variant's series, "
                                                                   "not 2 of none"),
                            ("  s: {variant: s, series: patches/s, patches: 0}\n", "not 0")):
            with self.assertRaises(ConfigError) as cm:
                loader.load(write(head + leaf))
            self.assertIn("variants.s.patches", str(cm.exception))
            self.assertIn(words, str(cm.exception))

    def test_bad_per_patch_names_the_file_line_and_cause(self):
        head = "base: {debian: linux-source-6.1}\nvariants: !mux\n  base: {variant: base}\n"
        missing = lambda path: series.count(ROOT / "patches" / "no-such-series")  # noqa: E731
        for leaf, count, words in (
                ("  s: {variant: s, per_patch: true}\n", len, "per_patch (every prefix of the variant's series) on a "
                                                              "variant without a series"),
                ("  s: {series: patches/s, per_patch: true, patches: 2}\n", len, "and patches: N (one prefix) "
                                                                                 "together"),
                ("  s: {series: patches/s, per_patch: 'yes'}\n", len, "must be true or false, not 'yes'"),
                ("  s: {series: patches/s, per_patch: true}\n", None, "needs the series read, which this command "
                                                                      "does not do"),
                ("  s: {series: patches/s, per_patch: true}\n", missing, "cannot read patches/s: "),
                ("  s: {series: patches/s, per_patch: true}\n  s-1: {variant: x}\n", lambda p: 2,
                 "makes a leaf 's-1', which the job already has")):
            path = write(head + leaf)
            with self.assertRaises(ConfigError) as cm:
                loader.load(path, count)
            self.assertIn(f"{path}:4: variants.s.per_patch", str(cm.exception))
            self.assertIn(words, str(cm.exception))

    def test_a_per_patch_leaf_that_reaches_a_test_unexpanded_is_refused(self):
        items = [("/run", "base", {"debian": "linux-source-6.1"}),
                 ("/run/variants/v3", "variant", "v3"), ("/run/variants/v3", "series", "patches/s"),
                 ("/run/variants/v3", "per_patch", True)]
        with self.assertRaisesRegex(ConfigError, "variants.v3.per_patch reached the test unexpanded"):
            loader.from_params(items)

    def test_a_variant_runs_on_its_own_qemu_and_compare_names_pairs_of_variants(self):
        job = loader.load(ROOT / "configs" / "seed.yaml")
        self.assertEqual(job.qemu_of(job.variant("base-debian")), specs.QemuSpec())  # the job's: the system QEMU
        own, base = job.qemu_of(job.variant("ranges-v4")), job.qemu_of(job.variant("base"))
        self.assertEqual((own.source, own.series, own.balloon), ("debian", Path("patches/qemu/ranges/v2"),
                                                                 (("x-ranges", "on"),)))
        self.assertEqual((base.source, base.series, base.balloon), ("debian", own.series, ()))  # one binary
        self.assertEqual(job.pairs, (("batch-pfns-v2", "base-batched"), ("ranges-v4", "ranges-v3"),
                                     ("ranges-v4", "batch-pfns-v2")))
        head = "base: {debian: linux-source-6.1}\nvariants: !mux\n  base: {variant: base}\n  v1: {variant: v1}\n"
        for extra, line, words in (
                ("compare:\n  v1: [v9]\n", 6, "compare names 'v9', which is not a variant of the job"),
                ("compare:\n  v1: base\n", 6, "compare.v1 must list the variants it is compared with"),
                ("  v2: {variant: v2, qemu: rangse}\nqemus:\n  ranges: {source: debian}\n", 5,
                 "no QEMU named 'rangse' in qemus (hint: did you mean 'ranges'?)"),
                ("qemus:\n  r: {source: system, series: patches/qemu/ranges/v2}\n", 6,
                 "a QEMU series needs a QEMU built from source"),
                ("qemus:\n  r: {sorce: debian}\n", 6, "unknown key 'qemus.r.sorce'"),
                ("  v2: {variant: v2, prerequisites: [patches/a, 7]}\n", 5,
                 "variants.v2.prerequisites must list series paths, not ['patches/a', 7]"),
                ("  v2: {variant: v2, prerequisites: patches/a}\n", 5,
                 "variants.v2.prerequisites must be list, not str")):
            with self.subTest(extra=extra), self.assertRaises(ConfigError) as cm:
                loader.load(write(head + extra))
            self.assertIn(f":{line}: ", str(cm.exception))
            self.assertIn(words, str(cm.exception))


HOSTS = """\
hosts:
  - {name: lab1, ssh: root@10.254.1.2, key: ~/.ssh/lab, known_hosts: /etc/lab_known_hosts}
  - name: lab2
    ssh: tester@[fd00::2]:2222
    key: /k
    known_hosts: /kh
  - {name: here}
variants: !mux
  a: {variant: base, host: lab1}
  b: {variant: base, host: lab2}
  c: {variant: v2, series: patches/batch-pfns/v2}
"""


class HostsConfigTest(unittest.TestCase):
    def test_hosts_are_parsed_and_variants_placed(self):
        job = loader.load(write(HOSTS))
        lab1, lab2, here = job.hosts
        self.assertEqual((lab1.user, lab1.address, lab1.port), ("root", "10.254.1.2", 22))
        self.assertEqual(lab1.key, Path("~/.ssh/lab").expanduser())
        self.assertEqual((lab2.user, lab2.address, lab2.port), ("tester", "fd00::2", 2222))
        self.assertIsNone(here.address)
        self.assertEqual([v.host for v in job.variants], ["lab1", "lab2", None])
        self.assertIs(job.host(), lab1)
        self.assertIs(job.host("lab2"), lab2)
        self.assertFalse(job.compare_across_hosts)
        self.assertIsNone(loader.load(write("guest: {cpus: 1}\n")).host())

    def test_no_hosts_runs_on_the_controller_and_across_hosts_is_a_bool(self):
        job = loader.load(write("compare_across_hosts: true\n"))
        self.assertEqual(job.hosts, ())
        self.assertTrue(job.compare_across_hosts)
        with self.assertRaises(ConfigError) as cm:
            loader.load(write("compare_across_hosts: 1\n"))
        self.assertIn("compare_across_hosts must be bool", str(cm.exception))

    def test_host_errors_name_file_line_and_key(self):
        cases = [
            ("hosts: {name: lab1}\n", ":1:", "hosts must be list"),
            ("hosts:\n  - {name: lab1, ssh: root@h, key: /k, known_host: /kh}\n", ":2:", "did you mean 'known_hosts'"),
            ("hosts:\n  - {ssh: root@h, key: /k, known_hosts: /kh}\n", ":2:", "hosts[0] needs a name"),
            ("hosts:\n  - {name: a}\n  - {name: a}\n", ":3:", "host name 'a' repeats"),
            ("hosts:\n  - name: a\n    ssh: 10.0.0.5\n    key: /k\n    known_hosts: /kh\n", ":3:",
             "is not user@address[:port]"),
            ("hosts:\n  - {name: a, ssh: 'root@h:port'}\n", ":2:", "is not user@address[:port]"),
            ("hosts:\n  - {name: a, ssh: root@h}\n", ":2:", "needs key and known_hosts"),
            ("hosts:\n  - a\n", ":2:", "hosts.0 must be a mapping"),
        ]
        for text, line, message in cases:
            with self.subTest(text=text), self.assertRaises(ConfigError) as cm:
                loader.load(write(text))
            self.assertIn(line, str(cm.exception))
            self.assertIn(message, str(cm.exception))

    def test_variant_host_must_be_defined_and_names_repeat_only_across_hosts(self):
        path = write(HOSTS.replace("host: lab2", "host: lab3"))
        with self.assertRaises(ConfigError) as cm:
            loader.load(path)
        self.assertIn(f"{path}:10: no host named 'lab3'", str(cm.exception))
        self.assertIn("did you mean 'lab2'", str(cm.exception))
        with self.assertRaises(ConfigError) as cm:
            loader.load(write(HOSTS.replace("host: lab2", "host: lab1")))
        self.assertIn("variant names repeat on one host", str(cm.exception))
        with self.assertRaises(ConfigError):
            loader.load(write("variants: !mux\n  a: {variant: base, host: lab1}\n"))

    def test_from_params_rebuilds_hosts(self):
        job = loader.from_params([
            ("/run", "hosts", [{"name": "lab1", "ssh": "root@10.254.1.2:22", "key": "/k", "known_hosts": "/kh"}]),
            ("/run", "compare_across_hosts", True),
            ("/run/variants/a", "variant", "base"),
            ("/run/variants/a", "host", "lab1"),
        ])
        self.assertEqual(job.host("lab1").address, "10.254.1.2")
        self.assertTrue(job.compare_across_hosts)
        self.assertEqual(job.variant("base").host, "lab1")


if __name__ == "__main__":
    unittest.main()

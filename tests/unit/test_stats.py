import math
import random
import unittest

from scipy import stats as scipy_stats

from harness.judge import stats, welch
from harness.results.metrics import metric


def samples(variant, values_by_boot, op="inflate", warmup=False, name="wall_s"):
    return [{"variant": variant, "boot": b, "cycle": i, "op": op, "warmup": warmup, name: v}
            for b, vs in values_by_boot.items() for i, v in enumerate(vs, 1)]


def boots(level, count, rng, between=0.03, within=0.05, cycles=8):
    """``count`` boots of ``cycles`` right-skewed cycles around ``level`` (log-normal boot effect, host delays)."""
    return {b: [level * math.exp(rng.gauss(0, between)) * (1 + abs(rng.gauss(0, within))) for _ in range(cycles)]
            for b in range(1, count + 1)}


class SummaryTest(unittest.TestCase):
    def test_median_and_quantile(self):
        self.assertEqual(stats.median([3, 1, 2]), 2)
        self.assertEqual(stats.median([4, 1, 2, 3]), 2.5)
        self.assertAlmostEqual(stats.quantile([1, 2, 3, 4, 5], 0.25), 2.0)

    def test_warmup_samples_are_summarised_but_never_compared(self):
        rng = random.Random(4)
        base = samples("base", boots(1.0, 3, rng)) + samples("base", {1: [9.0]}, warmup=True)
        other = samples("v1", boots(1.0, 3, rng)) + samples("v1", {1: [0.1]}, warmup=True)
        (c,) = stats.compare(base + other, "base")
        self.assertAlmostEqual(c.ratio, 1.0, delta=0.05)
        warm = [s for s in stats.summarize(base) if s.warmup]
        self.assertEqual([(s.n, s.boots, s.median) for s in warm], [(1, 1, 9.0)])


class WelchTest(unittest.TestCase):
    def test_the_test_is_scipys_welch_on_the_boots_log_q1(self):
        rng = random.Random(1)
        base, fast = boots(0.40, 6, rng), boots(0.37, 6, rng)
        (c,) = stats.compare(samples("base", base) + samples("v2", fast), "base")
        lb = [math.log(stats.lower_quartile(xs)) for xs in base.values()]
        lv = [math.log(stats.lower_quartile(xs)) for xs in fast.values()]
        ref = scipy_stats.ttest_ind(lv, lb, equal_var=False)
        self.assertAlmostEqual(c.p, ref.pvalue)
        lo, hi = ref.confidence_interval(0.95)
        self.assertAlmostEqual(c.ci[0], math.exp(lo))
        self.assertAlmostEqual(c.ci[1], math.exp(hi))
        self.assertAlmostEqual(c.ratio, math.exp(sum(lv) / 6 - sum(lb) / 6))
        self.assertEqual((c.boots, c.baseline_boots), (6, 6))

    def test_a_clear_speedup_is_faster(self):
        rng = random.Random(1)
        (c,) = stats.compare(samples("base", boots(0.40, 6, rng)) + samples("v2", boots(0.36, 6, rng)), "base")
        self.assertEqual(c.verdict, "faster")
        self.assertLess(c.ci[1], 1.0)
        self.assertAlmostEqual(c.ratio, 0.9, delta=0.03)

    def test_cpu_metrics_say_less_or_more_cpu(self):
        rng = random.Random(5)
        data = (samples("base", boots(0.4, 6, rng), name="qemu_cpu_s")
                + samples("v2", boots(0.5, 6, rng), name="qemu_cpu_s"))
        (c,) = stats.compare(data, "base")
        self.assertEqual(c.verdict, "more CPU")
        self.assertFalse(c.primary)

    def test_no_change_is_said_only_with_the_power_to_see_the_margin(self):
        rng = random.Random(2)
        quiet = samples("base", boots(0.4, 6, rng, between=0.01)) + samples("aa", boots(0.4, 6, rng, between=0.01))
        (c,) = stats.compare(quiet, "base")
        self.assertRegex(c.verdict, r"^no significant change \(could detect ±\d\.\d % with 80 % power\)$")
        self.assertLessEqual(c.detectable, welch.MARGIN)
        self.assertEqual(c.needs, 0)
        noisy = samples("base", boots(0.4, 3, rng, between=0.15)) + samples("aa", boots(0.4, 3, rng, between=0.15))
        (c,) = stats.compare(noisy, "base")
        self.assertRegex(c.verdict, r"^inconclusive: 3 boots a side could detect only ±\d+ %, needs ≥ \d+$")
        self.assertGreater(c.needs, 3)
        self.assertGreater(c.detectable, welch.MARGIN)

    def test_one_boot_a_side_is_inconclusive_however_large_the_change(self):
        """The +388 % paced inflate of 1 boot × 2 cycles: never "no significant change"."""
        data = samples("base", {1: [1.27, 1.26]}) + samples("paced", {1: [6.21, 6.20]})
        (c,) = stats.compare(data, "base")
        self.assertEqual(c.verdict, "inconclusive: 1 boot(s) a side, needs ≥ 3")
        self.assertAlmostEqual(c.ratio, 6.2025 / 1.2625)  # the boots' Q1s
        self.assertIsNone(c.ci)
        self.assertFalse(c.decided)

    def test_a_zero_q1_is_inconclusive_not_a_division_by_zero(self):
        data = (samples("base", {b: [0.0, 0.0, 0.01] for b in (1, 2, 3)}, name="guest_cpu_s")
                + samples("v2", {b: [0.01, 0.02, 0.01] for b in (1, 2, 3)}, name="guest_cpu_s"))
        (c,) = stats.compare(data, "base")
        self.assertIsNone(c.ratio)
        self.assertIn("below the 0.01 s the metric resolves", c.verdict)


class HolmTest(unittest.TestCase):
    def test_holm_adjusts_step_down_and_keeps_order(self):
        self.assertEqual(stats.holm([0.01, 0.04, 0.03, None]), [0.03, 0.06, 0.06, None])
        self.assertEqual(stats.holm([0.5]), [0.5])

    def test_primary_and_secondary_are_separate_families(self):
        rng = random.Random(3)
        rows = []
        for variant, level in (("base", 0.4), ("v2", 0.36)):
            for b, xs in boots(level, 6, rng).items():
                for i, x in enumerate(xs, 1):
                    for op in ("inflate", "deflate"):
                        rows.append({"variant": variant, "boot": b, "cycle": i, "op": op, "warmup": False,
                                     "wall_s": x, "t50_s": x / 2, "t90_s": x * 0.9, "qemu_cpu_s": x,
                                     "guest_cpu_s": x / 4})
        comps = stats.compare(rows, "base")
        primary = [c for c in comps if c.primary]
        self.assertEqual({(c.op, c.metric) for c in primary}, {("inflate", "wall_s"), ("deflate", "wall_s")})
        self.assertEqual(sorted(c.p_adjusted for c in primary), stats.holm(sorted(c.p for c in primary)))
        secondary = [c for c in comps if not c.primary]
        self.assertEqual(len(secondary), 8)
        self.assertEqual([c.p_adjusted for c in secondary], stats.holm([c.p for c in secondary]))


class PowerTest(unittest.TestCase):
    def test_detectable_matches_a_simulated_power_of_80_percent(self):
        """The formula's change is found ~80 % of the time: 2000 seeded simulations of 6 boots a side."""
        sd, n = 0.04, 6
        change = welch.detectable(sd * math.sqrt(2 / n), 2 * n - 2, stats.ALPHA)
        rng = random.Random(7)
        found = 0
        for _ in range(2000):
            a = [rng.gauss(0, sd) for _ in range(n)]
            b = [rng.gauss(math.log1p(change), sd) for _ in range(n)]
            found += scipy_stats.ttest_ind(b, a, equal_var=False).pvalue < stats.ALPHA
        self.assertAlmostEqual(found / 2000, 0.8, delta=0.04)

    def test_boots_needed_reach_the_margin(self):
        n = welch.boots_needed(0.1, stats.ALPHA)
        self.assertLessEqual(welch.detectable(0.1 * math.sqrt(2 / n), 2 * n - 2, stats.ALPHA), welch.MARGIN)
        self.assertGreater(welch.detectable(0.1 * math.sqrt(2 / (n - 1)), 2 * n - 4, stats.ALPHA), welch.MARGIN)

    def test_metric_declarations(self):
        self.assertTrue(metric("wall_s").primary)
        self.assertFalse(metric("qemu_cpu_s").primary)


if __name__ == "__main__":
    unittest.main()

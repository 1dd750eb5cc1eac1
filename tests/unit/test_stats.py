import random
import unittest

from harness import stats
from harness.metrics import METRICS


def samples(variant, values_by_boot, op="inflate", warmup=False):
    return [{"variant": variant, "boot": b, "cycle": i, "op": op, "warmup": warmup, "wall_s": v}
            for b, vs in values_by_boot.items() for i, v in enumerate(vs, 1)]


class StatsTest(unittest.TestCase):
    def test_median_and_quantile(self):
        self.assertEqual(stats.median([3, 1, 2]), 2)
        self.assertEqual(stats.median([4, 1, 2, 3]), 2.5)
        self.assertAlmostEqual(stats.quantile([1, 2, 3, 4, 5], 0.25), 2.0)

    def test_mann_whitney_matches_reference_values(self):
        # Reference: scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic") -> p=0.13292
        a = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
        b = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
        self.assertAlmostEqual(stats.mann_whitney_p(a, b), 0.1329, places=3)
        self.assertEqual(stats.mann_whitney_p([1, 1, 1], [1, 1, 1]), 1.0)
        self.assertLess(stats.mann_whitney_p(list(range(10)), list(range(100, 110))), 0.001)

    def test_clear_speedup_is_called_faster_with_ci_below_one(self):
        rng = random.Random(1)
        base = {b: [0.40 + rng.gauss(0, 0.008) for _ in range(8)] for b in (1, 2, 3)}  # 8 cycles, as by default
        fast = {b: [0.37 + rng.gauss(0, 0.008) for _ in range(8)] for b in (1, 2, 3)}
        (c,) = stats.compare(samples("base", base) + samples("v2", fast), "base")
        self.assertEqual(c.verdict, "faster")
        self.assertLess(c.ci95[1], 1.0)
        self.assertEqual(c.ratio, stats.lower_quartile([x for xs in fast.values() for x in xs])
                         / stats.lower_quartile([x for xs in base.values() for x in xs]))
        self.assertAlmostEqual(c.ratio, 0.925, delta=0.02)
        self.assertLess(c.p, 0.05)

    def test_bootstrap_draws_whole_boots_once_there_are_three(self):
        rng = random.Random(3)
        three = {1: [1.0, 1.1], 2: [2.0, 2.1], 3: [3.0, 3.1]}
        for _ in range(50):
            drawn = stats._resample(three, rng)
            self.assertEqual(len(drawn), 6)
            self.assertTrue(all(drawn[i:i + 2] in three.values() for i in (0, 2, 4)))  # boots kept whole
        two = {1: [1.0, 1.1], 2: [2.0, 2.1]}
        mixed = [stats._resample(two, rng) for _ in range(200)]
        self.assertTrue(any(d[:2] not in two.values() for d in mixed))  # too few boots: cycles resampled too

    def test_same_distribution_is_no_significant_change(self):
        rng = random.Random(2)
        a = {b: [0.40 + rng.gauss(0, 0.01) for _ in range(5)] for b in (1, 2, 3)}
        b_ = {b: [0.40 + rng.gauss(0, 0.01) for _ in range(5)] for b in (1, 2, 3)}
        (c,) = stats.compare(samples("base", a) + samples("aa", b_), "base")
        self.assertEqual(c.verdict, "no significant change")
        self.assertLessEqual(c.ci95[0], 1.0)
        self.assertGreaterEqual(c.ci95[1], 1.0)
        self.assertGreater(c.detectable, 0)

    def test_warmup_samples_are_not_compared_but_summarised(self):
        base = samples("base", {1: [1.0, 1.0]}) + samples("base", {1: [9.0]}, warmup=True)
        other = samples("v1", {1: [1.0, 1.0]})
        (c,) = stats.compare(base + other, "base")
        self.assertEqual(c.ratio, 1.0)
        warm = [s for s in stats.summarize(base) if s.warmup]
        self.assertEqual([(s.n, s.median) for s in warm], [(1, 9.0)])

    def test_cpu_metric_verdict_words(self):
        cpu = next(m for m in METRICS if m.name == "qemu_cpu_s")
        self.assertEqual(stats.verdict(cpu, (0.8, 0.9), 0.01), "less CPU")
        self.assertEqual(stats.verdict(cpu, (1.1, 1.2), 0.01), "more CPU")
        self.assertEqual(stats.verdict(cpu, (1.1, 1.2), 0.2), "no significant change")


if __name__ == "__main__":
    unittest.main()

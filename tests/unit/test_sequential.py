import random
import unittest

import numpy as np
from scipy.stats import norm
from test_config import write
from test_stats import boots, samples

from harness.config import loader
from harness.errors import ConfigError
from harness.judge import outcomes, policy, report, sequential, stats

LOOKS = (3, 6, 9, 12)


def job(effect, rounds, rng, between=0.03):
    return (samples("base", boots(1.0, rounds, rng, between)) + samples("base", boots(1.0, rounds, rng, between),
                                                                         op="deflate")
            + samples("v1", boots(1.0 + effect, rounds, rng, between))
            + samples("v1", boots(1.0 + effect, rounds, rng, between), op="deflate"))


class LevelsTest(unittest.TestCase):
    def test_one_look_is_the_fixed_test(self):
        self.assertAlmostEqual(sequential.levels([5])[5], stats.ALPHA, places=4)

    def test_pocock_type_levels_are_nearly_constant_and_below_alpha(self):
        levels = sequential.levels(LOOKS)
        self.assertEqual(list(levels), list(LOOKS))
        for alpha in levels.values():  # Lan-DeMets Pocock-type, four equal looks: 0.0179 .. 0.0188
            self.assertGreater(alpha, 0.017)
            self.assertLess(alpha, 0.019)

    def test_the_boundaries_spend_alpha_over_all_looks(self):
        """Brownian motion seen at the looks crosses some look's boundary in ALPHA of the paths, the spending
        function's share by each look."""
        levels = sequential.levels(LOOKS)
        bounds = [norm.isf(a / 2) for a in levels.values()]
        rng = np.random.default_rng(7)
        steps = rng.standard_normal((40000, len(LOOKS))) * np.sqrt(np.diff((0, *LOOKS)))
        z = np.abs(np.cumsum(steps, axis=1)) / np.sqrt(LOOKS)
        crossed = (z > bounds).cumsum(axis=1) > 0
        for j, n in enumerate(LOOKS):
            self.assertAlmostEqual(crossed[:, j].mean(), sequential.spend(n / LOOKS[-1]), delta=0.004)


class LookTest(unittest.TestCase):
    def test_a_clear_change_stops_at_the_first_look(self):
        at = sequential.look(job(-0.3, 12, random.Random(1)), "base", LOOKS, 12)
        self.assertEqual((at.round, at.index, at.decided), (3, 1, True))
        self.assertEqual({c.verdict for c in at.comparisons if c.primary}, {"faster"})
        self.assertTrue(all(c.boots == 3 for c in at.comparisons))

    def test_noise_too_wide_to_decide_runs_to_the_last_look(self):
        at = sequential.look(job(0.0, 12, random.Random(2), between=0.3), "base", LOOKS, 12)
        self.assertEqual((at.round, at.decided), (12, False))
        self.assertTrue(all(c.verdict.startswith("inconclusive") for c in at.comparisons))

    def test_a_pair_the_job_names_must_be_decided_too(self):
        """v1 and v2 are both 30 % faster than base (decided at the first look), but v2 against v1 is too close
        to call or clear: the rounds go on for the pair."""
        rng = random.Random(4)
        data = job(-0.3, 12, rng, 0.08) + [{**s, "variant": "v2"} for s in job(-0.3, 12, rng, 0.08) if s["variant"] == "v1"]
        self.assertEqual(sequential.look(data, "base", LOOKS, 12).round, 3)
        at = sequential.look(data, "base", LOOKS, 12, pairs=[("v2", "v1")])
        self.assertGreater(at.round, 3)
        pair = [c for c in at.comparisons if c.baseline == "v1"]
        self.assertEqual({(c.variant, c.op) for c in pair}, {("v2", "inflate"), ("v2", "deflate")})

    def test_with_every_version_failed_there_is_nothing_to_wait_for(self):
        base_only = [s for s in job(0.0, 3, random.Random(3)) if s["variant"] == "base"]
        at = sequential.look(base_only, "base", LOOKS, 3)
        self.assertEqual((at.round, at.decided, at.comparisons), (3, True, []))
        data = {"sequential": {"looks": list(LOOKS), "round": 3, "index": 1, "alpha": at.alpha, "decided": True},
                "comparisons": []}
        self.assertIn("no version was measured, so nothing was left to decide", report.sequential_text(data))

    def test_a_test_after_the_deciding_look_is_not_needed_and_says_why(self):
        done = job(-0.3, 3, random.Random(1))
        self.assertIsNone(sequential.stop_reason(done, "base", LOOKS, 3))  # round 3 itself still runs
        why = sequential.stop_reason(done, "base", LOOKS, 4)
        self.assertTrue(why.startswith(sequential.STOPPED), why)
        self.assertIn("round 3 (look 1 of 4)", why)
        self.assertIsNone(sequential.stop_reason(done[:10], "base", LOOKS, 2))  # before the first look

    def test_the_report_judges_the_deciding_look_at_its_level(self):
        data = {"samples": job(-0.3, 4, random.Random(1)), "variants": [{"name": "base"}, {"name": "v1"}],
                "job": {}}
        at = policy.stop(data, LOOKS)
        data["sequential"] = {"looks": list(LOOKS), "round": at.round, "index": at.index, "alpha": at.alpha,
                              "decided": at.decided, "how": at.how()}
        comps = policy.comparisons(data)
        self.assertTrue(all(c.boots == 3 for c in comps), "round 4 came after the deciding look")
        self.assertAlmostEqual(policy.level(data), 1 - at.alpha)
        self.assertIn("Rounds stopped after round 3 of at most 12 (look 1 of 4): every question decided, on time",
                      report.sequential_text(data))


class SkippedRoundsTest(unittest.TestCase):
    def test_rounds_not_needed_are_not_failures_of_the_variant(self):
        results = {"variants": [{"name": "base"}], "outcomes": [
            {"variant": "base", "status": "PASS", "reason": ""},
            {"variant": "base", "status": "SKIP", "reason": sequential.STOPPED + " at round 3 ..."}]}
        (o,) = outcomes.outcomes(results)
        self.assertEqual((o["status"], o["tests"], o["passed"]), ("PASS", 1, 1))
        results["outcomes"][1]["reason"] = "something else"
        self.assertEqual(outcomes.outcomes(results)[0]["status"], "SKIP")


class ConfigLooksTest(unittest.TestCase):
    JOB = "base: {debian: linux-source-6.1}\nlooks: %s\nrounds: !mux\n  r1: {round: 1}\n  r2: {round: 2}\n"

    def test_looks_end_at_the_last_round(self):
        self.assertEqual(loader.load(write(self.JOB % "[1, 2]")).looks, (1, 2))
        with self.assertRaises(ConfigError) as cm:
            loader.load(write(self.JOB % "[1]"))
        self.assertIn("job.yaml:2: the last look must be the last round (2), not 1", str(cm.exception))

    def test_looks_are_ascending_rounds(self):
        with self.assertRaises(ConfigError) as cm:
            loader.load(write(self.JOB % "[2, 1]"))
        self.assertIn("looks must be rounds in ascending order", str(cm.exception))


if __name__ == "__main__":
    unittest.main()

"""The staircase of a series: each prefix against the one before, one line a patch (the real counterpart:
configs/staircase.yaml's job, docs/staircase.md)."""

import unittest

from harness.judge import staircase
from harness.judge.stats import Comparison

LABELS = ["1/3 virtio_balloon: add the bit...", "2/3 virtio_balloon: send ranges...", "3/3 virtio_balloon: offer it..."]
RESULTS = {"variants": [{"name": "base", "series": []}, {"name": "s-1", "series": LABELS[:1]},
                        {"name": "s-2", "series": LABELS[:2]}, {"name": "s-3", "series": LABELS},
                        {"name": "other", "series": ["virtio_balloon: something else..."]}]}


def comp(variant, baseline, metric, ratio, verdict, op="inflate"):
    return Comparison(op, metric, variant, baseline, 3, 3, ratio, (ratio * 0.99, ratio * 1.01), 0.001, 0.001,
                      verdict, 0.01, 0, metric == "wall_s", counted=metric == "guest_insns")


class StaircaseTest(unittest.TestCase):
    def test_each_step_is_the_patch_its_prefix_adds_counted_work_first(self):
        comps = [comp("s-2", "s-1", "wall_s", 0.6, "faster"), comp("s-2", "s-1", "guest_insns", 0.5, "fewer"),
                 comp("s-1", "base", "wall_s", 1.0, "no significant change (could detect ±4.0 % with 80 % power)"),
                 comp("s-3", "s-2", "guest_insns", 1.0, "no significant change (could detect ±0.0 % with 80 % power)"),
                 comp("s-3", "s-2", "t50_s", 0.9, "faster"),  # secondary: not on the line
                 comp("other", "base", "wall_s", 0.7, "faster"),  # not a step of the staircase
                 comp("s-3", "s-1", "wall_s", 0.6, "faster"),  # two patches apart: not a step
                 comp("s-2", "s-1", "wall_s", 0.9, "faster", op="deflate")]
        said = staircase.steps(RESULTS, comps)
        self.assertEqual([(op, patch, [c.metric for c in cs]) for op, patch, cs in said],
                         [("inflate", LABELS[0], ["wall_s"]), ("inflate", LABELS[1], ["guest_insns", "wall_s"]),
                          ("inflate", LABELS[2], ["guest_insns", "t50_s"]), ("deflate", LABELS[1], ["wall_s"])])
        text = staircase.text(RESULTS, comps)
        self.assertIn("  inflate 2/3 virtio_balloon: send ranges...: guest instructions -50.00 % [-50.50, -49.50] "
                      "fewer; time to target -40.0 % [-40.6, -39.4] faster", text)
        self.assertIn("  inflate 3/3 virtio_balloon: offer it...: guest instructions +0.00 % [-1.00, +1.00] no "
                      "significant change (could detect ±0.0 %)\n", text)
        self.assertNotIn("something else", text)

    def test_a_job_without_prefixes_has_no_staircase(self):
        self.assertEqual(staircase.text(RESULTS, [comp("other", "base", "wall_s", 0.7, "faster")]), "")


if __name__ == "__main__":
    unittest.main()

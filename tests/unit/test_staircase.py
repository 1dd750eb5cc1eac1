"""The staircase of a series: each prefix against the one before, one line a patch, the steps one Holm family, a
prefix that did not run spanned (the real counterpart: configs/staircase.yaml's job, docs/staircase.md)."""

import unittest

from harness.judge import html, plots, policy, staircase
from harness.judge.stats import Comparison, holm

LABELS = ["1/3 virtio_balloon: add the bit...", "2/3 virtio_balloon: send ranges...", "3/3 virtio_balloon: offer it..."]
PAIRS = [["s-2", "s-1"], ["s-3", "s-2"]]


def results(ran=("base", "s-1", "s-2", "s-3", "other"), outcomes=None):
    out = {"variants": [{"name": "base", "series": []}, {"name": "s-1", "series": LABELS[:1]},
                        {"name": "s-2", "series": LABELS[:2] if "s-2" in ran else ["patches/s"]},
                        {"name": "s-3", "series": LABELS}, {"name": "other", "series": ["virtio_balloon: else..."]}],
           "job": {"pairs": PAIRS}, "samples": [{"variant": v} for v in ran]}
    return {**out, "outcomes": outcomes} if outcomes else out


def comp(variant, baseline, metric, ratio, verdict, op="inflate", p=0.001):
    return Comparison(op, metric, variant, baseline, 3, 3, ratio, (ratio * 0.99, ratio * 1.01), p, p,
                      verdict, 0.01, 0, metric == "wall_s", counted=metric == "guest_insns")


class StaircaseTest(unittest.TestCase):
    def test_each_step_is_the_patch_its_prefix_adds_counted_work_first(self):
        comps = [comp("s-2", "s-1", "wall_s", 0.6, "faster"), comp("s-2", "s-1", "guest_insns", 0.5, "fewer"),
                 comp("s-1", "base", "wall_s", 1.0, "no significant change (could detect ±4.0 % with 80 % power)"),
                 comp("s-3", "s-2", "guest_insns", 1.0, "no significant change (could detect ±0.0 % with 80 % power)"),
                 comp("s-3", "s-2", "t50_s", 0.9, "faster"),  # secondary: not on the line
                 comp("other", "base", "wall_s", 0.7, "faster"),  # not a step of the staircase
                 comp("s-3", "base", "wall_s", 0.6, "faster"),  # the whole series: not a step
                 comp("s-2", "s-1", "wall_s", 0.9, "faster", op="deflate")]
        said = staircase.steps(results(), comps, "base")
        self.assertEqual([(s.op, s.patch, s.baseline, [c.metric for c in s.comparisons]) for s in said],
                         [("inflate", LABELS[0], "base", ["wall_s"]),
                          ("inflate", LABELS[1], "s-1", ["guest_insns", "wall_s"]),
                          ("inflate", LABELS[2], "s-2", ["guest_insns"]), ("deflate", LABELS[1], "s-1", ["wall_s"])])
        text = staircase.text(results(), comps, "base")
        self.assertIn("  inflate 2/3 virtio_balloon: send ranges...: guest instructions -50.00 % [-50.50, -49.50] "
                      "fewer; time to target -40.0 % [-40.6, -39.4] faster", text)
        self.assertIn("  inflate 3/3 virtio_balloon: offer it...: guest instructions +0.00 % [-1.00, +1.00] no "
                      "significant change (could detect ±0.0 %)\n", text)
        self.assertNotIn("else", text)

    def test_a_job_without_prefixes_has_no_staircase(self):
        self.assertEqual(staircase.text(results(), [comp("other", "base", "wall_s", 0.7, "faster")], "base"), "")

    def test_the_steps_per_op_and_metric_are_one_holm_family_and_the_verdicts_follow(self):
        ps = [0.01, 0.03, 0.04]  # each below 0.05 alone; together only the first survives Holm
        comps = [comp("s-1", "base", "wall_s", 0.9, "faster", p=ps[0]), comp("s-2", "s-1", "wall_s", 0.9, "faster",
                                                                           p=ps[1]),
                 comp("s-3", "s-2", "wall_s", 0.9, "faster", p=ps[2]),
                 comp("s-3", "s-2", "wall_s", 0.9, "faster", op="deflate", p=ps[2]),  # a family of its own
                 comp("other", "base", "wall_s", 0.9, "faster", p=ps[2])]  # not a step: left alone
        got = staircase.adjust(results(), comps, "base", 0.05)
        self.assertEqual([c.p_adjusted for c in got], [*holm(ps), ps[2], ps[2]])
        self.assertEqual([c.verdict.split(" (")[0] for c in got],
                         ["faster", "no significant change", "no significant change", "faster", "faster"])

    def test_a_prefix_that_did_not_build_joins_the_steps_around_it_and_names_its_cause(self):
        failed = {"variant": "s-2", "test": "x", "check": "benchmark", "status": "FAIL", "stage": "build",
                  "reason": "drivers/virtio/virtio_balloon.c:120: error: 'x' undeclared", "trouble": None}
        res = results(ran=("base", "s-1", "s-3"), outcomes=[failed])
        self.assertEqual(staircase.spans(res, [tuple(p) for p in PAIRS], "base"), [("s-2", "s-1"), ("s-3", "s-1")])
        comps = [comp("s-1", "base", "wall_s", 1.0, "faster"), comp("s-3", "s-1", "wall_s", 0.6, "faster")]
        [first, spanned] = staircase.steps(res, comps, "base")
        self.assertEqual((spanned.patch, spanned.baseline), ("2–3/3 virtio_balloon: offer it...", "s-1"))
        self.assertIn("inflate 2–3/3 virtio_balloon: offer it...: time to target -40.0 % [-40.6, -39.4] faster "
                      "(2/3 did not build: drivers/virtio/virtio_balloon.c:120: error: 'x' undeclared)",
                      staircase.text(res, comps, "base"))
        first_failed = results(ran=("base", "s-2", "s-3"), outcomes=[{**failed, "variant": "s-1", "stage": "apply"}])
        self.assertEqual(staircase.spans(first_failed, [tuple(p) for p in PAIRS], "base"), [("s-3", "s-2")])
        [step, _] = staircase.steps(first_failed, [comp("s-2", "base", "wall_s", 1.0, "faster"),
                                                   comp("s-3", "s-2", "wall_s", 1.0, "faster")], "base")
        self.assertEqual((step.patch, step.skipped[0][:19]), ("1–2/3 virtio_balloon: send ranges...",
                                                              "1/3 did not apply: "))

    def test_policy_compares_a_step_across_a_prefix_that_did_not_run(self):
        samples = [{"variant": v, "op": "inflate", "boot": b, "warmup": False, "wall_s": t * (1 + b / 100),
                    "host": None} for v, t in (("base", 1.0), ("s-1", 1.0), ("s-3", 0.5)) for b in range(1, 4)]
        res = {**results(ran=("base", "s-1", "s-3")), "samples": samples}
        step = next(c for c in policy.comparisons(res) if (c.variant, c.baseline, c.metric) == ("s-3", "s-1", "wall_s"))
        self.assertEqual(step.verdict, "faster")
        self.assertEqual([(baseline, order) for _, _, baseline, order in policy.views(res)],
                         [("base", ["base", "s-1", "s-2", "s-3", "other"]), ("s-1", ["s-1", "s-2", "s-3"])])  # its table


class WaterfallTest(unittest.TestCase):
    def staircase_job(self):
        """base, s-1, s-2, s-3 (the whole series), 3 boots each: patch 2 halves the inflate, the others change
        nothing."""
        times = {"base": 1.0, "s-1": 1.0, "s-2": 0.5, "s-3": 0.5}
        samples = [{"variant": v, "op": op, "boot": b, "cycle": 1, "warmup": False, "host": None,
                    "wall_s": t * (1 + b / 100)} for v, t in times.items() for b in range(1, 4)
                   for op in ("inflate", "deflate")]
        doc = {**results(ran=tuple(times)), "samples": samples, "job": {"dir": "/r/job-1", "pairs": PAIRS}}
        return {**doc, "variants": [{**v, "kernel": {}} for v in doc["variants"]]}

    def test_each_step_starts_where_the_steps_before_it_ended_and_the_whole_series_stands_beside(self):
        doc = self.staircase_job()
        comps = policy.comparisons(doc)
        [(op, found)] = [(op, f) for op, f in staircase.staircases(staircase.steps(doc, comps, "base"))
                         if op == "inflate"]
        bars = html._bars(found, [s.comparisons[0] for s in found])
        self.assertEqual([b[0] for b in bars], ["1/3", "2/3", "3/3"])
        self.assertEqual([(round(b[2], 6), round(b[3], 6)) for b in bars], [(0.0, 0.0), (0.0, -50.0), (-50.0, -50.0)])
        self.assertEqual([b[6] for b in bars], [html.BAR["same"], html.BAR["better"], html.BAR["same"]])
        svgs = html.staircase_plots(doc, comps)
        self.assertEqual(len(svgs), 2)  # inflate and deflate, time to target
        self.assertIn("inflate: time to target, patch by patch", svgs[0])
        self.assertIn("s-3 against base: -50.0 %", svgs[0])  # the whole series, beside the steps
        self.assertEqual(svgs[0].count("<rect "), 4)
        self.assertIn('id="staircase"', html.page(doc, comps))

    def test_a_bar_without_an_interval_has_no_whisker(self):
        svg = plots.waterfall("t", "%", [("1/2", "a", 0.0, -10.0, -12.0, -8.0, "#000"),
                                         ("2/2", "b", -10.0, -20.0, None, None, "#000")], None)
        self.assertEqual((svg.count("<rect "), svg.count("<path ")), (2, 1))


if __name__ == "__main__":
    unittest.main()

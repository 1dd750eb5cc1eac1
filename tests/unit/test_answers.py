"""Answers: the time where it is decided, else counted work where it can answer (harness/judge/answers.py)."""

import random
import unittest

from test_stats import boots

from harness.judge import answers, sequential, stats


def bimodal(variant, level, insns, count, rng, qemu="system", requests=1536):
    """``count`` boots of a host whose speed flips between 1× and 2× (whole boots and single cycles), the guest's
    instructions steady to 0.01 %: what a shared cloud VM gives (docs/statistics.md)."""
    out = []
    for b in range(1, count + 1):
        slow_boot = rng.random() < 0.5
        for c in range(1, 9):
            speed = 0.5 if slow_boot or rng.random() < 0.3 else 1.0
            n = insns * (1 + rng.gauss(0, 1e-4))
            for op, scale in (("inflate", 1.0), ("deflate", 0.8)):
                out.append({"variant": variant, "boot": b, "cycle": c, "op": op, "warmup": False, "qemu": qemu,
                            "wall_s": level * scale / speed * (1 + abs(rng.gauss(0, 0.03))),
                            "guest_insns": round(n * scale), "requests": requests,
                            "host_speed": 4e8 * speed})
    return out


class AnswerTest(unittest.TestCase):
    def test_counted_work_decides_where_the_bimodal_time_cannot(self):
        rng = random.Random(3)
        data = bimodal("base", 0.7, 267.4e6, 3, rng) + bimodal("v2", 0.65, 264.8e6, 3, rng, requests=96)
        said = answers.answers(stats.compare(data, "base"))
        self.assertEqual(len(said), 2)
        for a in said:
            self.assertFalse(a.time.decided, a.time.verdict)
            self.assertEqual(a.by, answers.COUNTED)
            self.assertEqual({c.metric: c.verdict for c in a.counted}, {"guest_insns": "fewer", "requests": "fewer"})
            self.assertGreater(a.time.spread, 1.9)
            text = a.text()
            self.assertRegex(text, r"^time to target: inconclusive \(host speed varied 2\.0×; needs ≥ \d+ boots a "
                                   r"side\); guest instructions: -0\.9\d % \[-0\.9\d, -0\.9\d\] fewer; requests: "
                                   r"-93\.75 % \[-93\.75, -93\.75\] fewer — decided on counted work$")

    def test_counted_work_does_not_answer_for_another_qemu(self):
        rng = random.Random(5)
        data = bimodal("base", 0.7, 267.4e6, 3, rng) + bimodal("v2", 0.68, 267.4e6, 3, rng, qemu="batched")
        (a, _) = answers.answers(stats.compare(data, "base"))
        self.assertIsNone(a.by)
        self.assertIn("undecided: the two sides ran different QEMU builds", a.text())

    def test_a_decided_time_is_the_answer(self):
        rng = random.Random(5)
        data = [{**s, "guest_insns": 1000, "qemu": None} for v, level in (("base", 1.0), ("v1", 0.7))
                for s in _samples(v, boots(level, 4, rng))]
        (a,) = answers.answers(stats.compare(data, "base"))
        self.assertEqual(a.by, answers.TIME)
        self.assertEqual(a.text(), f"time to target: {answers.change(a.time)} faster")

    def test_a_change_below_the_times_resolution_is_answered_by_the_count(self):
        """The time can say "no significant change" (it could have seen ±10 %) where the guest does 3 % more work:
        the count, which resolves 0.1 %, answers."""
        rng = random.Random(7)
        counted = lambda v, scale: [  # noqa: E731
            {**s, "guest_insns": round(267.4e6 * scale * (1 + rng.gauss(0, 1e-4))), "requests": 1536, "qemu": None}
            for s in _samples(v, boots(1.0, 12, rng, between=0.01, within=0.01))]
        quiet, more = counted("base", 1.0), counted("v1", 1.03)
        (a,) = answers.answers(stats.compare(quiet + more, "base"))
        self.assertTrue(a.time.verdict.startswith("no significant change"), a.time.verdict)
        self.assertEqual((a.by, a.changed), (answers.COUNTED, True))
        self.assertRegex(a.text(), r"^time to target: no significant change \(could detect ±\d\.\d %\); guest "
                                   r"instructions: \+3\.0\d % \[\+[23]\.\d\d, \+3\.\d\d\] more; requests: "
                                   r"\+0\.00 % \[\+0\.00, \+0\.00\] no significant change \(could detect ±0\.0 %\) "
                                   r"— decided on counted work$")

    def test_a_look_decided_on_counted_work_says_so(self):
        rng = random.Random(6)
        data = bimodal("base", 0.7, 267.4e6, 6, rng) + bimodal("v1", 0.68, 265.3e6, 6, rng, requests=192)
        at = sequential.look(data, "base", (3, 6), 6)
        self.assertEqual((at.round, at.decided), (3, True))
        self.assertEqual(at.how(), "on counted work: v1 inflate, v1 deflate; the rest on time")
        self.assertIn("on counted work: v1 inflate", sequential.stop_reason(data, "base", (3, 6), 4))

    def test_short_verdicts(self):
        self.assertEqual(answers.short("inconclusive: 6 boots a side could detect only ±18 %, needs ≥ 14"),
                         "inconclusive (needs ≥ 14 boots a side)")
        self.assertEqual(answers.short("no significant change (could detect ±4.1 % with 80 % power)"),
                         "no significant change (could detect ±4.1 %)")


def _samples(variant, values_by_boot):
    return [{"variant": variant, "boot": b, "cycle": i, "op": "inflate", "warmup": False, "wall_s": v}
            for b, vs in values_by_boot.items() for i, v in enumerate(vs, 1)]


if __name__ == "__main__":
    unittest.main()

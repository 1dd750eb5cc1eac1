"""Is it faster?  One answer for each op of each variant (or pair, or axis leaf) in each setting: the time to
target where its verdict is decided, else the counted work beside it where that can answer.

On a shared machine the host's speed moves the time (a core someone else shares runs the same inflate in 0.6 s
or in 1.2 s), so the time's verdict may stay inconclusive for dozens of boots.  Counted work — the guest's
instructions from the new target to the guest reaching it, and the requests QEMU handled (``Metric.counted``) —
does not move with the host's speed, and resolves changes of 0.1 % where the time resolves 10 %.  It answers a
narrower question, "does the guest do less work and ask the host less often?", and only where both sides ran the
same QEMU build: how long QEMU takes over a request is QEMU's own work, which nothing here counts.  So a question is
answered by the time where the time called a change; else by counted work where both sides ran one QEMU and every
counted metric of the op is decided; else by the time's "no significant change" where it said one.  The answer
then says both, e.g. "time to target: inconclusive (host speed varied 2.1×; needs ≥ 22 boots a side); guest
instructions: -0.78 % [-0.79, -0.77] fewer; requests: -75.00 % [-75.00, -75.00] fewer — decided on counted work".

The host's speed (guest instructions per second of the vCPU threads' CPU time) is reported, never used to correct
the time: under TCG QEMU handles the balloon's requests in the vCPU thread, so time × speed is the instruction count
again, and a series that saves the host work would look like a faster host (docs/statistics.md).
"""

import re
from dataclasses import dataclass

from harness.results.metrics import LABELS

TIME = "time"
COUNTED = "counted work"


@dataclass(frozen=True)
class Answer:
    op: str
    variant: str
    baseline: str
    setting: str | None   # where both sides were measured (``stats.setting``; results.json: ``where``)
    axis: str
    time: object          # the time's ``stats.Comparison``
    counted: tuple        # the op's counted comparisons
    by: str | None        # TIME, COUNTED, or None: undecided

    @property
    def decided(self):
        return self.by is not None

    @property
    def changed(self):
        """What decided called a change: the time, or any counted metric."""
        return self.time.changed if self.by == TIME else self.by == COUNTED and any(c.changed for c in self.counted)

    def why_not_counted(self):
        """Why counted work could not decide this question (None where it did)."""
        if self.by == COUNTED:
            return None
        if not self.counted:
            return "nothing counted"
        if not self.time.one_qemu:
            return "the two sides ran different QEMU builds, whose own work is not counted"
        return "the counted work is undecided too"

    def text(self):
        """The answer in one line: the time's verdict, and where it called no change the counted work's."""
        if self.by == TIME and (self.time.changed or not self.counted):
            return f"time to target: {change(self.time)} {self.time.verdict}"
        speed = f"host speed varied {self.time.spread:.1f}×; " if self.time.spread else ""
        head = f"time to target: {short(self.time.verdict, speed)}"
        counts = [f"{LABELS[c.metric]}: {change(c)} {short(c.verdict)}" for c in self.counted]
        tail = ("decided on counted work" if self.by == COUNTED else
                f"{'decided on time' if self.by else 'undecided'}: {self.why_not_counted()}")
        return "; ".join([head, *counts]) + f" — {tail}"


def change(c):
    """A comparison's change in percent with its interval; counts to two decimals (they move by less)."""
    return interval_text(c.ratio, c.ci, 2 if c.counted else 1)


def interval_text(ratio, ci, digits=1):
    """A ratio as a change in percent with its interval (the point estimate alone without one)."""
    if ratio is None:
        return "—"
    pct = lambda r: f"{(r - 1) * 100:+.{digits}f}"  # noqa: E731
    return f"{pct(ratio)} % (no interval)" if ci is None else f"{pct(ratio)} % [{pct(ci[0])}, {pct(ci[1])}]"


def short(verdict, extra=""):
    """A verdict in a few words: the word, and (after ``extra``) the boots an inconclusive one needs or the change
    a "no significant change" could have seen."""
    needs = re.search(r"needs ≥ (\d+)", verdict)
    seen = re.search(r"could detect (±[\d.]+ %) with", verdict)
    word = verdict.split(":")[0].split(" (")[0]
    inside = extra + (f"needs ≥ {needs[1]} boots a side" if needs else f"could detect {seen[1]}" if seen else "")
    return f"{word} ({inside.rstrip('; ')})" if inside else word


def answers(comps):
    """The answers of the comparisons ``comps`` (``stats.compare`` and friends), one per question: op, variant,
    baseline, setting and axis, in the comparisons' order."""
    questions = {}
    for c in comps:
        questions.setdefault((c.op, c.variant, c.baseline, c.setting, c.axis), []).append(c)
    out = []
    for (op, variant, baseline, setting, axis), mine in questions.items():
        time = next((c for c in mine if c.primary), None)
        if time is None:
            continue
        counted = tuple(c for c in mine if c.counted)
        counts = counted and time.one_qemu and all(c.decided for c in counted)
        by = TIME if time.changed else COUNTED if counts else TIME if time.decided else None
        out.append(Answer(op, variant, baseline, setting, axis, time, counted, by))
    return out


def record(a):
    """An answer for results.json (its setting under the key ``where``)."""
    return {"op": a.op, "variant": a.variant, "baseline": a.baseline, "where": a.setting, "axis": a.axis,
            "by": a.by, "spread": a.time.spread, "text": a.text()}

"""``balloon-harness bisect JOB --good REF --bad REF`` (or ``--series DIR``): the commit that moved a metric.

JOB is a template (kernel, guest, workload, QEMU) whose base is the git tree to bisect, ``{git: TREE, ref: …}``
(or ``--tree``).  The range is checked before anything is built (harness/intake/history.py).  Then the ends are
measured against each other in one job; a metric they do not differ on is an error, "the change is not between
these commits" (harness/judge/bisection.py).  Then ``git bisect`` picks each commit; its step is a job of the good
end and that commit — the good end's tree plus the diff to the commit, so only what changed recompiles —
interleaved, at most ``--rounds`` boots each, stopped at the first look that decides.  A commit whose kernel does
not apply or build is skipped before anything boots; a step that stays undecided ends the bisection, saying where
and why.  ``--with SERIES`` applies a series on every commit, the good end's too, so the bisection follows a
series' kernel (a nightly's candidate) across the base's history.  With ``--series DIR`` the steps are the
series' prefixes on JOB's base (``patches: k``), bisected by git over a history of the series' own.

Everything goes into a new directory under ``--results-dir``: each step's job file and job, ``git-bisect.log``,
``bisect.json`` and ``bisect.txt`` (also printed).  Exit status: 0 a first bad commit named, 1 the bisection
undecided or only narrowed to skipped commits, 2 an error.
"""

import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from harness import cache
from harness.avocado import jobs
from harness.build import kernel
from harness.config import loader, template
from harness.errors import ApplyError, BuildError, ConfigError, HarnessError
from harness.intake import history
from harness.intake.series import count, read_series
from harness.judge import bisection, outcomes
from harness.results import contract
from harness.results.metrics import METRICS

GOOD = "good"


def add_parser(subparsers):
    p = subparsers.add_parser("bisect", help="find the commit, or the patch of a series, that moved a metric")
    p.add_argument("job", type=Path, help="template job file; its base {git: TREE, ref: …} is the tree to bisect")
    p.add_argument("--good", metavar="REF", help="a commit without the change (with --series: a patch count, "
                                                 "default 0, the base)")
    p.add_argument("--bad", metavar="REF", help="a commit with it (with --series: default all patches)")
    p.add_argument("--tree", type=Path, metavar="DIR", help="the git tree to bisect, instead of JOB's base's")
    p.add_argument("--series", type=Path, metavar="DIR", help="bisect this series' patches on JOB's base instead")
    p.add_argument("--with", dest="on_top", type=Path, metavar="SERIES",
                   help="apply this series on every commit, the good end's too (a nightly's candidate)")
    p.add_argument("--op", default="inflate", choices=("inflate", "deflate"))
    p.add_argument("--metric", choices=[m.name for m in METRICS if m.compared],
                   help="default: guest_insns where counted, else wall_s (time to target)")
    p.add_argument("--threshold", type=float, metavar="PCT",
                   help="a commit is bad beyond this change in percent (default: half the ends' change)")
    p.add_argument("--rounds", type=int, default=6, metavar="N",
                   help=f"at most this many boots per kernel a step, looked at every {template.LOOK_EVERY}")
    p.add_argument("--results-dir", type=Path, default=Path("results/bisect"), metavar="DIR")
    p.set_defaults(func=run)


def run(args):
    start = time.monotonic()
    loader.load(args.job, count)
    bisect = _Bisect(args)
    bisect.measure_ends()
    steps = bisect.steps()
    found = bisect.git.first_bad
    text = bisection.transcript(bisect.range_text, bisect.span, steps, found, bisect.git.possible,
                                (time.monotonic() - start) / 60, bisect.subject, bisect.ends_bill)
    (bisect.dir / "git-bisect.log").write_text(bisect.git.log)
    (bisect.dir / "bisect.txt").write_text(text)
    contract.write_json(bisect.dir / "bisect.json", {
        "range": bisect.range_text, "op": args.op, "metric": bisect.span.metric, "line": bisect.span.line,
        "ends": bisect.span.comparison, "steps": [asdict(s) for s in steps], "first_bad": found,
        "possible": bisect.git.possible, "minutes": round((time.monotonic() - start) / 60, 2)})
    print(text, end="")
    return 0 if found else 1


class _Bisect:
    """One bisection's range, its jobs' directory, and how a commit becomes a variant of a step's job."""

    def __init__(self, args):
        self.args, self.cache_dir, self.ends_bill = args, cache.root(), {}
        self.dir = args.results_dir.resolve() / datetime.now(UTC).strftime("bisect-%Y%m%dT%H%M%S")
        if args.series and args.on_top:
            raise ConfigError("--with applies a series on every commit of a tree; --series bisects a series itself",
                              hint="give one of them")
        base = {"git": str(args.tree), "ref": "HEAD"} if args.tree else loader.sections(args.job).get("base") or {}
        (self._of_series if args.series else self._of_tree)(args, base)

    def _of_series(self, args, base):
        """The range of patch counts of ``--series``, on a history of the series' own; the base is JOB's."""
        self.series = read_series(args.series)
        try:
            ends = [int(x) for x in (args.good or 0, args.bad or len(self.series.patches))]
        except ValueError:
            raise ConfigError(f"{args.series}: with --series, --good and --bad are patch counts, not "
                              f"{args.good!r} and {args.bad!r}") from None
        if not 0 <= ends[0] < ends[1] <= len(self.series.patches):
            raise ConfigError(f"{args.series}: --good {ends[0]} --bad {ends[1]} is not a range of patch counts "
                              f"0 ≤ good < bad ≤ {len(self.series.patches)}")
        self.dir.mkdir(parents=True)
        commits = history.mirror(self.series, self.dir / "series")
        self.patches = {c: k for k, c in enumerate(commits)}
        self.range = history.Range.of(self.dir / "series", commits[ends[0]], commits[ends[1]])
        self.base, self.range_text = base, f"{args.series} patches {ends[0] + 1}..{ends[1]}"

    def _of_tree(self, args, base):
        """The range of ``--good``..``--bad`` in the git tree of JOB's base (or ``--tree``)."""
        if "git" not in base:
            raise ConfigError(f"{args.job}: the base is not a git tree ({base}), so it has no history to bisect",
                              hint="base: {git: TREE, ref: REF}, or --series DIR to bisect a series")
        if not (args.good and args.bad):
            raise ConfigError("bisect needs --good REF and --bad REF (or --series DIR)")
        self.series = None
        self.range = history.Range.of(base["git"], args.good, args.bad)
        self.dir.mkdir(parents=True)
        self.base = {"git": str(self.range.repo), "ref": self.range.good}
        self.range_text = (f"{self.range.repo} {self.range.good[:12]}..{self.range.bad[:12]} "
                           f"({self.range.commits} commits)")

    def subject(self, commit):
        if self.series:
            return f"{self.patches[commit]}/{len(self.series.patches)} {self.range.subject(commit)}"
        return self.range.subject(commit)

    def variant(self, commit):
        """The keys of the variant that is ``commit``: the series' prefix, or the good end plus the diff to it."""
        if self.series:
            return {"series": str(self.args.series.resolve()), "patches": self.patches[commit]}
        diff = str(history.diff(self.range, commit, self.dir / "diffs" / commit[:12]))
        return {"prerequisites": [diff], "series": str(self.args.on_top.resolve())} if self.args.on_top else \
            {"series": diff}

    def job(self, name, commit):
        """Write and load the job of the good end and ``commit`` (variant ``at-<commit>``): (its path, the Job)."""
        path = self.dir / f"{name}.yaml"
        good = (self.variant(self.range.good) if self.series and self.patches[self.range.good] else
                {"series": str(self.args.on_top.resolve())} if self.args.on_top else {})
        path.write_text(template.job_text(self.args.job, self.base, {GOOD: good, _name(commit): self.variant(commit)},
                                          self.args.rounds, "balloon-harness bisect"))
        return path, loader.load(path, count)

    def build(self, job, commit):
        """Build the good end and ``commit`` with one configuration; return the kernels built (not cached)."""
        builds = [kernel.build(job, job.variant(n), self.cache_dir, _progress) for n in (GOOD, _name(commit))]
        kernel.check_parity(builds)
        return sum(not b.cached for b in builds)

    def measure_ends(self):
        """Measure the bad end against the good; set ``span``, or raise why there is nothing to bisect."""
        print(f"bisect: measuring the ends of {self.range_text}", flush=True)
        path, job = self.job("ends", self.range.bad)
        try:
            built = self.build(job, self.range.bad)
        except (ApplyError, BuildError) as exc:
            raise HarnessError(f"the bad end {self.range.bad[:12]} does not {exc.stage}: {exc.cause}",
                               log=exc.log) from exc
        results = contract.load(jobs.run(jobs.BENCHMARK, path, self.dir))
        found = bisection.span(results, _name(self.range.bad), self.args.op, self.args.metric,
                               None if self.args.threshold is None else self.args.threshold / 100)
        if isinstance(found, str):
            raise HarnessError(f"{self.range_text}: {found}", hint="nothing was bisected")
        self.span, self.ends_bill = found, {"builds": built, "boots": _boots(results)}
        self.git = history.Bisection(self.range, self.dir / "bisect.git")

    def steps(self):
        """Test the commits git picks until it names the first bad one, or a step is undecided."""
        steps = []
        while (commit := self.git.next) is not None:
            step = self.step(commit, len(steps) + 1)
            steps.append(step)
            print(f"bisect: step {len(steps)}: {commit[:12]} {step.subject}: {step.word or 'undecided'} "
                  f"({step.why})", flush=True)
            if step.word is None:
                break
            self.git.mark(step.word)
        return steps

    def step(self, commit, n):
        subject = self.subject(commit)
        path, job = self.job(f"step-{n}-{commit[:12]}", commit)
        try:
            built = self.build(job, commit)
        except (ApplyError, BuildError) as exc:
            first = exc.cause.split(" | ")[0]  # the compiler's first error line, not make's echoes of it
            return bisection.Step(commit, subject, "skip", f"did not {exc.stage}: {first}", None, 0, 1, "")
        job_dir = jobs.run(jobs.BENCHMARK, path, self.dir)
        results = contract.load(job_dir)
        word, why = bisection.word(results, _name(commit), self.span)
        return bisection.Step(commit, subject, word, why, bisection.comparison(
            results, _name(commit), self.span.op, self.span.metric), _boots(results), built, str(job_dir))


def _name(commit):
    return f"at-{commit[:12]}"


def _boots(results):
    return sum(o["tests"] for o in outcomes.outcomes(results))


def _progress(message):
    print(f"  {message}", flush=True)

"""``balloon-harness report JOBDIR [-o FILE]``: write the HTML report of a finished job and print its path."""

from pathlib import Path

from harness.errors import HarnessError
from harness.judge import html, policy
from harness.results import contract


def add_parser(subparsers):
    p = subparsers.add_parser("report", help="write the HTML report of a finished Avocado job")
    p.add_argument("jobdir", type=Path, help="an Avocado job result directory")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="where to write the report (default JOBDIR/balloon/report.html)")
    p.set_defaults(func=run)


def write(path, data):
    """Render ``data`` to ``path``; a failed write raises HarnessError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html.page(data, policy.comparisons(data)))
    except OSError as exc:
        raise HarnessError(f"cannot write {path}: {exc.strerror}", hint="choose another path with -o") from exc
    return path


def run(args):
    data = contract.load(args.jobdir)
    print(write(args.output or args.jobdir / "balloon" / "report.html", data))
    return 0

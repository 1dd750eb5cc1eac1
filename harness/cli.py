"""balloon-harness: a thin dispatcher over one module per subcommand: harness.commands.series, .build, .compare,
.report, .nightly, .review and .bisect.

Each subcommand module registers its parser with ``add_parser`` and sets ``func``; ``main`` catches the root of
the error hierarchy once and prints the cause, the hint and the log path.  Exit status: what the command returns
(``nightly``: 0 no regression, 1 a regression), 2 for a harness error or a crash, 130 when interrupted.
"""

import argparse
import importlib
import sys
import traceback

from harness.errors import HarnessError

COMMANDS = ("series", "build", "compare", "report", "nightly", "review", "bisect")


def parser():
    top = argparse.ArgumentParser(prog="balloon-harness", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"harness.commands.{name}").add_parser(sub)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"balloon-harness: error: {exc.cause}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        if exc.log:
            print(f"  log: {exc.log}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("balloon-harness: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 -- a crash must never read as a command's own verdict (nightly's 1)
        traceback.print_exc()
        print("balloon-harness: internal error (the traceback above is a bug in the harness)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

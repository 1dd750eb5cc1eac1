"""Count the outcomes of `make check` from the runners' own records, not from console text.

Reads pytest's JUnit XML files and the ``results.json`` of every Avocado job under the given paths, prints one
line per test that did not pass (with its reason), and ends with ``N passed, N failed, N skipped``.  A test counts
as failed when it failed, errored, was interrupted, or was skipped or cancelled: everything `make check` runs is
required, except a skip whose reason starts with ``optional:`` (a test that only applies on some machines, e.g.
with working KVM), which is counted as skipped.  Exit status 0 only when nothing failed and some test ran.

Usage: python3 .ci/outcomes.py DIR_OR_FILE...
"""

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OPTIONAL = "optional:"
AVOCADO_PASS = ("PASS", "WARN")


def junit(path):
    """(name, outcome, reason) for each test case of a JUnit XML file; outcome is pass, fail or skip."""
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            out.append((name, "fail", (bad.get("message") or bad.text or "").strip().splitlines()[:1]))
        elif skipped is not None:
            reason = (skipped.get("message") or "").strip()
            out.append((name, "skip" if OPTIONAL in reason else "fail", [f"skipped: {reason}"]))
        else:
            out.append((name, "pass", []))
    return [(n, o, r[0] if r else "") for n, o, r in out]


def avocado(path):
    """(name, outcome, reason) for each test of an Avocado job's results.json."""
    out = []
    for t in json.loads(Path(path).read_text())["tests"]:
        status, reason = t["status"], str(t.get("fail_reason") or "")
        if status in AVOCADO_PASS:
            out.append((t["name"], "pass", ""))
        elif status in ("SKIP", "CANCEL") and reason.startswith(OPTIONAL):
            out.append((t["name"], "skip", reason))
        else:
            out.append((t["name"], "fail", f"{status}: {reason}"))
    return out


def records(paths):
    """Every test record under ``paths``: JUnit XML files and Avocado jobs' results.json."""
    out = []
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        for f in files:
            if f.suffix == ".xml":
                out += junit(f)
            elif f.name == "results.json" and (f.parent / "job.log").exists():
                out += avocado(f)
    return out


def main(argv):
    tests = records(argv)
    counts = {o: sum(1 for _, outcome, _ in tests if outcome == o) for o in ("pass", "fail", "skip")}
    for name, outcome, reason in tests:
        if outcome != "pass":
            print(f"{outcome.upper()}: {name}: {reason}")
    if not tests:
        print("no test records found under: " + " ".join(argv))
    print(f"{counts['pass']} passed, {counts['fail'] + (not tests)} failed, {counts['skip']} skipped")
    return 0 if tests and not counts["fail"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``balloon-harness compare JOBDIR [JOBDIR ...]``: the comparison table of finished jobs.

With several job directories their samples are pooled, each job's variants renamed ``<variant>@<job>`` after the
first, so tonight's kernels can be compared with last night's.
"""

from pathlib import Path

from .. import report, results


def add_parser(subparsers):
    p = subparsers.add_parser("compare", help="print the comparison table of finished Avocado jobs")
    p.add_argument("jobdirs", nargs="+", type=Path, help="Avocado job result directories")
    p.set_defaults(func=run)


def merge(datas, names):
    """Pool several jobs' results; variants of all but the first job get an ``@name`` suffix."""
    merged = {**datas[0], "variants": list(datas[0]["variants"]), "samples": list(datas[0]["samples"])}
    for data, name in zip(datas[1:], names[1:]):
        rename = {v["name"]: f"{v['name']}@{name}" for v in data["variants"]}
        merged["variants"] += [{**v, "name": rename[v["name"]]} for v in data["variants"]]
        merged["samples"] += [{**s, "variant": rename[s["variant"]]} for s in data["samples"]]
    return merged


def run(args):
    datas = [results.load(d) for d in args.jobdirs]
    data = merge(datas, [d.resolve().name for d in args.jobdirs])
    print(report.facts(data))
    print()
    print(report.table(data))
    return 0

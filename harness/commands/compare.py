"""``balloon-harness compare JOBDIR [JOBDIR ...]``: the comparison table of finished jobs.

With several job directories their samples are pooled, each job's variants renamed ``<variant>@<job>`` after the
first, so tonight's kernels can be compared with last night's.  Variants measured on different hosts are compared
per host unless ``--across-hosts`` (or the job's ``compare_across_hosts: true``) pools them; likewise variants are
compared within each setting of the job's axes unless ``--pool AXIS`` pools that axis's leaves.
"""

from pathlib import Path

from harness.errors import ConfigError
from harness.judge import report
from harness.results import contract


def add_parser(subparsers):
    p = subparsers.add_parser("compare", help="print the comparison table of finished Avocado jobs")
    p.add_argument("jobdirs", nargs="+", type=Path, help="Avocado job result directories")
    p.add_argument("--across-hosts", action="store_true", default=None,
                   help="compare variants measured on different hosts with each other (default: per host)")
    p.add_argument("--pool", action="append", default=[], metavar="AXIS",
                   help="pool the leaves of this axis instead of comparing within each (repeatable)")
    p.add_argument("--all", action="store_true", dest="full",
                   help="every metric and the warm-up cycles (default: the primary metric, time to target)")
    p.set_defaults(func=run)


def merge(datas, names):
    """Pool several jobs' results; variants of all but the first job get an ``@name`` suffix.  Test outcomes are
    kept when every job has them."""
    merged = {**datas[0], "variants": list(datas[0]["variants"]), "samples": list(datas[0]["samples"]),
              "outcomes": list(datas[0].get("outcomes", []))}
    for data, name in zip(datas[1:], names[1:]):
        rename = {v["name"]: f"{v['name']}@{name}" for v in data["variants"]}
        merged["variants"] += [{**v, "name": rename[v["name"]]} for v in data["variants"]]
        merged["samples"] += [{**s, "variant": rename[s["variant"]]} for s in data["samples"]]
        merged["outcomes"] += [{**o, "variant": rename.get(o["variant"], o["variant"])}
                               for o in data.get("outcomes", [])]
    if not all("outcomes" in d for d in datas):
        del merged["outcomes"]
    return merged


def pool(data, axes):
    """``data`` with ``axes`` dropped from every sample: their leaves are pooled, not compared apart."""
    unknown = set(axes) - {a for s in data["samples"] for a in s.get("axes", {})}
    if unknown:
        raise ConfigError(f"--pool {', '.join(sorted(unknown))}: no such axis in these results")
    return {**data, "samples": [{**s, "axes": {a: v for a, v in s.get("axes", {}).items() if a not in axes}}
                                for s in data["samples"]]}


def run(args):
    datas = [contract.load(d) for d in args.jobdirs]
    names = [d.resolve().name for d in args.jobdirs]
    data = pool(merge(datas, names), args.pool)
    setups = {name: report.setup_text(d["job"]) for name, d in zip(names, datas)}
    if len(set(setups.values())) > 1:
        print("the jobs ran their guests differently: " + "; ".join(f"{n}: {t}" for n, t in setups.items()))
    print(report.facts(data))
    print()
    print(report.table(data, across_hosts=args.across_hosts, full=args.full))
    return 0

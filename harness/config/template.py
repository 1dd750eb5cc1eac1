"""A job file written from a template: the template's kernel, guest, workload, QEMU and hosts, a base of the
writer's, its variants, and at most so many interleaved rounds looked at every ``LOOK_EVERY`` (they stop at the
first look that decides, harness/judge/sequential.py).  Commands that run jobs of their own making write them so,
and the written file is what ``avocado run -m`` is given: the same line typed by hand reproduces the job.
"""

import yaml

from harness.config import loader, schema
from harness.errors import ConfigError

KEPT = ("kernel", "guest", "workload", "qemu", "hosts", "compare_across_hosts")  # what the template gives
LOOK_EVERY = 3  # rounds between looks (benchmarks/sequential.py)


def looks(rounds):
    """The rounds a job of at most ``rounds`` looks at: every ``LOOK_EVERY``-th and the last."""
    return [*range(LOOK_EVERY, rounds, LOOK_EVERY), rounds]


def job_text(template, base, variants, rounds=None, writer="balloon-harness"):
    """The text of a job file: ``template``'s kept sections, ``base``, and ``variants`` ({name: its keys besides
    ``variant``}, the baseline first); with ``rounds``, that many interleaved rounds at most, with looks."""
    sections = loader.sections(template)
    if not isinstance(sections, dict) or any(k not in schema.TOP_SCHEMA for k in sections):
        raise ConfigError(f"{template}: a template is a job file without axes", hint="use a job file without axes")
    kept = {k: v for k, v in sections.items() if k in KEPT}
    head = yaml.safe_dump({"base": base, **kept}, sort_keys=False, default_flow_style=None, width=100)
    if rounds:
        head += (f"looks: {looks(rounds)}  # the rounds stop at the first look that decides\n"
                 "rounds: !mux\n" + "".join(f"  r{n}: {{round: {n}}}\n" for n in range(1, rounds + 1)))
    lines = "".join(f"  {name}: " + yaml.safe_dump({"variant": name, **keys}, default_flow_style=True, width=1000,
                                                   sort_keys=False) for name, keys in variants.items())
    return f"# written by {writer}\n{head}variants: !mux\n{lines}"

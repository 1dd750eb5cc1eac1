"""A job file's axes: each checked, every combination of one leaf per axis, and a combination merged into the job.

An axis is a top-level ``!mux`` (other than ``variants`` and ``rounds``) whose leaves each override sections, e.g.
``init_on_alloc: !mux {"off": {kernel: {cmdline: init_on_alloc=0}}, ...}``.  In a leaf, ``cmdline`` and
``fragments`` add to the job's; other keys replace.
"""

import itertools

from harness.config.checks import check_keys
from harness.config.hints import closest
from harness.config.schema import AXIS_SECTIONS, SCHEMA
from harness.config.specs import DEFAULT_FRAGMENTS
from harness.errors import ConfigError


def check_axis(name, leaves, located):
    """Check an axis: named leaves, each overriding at least one key of the sections an axis may change."""
    if not isinstance(leaves, dict) or not leaves:
        raise ConfigError(f"{located((name,))}: axis {name!r} needs named leaves",
                          hint="e.g. on: {kernel: {cmdline: x=1}}")
    for leaf, sections in leaves.items():
        if not isinstance(sections, dict) or not sections:
            raise ConfigError(f"{located((name, leaf))}: axis leaf {name}/{leaf} sets nothing",
                              hint=f"a leaf overrides sections: {', '.join(AXIS_SECTIONS)}")
        for section in sections:
            if section not in AXIS_SECTIONS:
                raise ConfigError(f"{located((name, leaf, section))}: an axis leaf cannot set {section!r}",
                                  hint=closest(section, list(AXIS_SECTIONS)))
            check_keys(sections[section], SCHEMA[section], (name, leaf, section), located)
    return leaves


def choices(axes):
    """Every combination of one leaf per axis, in mux order (the first leaf of each axis first)."""
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def merge(data, leaves):
    """``data`` with each axis leaf's sections applied: ``cmdline`` and ``fragments`` add, other keys replace."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for leaf in leaves:
        for section, values in leaf.items():
            merged = out.setdefault(section, {})
            for key, value in values.items():
                if key == "cmdline" and merged.get(key):
                    value = f"{merged[key]} {value}"
                elif key == "fragments":
                    value = list(merged.get(key, DEFAULT_FRAGMENTS)) + value
                merged[key] = value
    return out

"""Read a job into a ``Job``: from its YAML file, keeping every key's line for the errors (``load``), or from the
Avocado parameters a test was given (``from_params``).

A job file is Avocado yaml-to-mux YAML: plain sections (``base``, ``kernel``, ``guest``, ``workload``, ``qemu``)
shared by every test, and ``!mux`` nodes that Avocado expands into one test per combination: ``variants`` (the
kernels compared), optionally ``rounds`` (interleaved repetitions) and any number of named *axes* (see ``axes``).
``qemus`` names QEMU builds, and a variant's ``qemu: NAME`` runs it on one (by name: a mapping inside a variant
leaf would shadow the leaf's own ``series`` in Avocado's tree); ``compare: {variant: [another, ...]}`` adds those
pairs to the comparisons of every variant with base.
A variant leaf with ``per_patch: true`` stands for one leaf per prefix of its series (``checks.per_patch``; the
Avocado tree gets the same leaves from harness/avocado/varianter.py).
``load`` reads the file itself (used by the CLI and the job-start plugin) so every error names the file, line,
key and the closest valid key, and gives every combination of the axes in ``settings``; ``from_params`` rebuilds
a test's own combination from the Avocado parameters it was given.  Both go through one validator
(``checks.validate``).
"""

import difflib
from dataclasses import replace
from pathlib import Path

import yaml

from harness.config.axes import check_axis, choices, merge
from harness.config.checks import per_patch, validate
from harness.config.schema import MUX_SECTIONS, SCHEMA
from harness.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps ``!mux`` mappings as plain mappings."""


_Loader.add_constructor("!mux", _Loader.construct_mapping)


def load(path, count=None):
    """Read and validate a job file; every error names ``path:line``.  ``count(series)`` is how many patches a series
    has, for the variants that ask for every prefix of theirs (``per_patch``); without it such a job is refused."""
    path = Path(path)
    data, lines, muxes = _read(path)
    located = lambda keys: f"{path}:{lines.get(keys, 1)}"  # noqa: E731
    data, made = per_patch(data, count, located)
    lines.update({("variants", new, *keys[2:]): line for new, leaf in made.items() for keys, line in list(lines.items())
                  if keys[:2] == ("variants", leaf)})
    axes = {}
    for name in [k for k in data if (k,) in muxes and k not in MUX_SECTIONS]:
        if name in SCHEMA:
            raise ConfigError(f"{located((name,))}: section {name!r} cannot be a !mux",
                              hint=f"make an axis instead: e.g. {name}_axis: !mux {{leaf: {{{name}: {{...}}}}}}")
        axes[name] = check_axis(name, data.pop(name), located)
    if axes:  # the sections around the axes must hold on their own too
        validate(data, located, str(path))

    def located_in(choice):  # a key an axis leaf sets is reported at the leaf's line
        return lambda keys: located(next((k for k in ((a, leaf, *keys) for a, leaf in choice.items()) if k in lines),
                                         keys))
    settings = tuple((choice, validate(merge(data, [axes[a][leaf] for a, leaf in choice.items()]),
                                       located_in(choice), str(path))) for choice in choices(axes))
    job = settings[0][1]
    if job.looks and job.looks[-1] != job.rounds:
        raise ConfigError(f"{located(('looks',))}: the last look must be the last round ({job.rounds}), not "
                          f"{job.looks[-1]}", hint=f"rounds lists {job.rounds} leaves")
    return replace(job, axes={a: tuple(leaves) for a, leaves in axes.items()}, settings=settings)


def sections(path):
    """The top-level mapping of a YAML job file as plain data (``!mux`` mappings as mappings), unvalidated."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader)


def is_job_file(path):
    """Whether a YAML file looks like a balloon job (has a job section, even misspelt), not some other mux file."""
    try:
        data = sections(path)
    except (OSError, yaml.YAMLError):
        return True  # unreadable: let load() say why
    return isinstance(data, dict) and any(difflib.get_close_matches(k, SCHEMA, n=1, cutoff=0.7) for k in data)


def from_params(items):
    """Rebuild the job from Avocado ``params.iteritems()`` triples ``(path, key, value)``: the test's own
    combination, with the leaf it got of every axis in ``axes``."""
    data, leaves, axes = {}, {}, {}
    for path, key, value in items:
        parts = [p for p in path.split("/") if p][1:]  # drop the leading 'run'
        if not parts:
            data[key] = value
        elif parts[0] in MUX_SECTIONS:  # /run/<mux>/<leaf>
            _put(data.setdefault(parts[0], {}).setdefault(parts[1], {}), parts[2:], key, value)
        elif parts == ["compare"]:
            data.setdefault("compare", {})[key] = value
        elif parts[0] == "qemus" and len(parts) > 1:  # /run/qemus/<name>[/balloon]
            _put(data.setdefault("qemus", {}).setdefault(parts[1], {}), parts[2:], key, value)
        elif parts[0] in SCHEMA:  # /run/<section>[/<mapping in it>, e.g. qemu/balloon]
            _put(data.setdefault(parts[0], {}), parts[1:], key, value)
        elif len(parts) >= 3:  # /run/<axis>/<leaf>/<section>[/<mapping in it>]
            axes[parts[0]] = parts[1]
            _put(leaves.setdefault(tuple(parts[:2]), {}).setdefault(parts[2], {}), parts[3:], key, value)
    located = lambda keys: "avocado parameters"  # noqa: E731
    return replace(validate(merge(data, list(leaves.values())), located, "<params>"), axes=axes)


def _read(path):
    """A job file as (plain data, {key path: line}, the key paths of its ``!mux`` mappings)."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_Loader)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{place}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if node is None or not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}: a job file is a YAML mapping of sections", hint=f"sections: {', '.join(SCHEMA)}")
    lines, muxes = {}, set()
    return _plain(node, (), lines, muxes), lines, muxes


def _put(mapping, path, key, value):
    """``mapping[path...][key] = value``, making the mappings on the way."""
    for part in path:
        mapping = mapping.setdefault(part, {})
    mapping[key] = value


def _plain(node, keys, lines, muxes):
    """Turn a composed node into plain Python data, recording the line of every mapping key and which mappings
    are ``!mux``."""
    if isinstance(node, yaml.MappingNode):
        if node.tag == "!mux":
            muxes.add(keys)
        out = {}
        for k, v in node.value:
            name = str(k.value)
            lines[keys + (name,)] = k.start_mark.line + 1
            out[name] = _plain(v, keys + (name,), lines, muxes)
        return out
    if isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines[keys + (str(i),)] = v.start_mark.line + 1
        return [_plain(v, keys + (str(i),), lines, muxes) for i, v in enumerate(node.value)]
    return _Loader("").construct_object(node, deep=True)

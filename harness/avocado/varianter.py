"""Avocado varianter plugin: short variant IDs for balloon jobs (``r2-v1`` instead of
``run-base-guest-kernel-rounds-r2-variants-v1-workload-f358``).

Avocado's yaml_to_mux varianter names a variant after every node on its paths plus a hash of its values, and
offers no option to change that; only a varianter plugin decides the ``variant_id`` that test IDs, ``avocado
variants``, the job log and ``jobdata/variants.json`` show. ``BalloonVarianter`` is yaml_to_mux itself (same
``-m``/``--mux-inject``/filter options, same tree, same params paths, so ``loader.from_params`` is unaffected) with
other IDs: the names of the leaves chosen from each ``!mux`` (in file order: ``r2-v1``, ``r1-minimal-off``); plain
sections contribute nothing. A variant whose short ID would be empty or shared keeps Avocado's own ID.

Avocado runs every enabled varianter and concatenates their variants, so the stock yaml_to_mux must yield none for
a job this plugin takes: this plugin has a higher priority, is initialized first, and takes the ``-m`` files and
``--mux-inject`` values out of the config the varianters share (that suite's copy, not ``job.config``). It takes a
run only when every ``-m`` file is a balloon job file; anything else is left to yaml_to_mux, unchanged.

A variant leaf with ``per_patch: true`` becomes a leaf per prefix of its series (``staircases``, after the
``--mux-filter-*`` options: filtering the leaf keeps or drops its whole staircase), so every prefix is a variant of
its own, interleaved in each round (``r2-v3-1``, ``r2-v3-2``, …, ``r2-v3``).
"""

from collections import Counter

from avocado.core.extension_manager import PluginPriority
from avocado.core.varianter import generate_variant_id
from avocado_varianter_yaml_to_mux.mux import MuxTreeNode
from avocado_varianter_yaml_to_mux.varianter_yaml_to_mux import YamlToMux

from harness.config import checks, loader
from harness.errors import ConfigError
from harness.intake import series


def short_id(variant):
    """The leaf names a variant (a list of tree leaves, in file order) takes from each ``!mux``, joined with '-'."""
    names, seen = [], set()
    for leaf in variant:
        chosen, node = [], leaf
        while getattr(node, "parent", None) is not None:
            if getattr(node.parent, "multiplex", False):
                chosen.append(node)
            node = node.parent
        for node in reversed(chosen):  # outer mux first
            if node.path not in seen:
                seen.add(node.path)
                names.append(node.name)
    return "-".join(names)


def variant_ids(variants):
    """Short IDs for a job's variants; Avocado's own ID for any that would be empty or shared, and for all of them
    should that still leave two alike."""
    variants = list(variants)
    short = [short_id(v) for v in variants]
    count = Counter(short)
    ids = [s if s and count[s] == 1 else generate_variant_id(v) for s, v in zip(short, variants)]
    return ids if len(set(ids)) == len(ids) else [generate_variant_id(v) for v in variants]


class BalloonVarianter(YamlToMux):
    name = "balloon"
    description = "yaml_to_mux for balloon job files, with variant IDs made of the mux leaves' names (r2-v1)"
    priority = PluginPriority.HIGH  # initialized before yaml_to_mux (NORMAL), so it can take the job's files

    def initialize(self, config):
        files = config.get("yaml_to_mux.files") or []
        if not files or not all(loader.is_job_file(p) for p in files):
            return  # not a balloon job: yaml_to_mux's, as ever (no root here, so no variants from this plugin)
        self.files = files
        super().initialize(config)
        if self.root is not None:
            self.variant_ids = variant_ids(self.variants)
        config["yaml_to_mux.files"] = []  # yaml_to_mux, initialized next, then has nothing to multiplex
        config["yaml_to_mux.inject"] = []

    def initialize_mux(self, root, paths):
        if root is not None:
            staircases(root, ", ".join(self.files))
        super().initialize_mux(root, paths)


def staircases(root, source):
    """Make every ``per_patch`` variant leaf of the tree a leaf per prefix of its series, and add each prefix's step
    to ``/run/compare``, as ``loader.load`` reads the job file (``checks.per_patch``); a tree it cannot expand is
    left for the job check to refuse."""
    variants = next((n for n in root.iter_children_preorder() if n.path == "/run/variants"), None)
    if variants is None or not any("per_patch" in n.value for n in variants.children):
        return
    compare = next((n.value for n in root.iter_children_preorder() if n.path == "/run/compare"), {})
    try:
        data, _ = checks.per_patch({"variants": {n.name: dict(n.value) for n in variants.children},
                                    "compare": dict(compare)}, series.count, lambda keys: source)
    except ConfigError:
        return  # left as it is: the job check (plugins.BalloonJobCheck) names the file, line and cause
    nodes = {n.name: n for n in variants.children}
    variants.children = []
    for leaf, values in data["variants"].items():
        node = nodes.get(leaf) or MuxTreeNode(leaf)
        node.value = values
        variants.add_child(node)
    if data.get("compare"):
        root.get_node("/run/compare", True).value.update(data["compare"])

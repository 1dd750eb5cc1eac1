"""docs/design.md's map of the package is the package: every module is on it, once, in the layer of its folder, and
every module imports only what its layer may (judge never run; commands and the Avocado side are imported by
nobody)."""

import ast
import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (\w+) \| `(harness/[\w/]+\.py)` \| (.+) \|$", re.M)
SHARED = {"errors", "command", "cache", "wait", "units", "privilege"}
MAY_IMPORT = {  # a layer: the layers its modules may import
    "shared": {"shared"},
    "intake": {"shared", "intake"},
    "build": {"shared", "intake", "build"},
    "run": {"shared", "build", "results", "run"},
    "results": {"shared", "results"},
    "judge": {"shared", "results", "judge"},
    "config": {"shared", "config"},
    "commands": {"shared", "intake", "build", "run", "results", "judge", "config", "avocado"},
    "avocado": {"shared", "intake", "build", "run", "results", "judge", "config", "avocado"},
}


def layer(module: str) -> str:
    """The layer of a dotted module name under harness."""
    parts = module.split(".")[1:]
    if not parts or parts[0] in SHARED:
        return "shared"
    return "commands" if parts[0] == "cli" else parts[0]


def modules():
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "harness").rglob("*.py") if p.name != "__init__.py"}


def imports(path: Path):
    """Every harness module or package ``path`` imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "harness":
            yield from (f"harness.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness."):
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "harness")


class DesignMapTest(unittest.TestCase):
    def setUp(self):
        self.rows = ROW.findall((ROOT / "docs" / "design.md").read_text())

    def test_every_module_is_on_the_map_once(self):
        named = [path for _, path, _ in self.rows]
        self.assertEqual(len(named), len(set(named)), "a module is on the map twice")
        self.assertEqual(set(named) - modules(), set(), "the map names modules that do not exist")
        self.assertEqual(modules() - set(named), set(), "modules missing from docs/design.md's map")

    def test_every_module_is_in_its_folders_layer(self):
        for name, path, job in self.rows:
            self.assertEqual(name, layer(path[:-3].replace("/", ".")), path)
            self.assertTrue(job.strip(), f"{path}: no job on the map")

    def test_imports_follow_the_layers(self):
        for path in sorted(modules()):
            mine = layer(path[:-3].replace("/", "."))
            for module in imports(ROOT / path):
                theirs = layer(module)
                self.assertIn(theirs, MAY_IMPORT[mine], f"{path} ({mine}) imports {module} ({theirs})")
                if mine == "commands" and path != "harness/cli.py":
                    self.assertFalse(module.startswith("harness.commands"), f"{path}: a command imports {module}")


if __name__ == "__main__":
    unittest.main()

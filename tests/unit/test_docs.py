"""The README and docs/ name only what exists: make targets and variables, files, commands and their options, job
keys.  A renamed option or a removed file fails here, not in a reader's shell."""

import argparse
import re
import tempfile
import unittest
from pathlib import Path

from harness import cli
from harness.config import loader, schema
from harness.results import contract

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH = re.compile(r"(?<![\w/.-])((?:configs|benchmarks|docs|harness|tests|patches|contrib|guest-images|\.ci)/"
                  r"[\w.*/-]*[\w*])")
MAKE = re.compile(r"\bmake ([a-z][\w-]*)")
KERNEL_TARGETS = {"olddefconfig", "tinyconfig", "defconfig", "x86_64_defconfig"}  # the kernel's own, named as such
MAKE_VAR = re.compile(r"\$\(([A-Z_]+)\)|\bmake [^`\n]*?\b([A-Z][A-Z_]+)=")
COMMAND = re.compile(r"balloon-harness ([a-z]+)((?: [a-z]+)?)([^`\n|]*)")
SCRIPT = re.compile(r"(benchmarks/\w+\.py)([^`\n|]*)")
OPTION = re.compile(r"(?<![\w-])(--[a-z][\w-]*)")


def texts():
    return [(p.relative_to(ROOT), p.read_text()) for p in DOCS]


def code(text):
    """The code of a Markdown text: `spans`, fenced blocks and indented lines, one string."""
    fenced = re.findall(r"```.*?\n(.*?)```", text, re.S)
    rest = re.sub(r"```.*?```", "", text, flags=re.S)
    return "\n".join([*re.findall(r"`([^`\n]+)`", rest), *fenced, *re.findall(r"^ {4}(.*)$", rest, re.M)])


def options(parser):
    """Every option string of ``parser`` and of its subparsers, by subcommand path."""
    out = {(): {o for a in parser._actions for o in a.option_strings}}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # an option's choices are values, not subcommands
            for name, sub in action.choices.items():
                for path, opts in options(sub).items():
                    out[(name, *path)] = opts
    return out


class DocsTest(unittest.TestCase):
    def test_make_targets_and_variables_exist(self):
        makefile = (ROOT / "Makefile").read_text()
        targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
        for path, text in texts():
            for target in set(MAKE.findall(code(text))) - KERNEL_TARGETS:
                self.assertIn(target, targets, f"{path}: make {target}")
            for a, b in MAKE_VAR.findall(text):
                self.assertRegex(makefile, rf"\b{a or b}\b", f"{path}: {a or b}")

    def test_named_files_exist(self):
        for path, text in texts():
            for name in PATH.findall(text):
                name = name.rstrip(".")
                found = list(ROOT.glob(name)) if "*" in name else [ROOT / name] if (ROOT / name).exists() else []
                self.assertTrue(found, f"{path} names {name}, which does not exist")

    def test_commands_and_their_options_exist(self):
        known = options(cli.parser())
        for path, text in texts():
            for sub, action, rest in COMMAND.findall(code(text)):
                if sub not in cli.COMMANDS:
                    continue
                key = (sub, action.strip()) if (sub, action.strip()) in known else (sub,)
                self.assertIn(key, known, f"{path}: balloon-harness {sub}")
                for opt in OPTION.findall(rest):
                    self.assertIn(opt, known[key], f"{path}: balloon-harness {' '.join(key)} {opt}")
            for script, rest in SCRIPT.findall(code(text)):
                source = (ROOT / script).read_text()
                for opt in OPTION.findall(rest):
                    self.assertIn(f'"{opt}"', source, f"{path}: {script} {opt}")

    def test_the_readme_job_example_is_a_valid_job(self):
        readme = (ROOT / "README.md").read_text()
        block = re.search(r"## Job YAML\n\n((?:    .*\n)+)", readme)[1]
        job = Path(tempfile.mkdtemp()) / "job.yaml"
        job.write_text("\n".join(line[4:] for line in block.splitlines()) + "\n")
        loader.load(job)

    def test_every_config_key_of_the_docs_exists(self):
        keys = {k for section in schema.SCHEMA.values() for k in section} | set(schema.SCHEMA)
        for path, text in texts():
            for section, key in re.findall(r"`(workload|kernel)\.(\w+)`", text):
                self.assertIn(key, schema.SCHEMA[section], f"{path}: {section}.{key}")
            for key in re.findall(r"`(\w+_s)`", text):  # a job key or a sample's field
                self.assertIn(key, keys | set(contract.Sample.__dataclass_fields__), f"{path}: {key}")


if __name__ == "__main__":
    unittest.main()

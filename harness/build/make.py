"""make in a kernel tree, as the harness runs it: reproducible build facts, its own process group ended by pid,
progress while it runs, the compiler's errors as the cause of a failure — and, for a tree a series touched, inside
the sandbox (build/sandbox.py), with what the sandbox refused named.
"""

import os
import re
import subprocess
import time
from dataclasses import dataclass

from harness import command
from harness.build import sandbox
from harness.errors import BuildError

# The build's facts, and the compiler's words alike in every build: kbuild unexports LC_ALL, so LANG says it.
BUILD_ENV = {"KBUILD_BUILD_TIMESTAMP": "2017-03-03", "KBUILD_BUILD_USER": "balloon-harness",
             "KBUILD_BUILD_HOST": "harness", "LANG": "C"}


@dataclass(frozen=True)
class Made:
    """What a make printed, and what the sandbox refused it."""

    output: str
    refused: list


def run(path, targets, log, what, progress=None, sandboxed=False):
    """Run make in ``path`` — ``sandboxed`` (build/sandbox.py) for a tree a series touched — and return its output
    and what the sandbox refused it; with ``progress``, report compiled files and elapsed time while it runs."""
    argv = ["make", f"-j{os.cpu_count()}", *targets]
    start = time.perf_counter()
    said = []
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(sandbox.argv(path, argv, BUILD_ENV) if sandboxed else argv, cwd=path,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                env=_environment(), start_new_session=True,
                                preexec_fn=command.die_with_parent)
        compiled, last = 0, start
        try:
            for line in proc.stdout:
                out.write(line)
                said.append(line)
                compiled += line.startswith("  CC ")
                if progress and time.perf_counter() - last > 15:
                    last = time.perf_counter()
                    progress(f"{what}: {compiled} files compiled, {last - start:.0f} s")
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
    if progress:
        progress(f"{what}: {compiled} files compiled in {time.perf_counter() - start:.1f} s (rc={rc})")
    refused = sandbox.refusals("".join(said), path) if sandboxed else []
    if rc != 0:
        errors = [l.strip() for l in said if re.search(r"\berror\b|Error \d", l)][:6]  # this make's, not the log's
        raise BuildError(f"{what} failed: {' | '.join(refused + errors) or f'make exited {rc}'}",
                         hint="the sandbox refused what it names" if refused else
                         "see the compiler errors in the build log", log=str(log))
    for r in refused if progress else []:
        progress(f"{what}: {r} (refused)")
    return Made("".join(said), refused)


def _environment():
    """The harness's environment without its locale, and the build's facts."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LC_")}, **BUILD_ENV}

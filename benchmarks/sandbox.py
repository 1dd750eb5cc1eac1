"""The sandbox's cost on a series' rebuild: one-line kernel series built in turn with and without build/sandbox.py.

    .venv/bin/python benchmarks/sandbox.py [--builds 5] [--config configs/check.yaml]

Each build is a fresh one-line series (a comment with a nonce in drivers/virtio/virtio_balloon.c, so nothing is
cached), built as a job's variant is: the base tree borrowed, the series applied, ``make olddefconfig bzImage``.
``sandboxed`` runs it as the build user in its namespaces (the harness as it is), ``plain`` as the harness itself
(build/sandbox.py bypassed).  The setups alternate, so drift hits both alike.  Prints each build's wall time, the
medians and their ratio.  Every kernel it built is removed from the cache afterwards.
"""

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import cache  # noqa: E402
from harness.build import kernel, sandbox  # noqa: E402
from harness.config import loader, specs  # noqa: E402
from harness.intake import tree  # noqa: E402

FILE = "drivers/virtio/virtio_balloon.c"


def series(base_file, dest):
    """A one-line series on ``base_file`` (a comment nobody else wrote), as git format-patch writes it."""
    repo = dest / "repo"
    (repo / FILE).parent.mkdir(parents=True)
    shutil.copy(base_file, repo / FILE)
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    with open(repo / FILE, "a") as out:
        out.write(f"/* {uuid.uuid4()} */\n")
    subprocess.run([*git, "commit", "-qam", "virtio_balloon: a comment"], cwd=repo, check=True)
    subprocess.run([*git, "format-patch", "-q", "-o", dest / "series", "HEAD~1"], cwd=repo, check=True)
    return dest / "series"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=5, help="builds per setup (default 5)")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "check.yaml")
    args = parser.parse_args()
    job = loader.load(args.config)
    cache_dir = cache.root()
    kernel.build(job, specs.Variant("base"), cache_dir, progress=lambda m: None)  # the base tree, built once
    base_file = tree.pristine(tree.resolve(job.base), cache_dir) / FILE
    times = {"sandboxed": [], "plain": []}
    for n in range(args.builds):
        for setup in times:
            with tempfile.TemporaryDirectory(prefix="bh-sandbox-bench-") as tmp:
                variant = specs.Variant(f"{setup}-{n}", series=series(base_file, Path(tmp)))
                bypass = mock.patch.multiple(sandbox, argv=lambda tree, command, env: command, own=lambda tree: None)
                start = time.perf_counter()
                with bypass if setup == "plain" else contextlib.nullcontext():
                    built = kernel.build(job, variant, cache_dir, progress=lambda m: None)
                times[setup].append(time.perf_counter() - start)
                shutil.rmtree(cache_dir / "kernels" / built.key)
                print(f"{setup:9s} build {n + 1}: {times[setup][-1]:.2f} s", flush=True)
    medians = {s: statistics.median(t) for s, t in times.items()}
    for setup, t in times.items():
        print(f"{setup:9s}: median {medians[setup]:.2f} s over {len(t)} builds (range {min(t):.2f}-{max(t):.2f} s)")
    print(f"sandboxed / plain: {medians['sandboxed'] / medians['plain']:.3f}")


if __name__ == "__main__":
    main()

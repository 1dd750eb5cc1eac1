"""What a series' rebuild costs beyond make: the sandbox, and the static checks; and checkpatch per patch.

    .venv/bin/python benchmarks/rebuild.py [--builds 5] [--config configs/check.yaml]

Each build is a fresh one-line series (a comment with a nonce in drivers/virtio/virtio_balloon.c, so nothing is
cached), built as a job's variant is: the base tree borrowed, the series applied, ``make
olddefconfig bzImage``, then its static checks (build/warnings.py: the touched object compiled again in the base,
cached after the first build, and in the variant at every level; intake/checkpatch.py).  ``checked`` is the harness
as it is; ``unchecked`` skips the static checks; ``plain`` skips them and the sandbox too (build/sandbox.py
bypassed: the build as the harness's user).  The setups alternate, so drift hits them alike.  Prints each build's
wall time, the medians and their ratios, and checkpatch's time per patch over the series in patches/.  Every kernel
it built is removed from the cache afterwards.
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
from harness.build import kernel, sandbox, warnings  # noqa: E402
from harness.config import loader, specs  # noqa: E402
from harness.intake import checkpatch, tree  # noqa: E402
from harness.intake.series import count, read_series  # noqa: E402

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
    job = loader.load(args.config, count)
    cache_dir = cache.root()
    kernel.build(job, specs.Variant("base"), cache_dir, progress=lambda m: None)  # the base tree, built once
    base_file = tree.pristine(tree.resolve(job.base), cache_dir) / FILE
    times = {"checked": [], "unchecked": [], "plain": []}
    for n in range(args.builds):
        for setup in times:
            with tempfile.TemporaryDirectory(prefix="bh-rebuild-bench-") as tmp, contextlib.ExitStack() as stack:
                variant = specs.Variant(f"{setup}-{n}", series=series(base_file, Path(tmp)))
                if setup != "checked":
                    stack.enter_context(mock.patch.object(warnings, "objects", lambda tree, files: []))
                    stack.enter_context(mock.patch.object(checkpatch, "check", lambda *a, **kw: ()))
                if setup == "plain":
                    stack.enter_context(mock.patch.multiple(sandbox, argv=lambda tree, command, env: command,
                                                            own=lambda tree: None))
                start = time.perf_counter()
                built = kernel.build(job, variant, cache_dir, progress=lambda m: None)
                times[setup].append(time.perf_counter() - start)
                shutil.rmtree(cache_dir / "kernels" / built.key)
                print(f"{setup:9s} build {n + 1}: {times[setup][-1]:.2f} s", flush=True)
    medians = {s: statistics.median(t) for s, t in times.items()}
    for setup, t in times.items():
        print(f"{setup:9s}: median {medians[setup]:.2f} s over {len(t)} builds (range {min(t):.2f}-{max(t):.2f} s)")
    print(f"the sandbox: unchecked / plain {medians['unchecked'] / medians['plain']:.3f}; the static checks: "
          f"checked - unchecked {medians['checked'] - medians['unchecked']:+.1f} s")
    pristine = tree.pristine(tree.resolve(job.base), cache_dir)
    kernel_series = [read_series(d) for d in sorted(ROOT.glob("patches/*/v*")) + sorted(ROOT.glob("patches/faults/*"))
                     if d.is_dir()]
    start = time.perf_counter()
    patches = sum(len(checkpatch.check(pristine, s)) for s in kernel_series)
    print(f"checkpatch: {(time.perf_counter() - start) / patches:.2f} s a patch over {patches} patches")


if __name__ == "__main__":
    main()

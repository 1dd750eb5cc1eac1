"""Small kernel-like trees and git repositories that the series and apply tests build their patches in."""

import subprocess
from pathlib import Path

FILE = "drivers/virtio/virtio_balloon.c"
BASE = [f"\tstat_{n} = read_stat(vb, {n});" for n in range(1, 41)]


def git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=T Tester", "-c", "user.email=t@example.org", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def write_tree(root: Path, lines) -> Path:
    (root / FILE).parent.mkdir(parents=True, exist_ok=True)
    (root / FILE).write_text("\n".join(lines) + "\n")
    return root

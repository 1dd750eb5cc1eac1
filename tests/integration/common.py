"""The kernel and image the integration tests boot: the base of configs/check.yaml, built once and cached."""

import functools
from pathlib import Path

from harness import cache
from harness.build import image, kernel
from harness.config import loader, specs

ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=None)
def base_build():
    """(job, kernel build, guest image, cache dir), built by the harness on first use and shared with Avocado."""
    job = loader.load(ROOT / "configs" / "check.yaml")
    cache_dir = cache.root()
    build = kernel.build(job, specs.Variant("base"), cache_dir)
    return job, build, image.build(job.guest.image, cache_dir), cache_dir

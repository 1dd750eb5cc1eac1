"""``balloon-harness build JOB.yaml``: apply, build and image everything a job needs — for every setting of its
axes, and the instruction-counting plugin where a one-vCPU guest may run under TCG — with progress.

The Avocado tests build what is missing on their own; running this first shows the long steps on the console
and fails early, naming the variant, when a series does not apply or a kernel does not build.
"""

import time

from harness import cache
from harness.build import image, kernel, plugin, qemu_build
from harness.config import loader
from harness.intake import series
from harness.run import qemu_argv


def add_parser(subparsers):
    p = subparsers.add_parser("build", help="build the kernels, QEMUs and guest image of a job (cached)")
    p.add_argument("job", help="job YAML, e.g. configs/default.yaml")
    p.add_argument("--variant", action="append", help="only these variants (repeatable)")
    p.add_argument("--cache-dir", help="cache directory (default $BALLOON_HARNESS_CACHE or ~/.cache/balloon-harness)")
    p.set_defaults(func=run)


def run(args):
    job = loader.load(args.job, series.count)
    cache_dir = cache.root(args.cache_dir)
    progress = lambda m: print(f"  {m}", flush=True)  # noqa: E731
    for choice, setting in job.settings:
        title = ", ".join(f"{a}={leaf}" for a, leaf in choice.items())
        if title:
            print(f"[{title}]", flush=True)
        wanted = [setting.variant(n) for n in args.variant] if args.variant else list(setting.variants)
        builds = []
        for variant in wanted:
            start = time.perf_counter()
            build = kernel.build(setting, variant, cache_dir, progress=progress)
            print(f"{variant.name}: {build.release} {build.bzimage} ({_how(build, start)})", flush=True)
            builds.append(build)
        kernel.check_parity(builds)
        for spec in dict.fromkeys(setting.qemu_of(v) for v in wanted):
            if spec.source != "system":
                start = time.perf_counter()
                built = qemu_build.build(spec, cache_dir, progress=progress)
                print(f"QEMU {built.version}: {built.binary} ({_how(built, start)})", flush=True)
    img = image.build(job.guest.image, cache_dir, progress=progress)
    print(f"image {img.name}: {img.initrd}")
    if any(s.guest.accel != "kvm" and not qemu_argv.not_counted(s.guest, "tcg") for _, s in job.settings):
        start = time.perf_counter()
        built = plugin.build(cache_dir, progress=progress)
        print(f"plugin {built.key}: {built.path} (against {built.header}; {time.perf_counter() - start:.1f} s)")
    return 0


def _how(build, start):
    return "cached" if build.cached else f"built in {time.perf_counter() - start:.1f} s"

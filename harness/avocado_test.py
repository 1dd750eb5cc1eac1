"""The base of the Avocado tests in ``tests/balloon/``: the job, its prerequisites, and result mapping.

A test gets its job from the Avocado parameters (the job YAML given with ``-m``), builds or reuses the kernels
it needs and the guest image (cached: the first test builds, the rest reuse), and boots guests.  Harness errors
become Avocado results by their class: a missing prerequisite CANCELs, a kernel that misbehaves FAILs, a harness
or environment fault ERRORs — always with the cause and the log that shows more.
"""

import contextlib
import socket

from avocado import Test

from . import cache, config, image, kernel
from .errors import HarnessError
from .guest import Guest
from .host import open_host


class BalloonTest(Test):
    """Common set-up for balloon tests."""

    timeout = 3600

    def setUp(self):
        self._host = None
        with self.outcome():
            self.job = config.from_params(self.params.iteritems())
            self.variant = self.job.variant(self.params.get("variant", default="base"))
            self.round = self.params.get("round", default=1)
            self.cache_dir = cache.root()

    @contextlib.contextmanager
    def outcome(self):
        """Map harness errors to CANCEL / FAIL / ERROR."""
        try:
            yield
        except HarnessError as exc:
            self.log.error("%s", exc)
            {"cancel": self.cancel, "fail": self.fail}.get(exc.outcome, self.error)(str(exc))

    def kernel(self, variant):
        return kernel.build(self.job, variant, self.cache_dir, progress=self.log.info)

    def kernels(self):
        """The kernel under test, checked for config parity against the base build."""
        build = self.kernel(self.variant)
        base = self.kernel(config.Variant("base"))
        kernel.check_parity([base, build])
        return build

    def image(self):
        return image.build(self.job.guest.image, self.cache_dir, progress=self.log.info)

    def guest(self, build, img, name="guest"):
        return Guest(build, img, self.job.guest, self.logdir + f"/{name}", self.cache_dir, self.job.kernel.cmdline,
                     progress=self.log.info, host=self.host())

    def host(self):
        """The variant's host (its leaf's ``host``, else the job's first, else this machine), connected and checked
        once per test (``host_facts``: what the check found)."""
        if self._host is None:
            spec = self.job.host(self.params.get("host", path="/run/variants/*", default=None))
            self._host = open_host(spec)
            self.host_name = spec.name if spec else socket.gethostname()
            facts = self._host.check(self.job.guest.qemu, self.job.guest.memory_mib, self.job.guest.accel)
            self.host_facts = {"ssh": f"{spec.user}@{spec.address}:{spec.port}" if spec and spec.address else None,
                               **facts}
            self.log.info("host %s: %s", self.host_name, self.host_facts)
        return self._host

    def tearDown(self):
        if getattr(self, "_host", None):
            self._host.close()

    def guest_facts(self, g):
        """Facts of the guest and of its host (``host`` names it: comparisons are made per host)."""
        return {"host": self.host_name, "host_facts": self.host_facts, "accel": g.accel, "qemu": self.job.guest.qemu,
                "qemu_version": self.host_facts["qemu_version"], "memory_mib": self.job.guest.memory_mib,
                "cpus": self.job.guest.cpus, "cmdline": self.job.kernel.cmdline, "boot_s": round(g.boot_s, 3),
                "compare_across_hosts": self.job.compare_across_hosts}

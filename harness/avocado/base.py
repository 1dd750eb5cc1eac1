"""The base of the Avocado tests in ``tests/balloon/``: the job, its prerequisites, and result mapping.

A test gets its job from the Avocado parameters (the job YAML given with ``-m``), builds or reuses the kernels
it needs and the guest image (cached: the first test builds, the rest reuse), and boots guests.  Harness errors
become Avocado results by their class: a missing prerequisite CANCELs, a kernel that misbehaves FAILs, a harness
or environment fault ERRORs — always with the cause and the log that shows more.
"""

import contextlib
import json
import socket
import time
from pathlib import Path

from avocado import Test

from harness import cache
from harness.build import image, kernel, qemu_build
from harness.config import loader, specs
from harness.errors import HarnessError
from harness.results import contract
from harness.run.guest import Guest
from harness.run.ssh import open_host

SETUP = ("tcg_thread", "tcg_tb_mib", "backend", "prealloc", "count_discards",  # how the guest ran, beside placement
         "count_insns")


class BalloonTest(Test):
    """Common set-up for balloon tests."""

    timeout = 3600

    def setUp(self):
        self._host = self._qemu = None
        self._held = contextlib.ExitStack()  # the host's lock
        with self.outcome():
            self.job = loader.from_params(self.params.iteritems())
            self.variant = self.job.variant(self.params.get("variant", default="base"))
            self.round = self.params.get("round", default=1)
            self.cache_dir = cache.root()
            contract.write_json(Path(self.outputdir) / contract.IDENTITY_FILE,
                               {"variant": self.variant.name, "round": self.round, "axes": self.job.axes})

    @contextlib.contextmanager
    def outcome(self):
        """Map harness errors to CANCEL / FAIL / ERROR."""
        try:
            yield
        except HarnessError as exc:
            self.log.error("%s", exc)
            ident = Path(self.outputdir) / contract.IDENTITY_FILE
            if exc.stage and ident.exists():  # where the kernel under test stopped, for the job's outcome table
                contract.write_json(ident, {**json.loads(ident.read_text()), "stage": exc.stage})
            {"cancel": self.cancel, "fail": self.fail}.get(exc.outcome, self.error)(str(exc))

    def kernel(self, variant):
        return kernel.build(self.job, variant, self.cache_dir, progress=self.log.info)

    def kernels(self):
        """The kernel under test, checked for config parity against the base build."""
        build = self.kernel(self.variant)
        base = self.kernel(specs.Variant("base"))
        kernel.check_parity([base, build])
        return build

    def image(self):
        return image.build(self.job.guest.image, self.cache_dir, progress=self.log.info)

    def guest(self, build, img, name="guest", balloon_props=(), **kw):
        """A guest of the variant's kernel; the balloon gets the properties of the variant's QEMU (``qemu.balloon``),
        then the check's own."""
        return Guest(build, img, self.job.guest, self.logdir + f"/{name}", self.cache_dir,
                     self.job.cmdline(self.variant), progress=self.log.info, host=self.host(),
                     qemu=self.qemu().binary,
                     balloon_props={**dict(self.job.qemu_of(self.variant).balloon), **dict(balloon_props)}, **kw)

    def qemu(self):
        """The QEMU the variant's guests run on, where they run (``host``)."""
        self.host()
        return self._qemu

    def _host_spec(self):
        return self.job.host(self.params.get("host", path="/run/variants/*", default=None))

    def host(self):
        """The variant's host (its leaf's ``host``, else the job's first, else this machine), connected, given its
        QEMU and checked once per test (``host_facts``: what the check found).  The test holds the host's lock from
        here to its end: with ``--max-parallel-tasks N`` Avocado runs tests side by side, but one host runs one
        guest at a time."""
        if self._host is None:
            spec = self._host_spec()
            lock_key = f"{spec.user}@{spec.address}:{spec.port}" if spec and spec.address else "localhost"
            self._held.enter_context(cache.locked(self.cache_dir / "hosts" / lock_key))
            self.held_since = time.time()
            self._host = open_host(spec)
            self.host_name = spec.name if spec else socket.gethostname()
            self._qemu = self._place_qemu(self._host)
            facts = self._host.check(self._qemu.binary, self.job.guest.memory_mib, self.job.guest.accel)
            self.host_facts = {"ssh": f"{spec.user}@{spec.address}:{spec.port}" if spec and spec.address else None,
                               **facts}
            self.log.info("host %s: %s", self.host_name, self.host_facts)
        return self._host

    def _place_qemu(self, host):
        """The host's own QEMU (``guest.qemu``), or one built from source on the controller (cached), copied to an
        SSH test host and checked to run there."""
        wanted = self.job.qemu_of(self.variant)
        if wanted.source == "system":
            return qemu_build.QemuBuild(self.job.guest.qemu, None, "system")
        built = qemu_build.build(wanted, self.cache_dir, progress=self.log.info)
        return built if host.local else qemu_build.ship(built, host)

    def tearDown(self):
        if getattr(self, "_host", None):
            self._host.close()
        if getattr(self, "_held", None):
            self._held.close()

    def guest_facts(self, g):
        """Facts of the guest and of its host (``host`` names it: comparisons are made per host)."""
        return {"host": self.host_name, "host_facts": self.host_facts, "accel": g.accel, "qemu": self.qemu().binary,
                "qemu_version": self.host_facts["qemu_version"],
                "qemu_build": {**self.qemu().identity(), "version": self.host_facts["qemu_version"]},
                "memory_mib": self.job.guest.memory_mib, "cpus": self.job.guest.cpus,
                "placement": g.placed or self.job.guest.placement, "insns": g.counting,
                "setup": {k: getattr(self.job.guest, k) for k in SETUP} | {"balloon": dict(g.balloon_props)},
                "cmdline": self.job.cmdline(self.variant), "axes": self.job.axes, "boot_s": round(g.boot_s, 3),
                "held": [round(self.held_since, 3), round(time.time(), 3)],  # the host was ours (epoch s)
                "compare_across_hosts": self.job.compare_across_hosts, "pairs": [list(p) for p in self.job.pairs]}

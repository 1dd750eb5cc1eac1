"""The guest's instruction counter: whether a boot counts (and how, or why not), the plugin handed to QEMU, and its
counter file in QEMU's run directory read here (a pread) or on an SSH host (``od``).

Where a boot counts the guest's instructions the plugin is built (or found in the cache) and copied to QEMU's host
like the kernel (harness/run/qemu_files.py hands it over); it adds into a 64-bit counter in the run directory.
"""

import os
import struct

from harness.build import plugin
from harness.errors import HostError
from harness.run import qemu_argv


class Counter:
    """One guest's instruction counter; ``counting`` says how it counts, or why not (None before a boot)."""

    def __init__(self, files, spec, cache_dir, progress):
        self.files, self.spec, self.cache_dir, self.progress = files, spec, cache_dir, progress
        self.plugin = None     # the plugin's path on QEMU's host, once a boot loads it
        self.counting = None   # whether the guest's instructions are counted, and how or why not
        self._fd = None

    def plugin_for(self, chosen):
        """The plugin's path on QEMU's host where a boot under ``chosen`` counts the guest's instructions (built, or
        found in the cache, and copied there), else None; ``counting`` says how, or why not."""
        self.counting = qemu_argv.not_counted(self.spec, chosen)
        if self.counting:
            return None
        built = plugin.build(self.cache_dir, self.progress)
        if self.plugin is None:  # a second boot (after a KVM probe) loads the same plugin
            self.plugin = self.files.handed(self.files.host.put(built.path))
        self.counting = f"counted by the TCG plugin {built.key} (built against {built.header})"
        return self.plugin

    def read(self, accel, qemu_state):
        """The guest's instructions so far under ``accel``, as the plugin counted them; None where not counted.  A
        counter that cannot be read is a HostError naming ``qemu_state()``."""
        if self.plugin is None or accel != "tcg":
            return None
        path = self.files.run_dir / qemu_argv.COUNTER
        try:
            return self._read(path)
        except (OSError, ValueError, struct.error) as exc:
            raise HostError(f"{self.files.host.name}: cannot read the instruction counter {path}: "
                            f"{getattr(exc, 'strerror', None) or exc}; {qemu_state()}",
                            log=str(self.files.log_dir / "qemu.log")) from exc

    def _read(self, path):
        """The plugin's 64-bit counter: a pread of the file kept open here, ``od`` on an SSH host."""
        if not self.files.host.local:
            return int(self.files.host.run(["od", "-An", "-tu8", "-N8", path]).stdout)
        if self._fd is None:
            self._fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return struct.unpack("=Q", os.pread(self._fd, 8, 0))[0]

    def close(self):
        """Close the counter file, where it was opened here."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

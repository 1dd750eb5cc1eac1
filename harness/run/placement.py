"""Where a guest's QEMU threads run on its host, by the job's ``guest.placement``.

``shared``: wherever the host's scheduler puts them.  ``split``: every thread of QEMU (main loop, I/O, workers) on the
host's first cores, then its vCPU threads on the last one, so the main loop answering the harness never takes the
vCPU's core; on this machine the harness's own thread joins the first cores too, until the guest stops.
"""

import os

from harness.errors import HostError


def split(host, pid, vcpu_threads):
    """Pin QEMU (``pid``, every thread) to all of ``host``'s cores but the last, then the vCPU threads
    (``vcpu_threads()``) to the last; here, the calling thread to the first cores too.  Returns
    (``{"vcpus": cores, "rest": cores}``, the calling thread's CPUs before, to restore; None on an SSH host)."""
    count = host.cores()
    if count < 2:
        raise HostError(f"{host.name}: placement split needs 2 cores, the host has {count}",
                        hint="use guest: {placement: shared}")
    rest, vcpus = f"0-{count - 2}", str(count - 1)
    host.pin([pid], rest, every_thread=True)
    host.pin(vcpu_threads(), vcpus)
    before = None
    if host.local:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, range(count - 1))
    return {"vcpus": vcpus, "rest": rest}, before

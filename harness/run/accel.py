"""Which accelerator a guest boots under: the job's ``accel``, or for ``auto`` KVM where it runs guests, else TCG.

``auto`` boots under KVM only where QEMU's user can open ``/dev/kvm`` (else TCG, and says why), and a first KVM boot is a probe (``kvm_trouble``): QEMU
failing, or a guest that prints nothing within ``KVM_SILENCE_S`` (nested/PVM KVM hangs silently), sends the boot to
TCG.  The verdict is remembered per host boot and QEMU binary (``<cache>/accel-<boot_id>.json``), so only the first
guest pays the probe.  An explicit ``accel: kvm`` where QEMU's user cannot open /dev/kvm is a PrerequisiteError.
"""

import json

from harness import wait
from harness.errors import BootError, PrerequisiteError, WaitTimeout

KVM_SILENCE_S = 10.0


def choose(spec, host, cache_dir, qemu, progress=lambda m: None):
    """The accelerator to boot ``qemu`` under first: the job's, or for ``auto`` TCG where QEMU's user cannot use
    /dev/kvm (``progress`` says why), else the one remembered for this boot of ``host``, else KVM (then to be
    probed)."""
    if spec.accel not in ("auto", "kvm"):
        return spec.accel
    trouble = host.kvm_trouble()
    if spec.accel == "kvm":
        if trouble:
            raise PrerequisiteError(f"{host.name}: the job asks for accel: kvm, but {trouble}",
                                    hint=f"give {host.qemu_user()} access to /dev/kvm (the group kvm), or use "
                                         f"accel: auto or tcg")
        return "kvm"
    if trouble:
        progress(f"accel auto: TCG, as {trouble}")
        return "tcg"
    return _remembered(host, cache_dir, qemu) or "kvm"


def _memo(host, cache_dir):
    boot_id = host.read_text("/proc/sys/kernel/random/boot_id").strip()
    return cache_dir / f"accel-{boot_id}.json"


def _remembered(host, cache_dir, qemu):
    try:
        return json.loads(_memo(host, cache_dir).read_text()).get(qemu)
    except (OSError, ValueError):
        return None


def remember(host, cache_dir, qemu, accel):
    """Record ``accel`` as the one ``qemu`` boots under until ``host`` reboots."""
    memo = _memo(host, cache_dir)
    known = {}
    if memo.exists():
        known = json.loads(memo.read_text())
    memo.write_text(json.dumps({**known, qemu: accel}))


def kvm_trouble(boot, console_text, exit_status):
    """Boot under KVM (``boot("kvm")``); return why KVM is unusable (QEMU failed, or the console, read by
    ``console_text``, stayed silent while ``exit_status()`` was None), or None."""
    try:
        boot("kvm")
    except BootError as exc:
        return exc.cause

    def printed_or_exited():
        if console_text():
            return "printed"
        rc = exit_status()
        return rc is not None and f"QEMU exited with status {rc}"

    try:
        seen = wait.until(printed_or_exited, KVM_SILENCE_S, "the guest's first output under KVM", poll_s=0.1)
    except WaitTimeout:
        return f"the guest printed nothing in {KVM_SILENCE_S:.0f} s, as under nested or paravirtual KVM"
    return None if seen == "printed" else seen

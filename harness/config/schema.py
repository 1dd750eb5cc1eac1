"""The keys a job file may hold, each with its type, and the values a few of them may take."""

import re

MUX_SECTIONS = {"variants": "variant", "rounds": "round"}
SCHEMA = {
    "base": {"debian": str, "git": str, "ref": str, "tarball": str},
    "kernel": {"profile": str, "fragments": list, "cmdline": str, "checkpatch_strict": bool},
    "qemu": {"source": str, "series": str, "balloon": dict},
    "guest": {"memory_mib": int, "cpus": int, "accel": str, "image": str, "qemu": str, "boot_timeout_s": float,
              "placement": str, "tcg_thread": str, "tcg_tb_mib": int, "backend": str, "prealloc": bool,
              "count_discards": bool, "count_insns": bool},
    "workload": {"target_mib": int, "targets": list, "cycles": int, "warmup": int, "poll_interval_s": float,
                 "op_timeout_s": float, "stall_s": float, "populate": bool, "fragment": bool, "migrate": bool,
                 "inflated": bool, "bandwidth_mbps": int},
    "variants": {"variant": str, "series": str, "prerequisites": list, "host": str, "cmdline": str,
                 "qemu": str, "patches": int, "per_patch": bool},
    "rounds": {"round": int},
}
HOST_SCHEMA = {"name": str, "ssh": str, "key": str, "known_hosts": str}
TOP_SCHEMA = {**{k: dict for k in SCHEMA}, "hosts": list, "compare_across_hosts": bool, "looks": list, "compare": dict,
              "qemus": dict}
SSH_TARGET = re.compile(r"(?P<user>[^@\s]+)@(?P<address>\[[^\]\s]+\]|[^@:\s]+)(?::(?P<port>\d+))?")
ACCELS = ("auto", "kvm", "tcg")
PLACEMENTS = ("shared", "split")  # guest.placement: see run/placement.py
TCG_THREADS = ("", "single", "multi")  # guest.tcg_thread: "" is QEMU's default
BACKENDS = ("anonymous", "memfd")  # guest.backend: see qemu_argv._memory
PROFILES = ("minimal", "distro", "defconfig")  # or the path of a kernel config file
QEMU_SOURCES = ("system", "debian")
AXIS_SECTIONS = ("kernel", "guest", "workload", "qemu")  # what an axis leaf may override
MIN_GUEST_MIB = 128

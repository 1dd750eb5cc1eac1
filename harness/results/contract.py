"""The sample contract: sample records, the results.json they are gathered into, and atomic writes.

Every balloon test writes ``balloon-test.json`` (its variant, round and axes) first, and a benchmark test
``balloon.json`` (its variant, kernel identity, guest facts, samples and ``actual`` traces) at its end, into its own
Avocado output directory.  At the end of the job they are gathered into ``<job dir>/balloon/results.json``
(schema 1): ``job`` (facts), ``variants`` (every variant the job declares, with its kernel identity once built),
``settings``, ``samples``, ``traces``, ``outcomes`` (every test: variant, check, status, reason, first console
trouble line, log), ``comparisons``, ``range_diff`` and, for a job with ``looks``, ``sequential`` (the look that
judged it: its round, index, alpha and whether it decided).  Every write goes to a temporary file that is fsync'ed and
renamed, so a reader sees the old file or the new one, never half of one.
"""

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import HarnessError

SCHEMA = 1
TEST_FILE = "balloon.json"
IDENTITY_FILE = "balloon-test.json"  # written first by every balloon test: its variant, round and axes
SETTING_FACTS = ("axes", "qemu_build", "memory_mib", "cpus", "cmdline", "placement", "setup")  # an axis leaf's


@dataclass(frozen=True)
class Sample:
    """One timed balloon operation, or one live migration (op ``migrate``)."""

    variant: str
    boot: int
    cycle: int
    op: str                  # 'inflate' | 'deflate'
    warmup: bool
    from_bytes: int
    to_bytes: int
    wall_s: float
    t50_s: float
    t90_s: float
    qemu_cpu_s: float
    qemu_threads_cpu_s: dict
    guest_cpu_s: float
    guest_memtotal_before_kb: int
    guest_memtotal_after_kb: int
    host_other_cpu_s: float | None = None  # CPU the host spent on anything but QEMU during the operation
    host_steal_s: float | None = None      # CPU a hypervisor took from the host during the operation
    host_running: int | None = None        # runnable tasks on the host when the operation ended
    outside_s: float | None = None         # the harness's work around the operation, outside its timed window
    host_returned_mib: float | None = None  # QEMU's RSS before the operation less after it (an inflate's memory
    #                                        given back to the host; what the host had populated of it)
    requests: int | None = None            # requests the guest sent (balloon.Phases; None: none traced)
    host_s: float | None = None            # QEMU's handling of them, kick to interrupt
    wait_s: float | None = None            # before the first request: the guest noticing the target
    ranges: int | None = None              # guest-physical ranges the device took (guest.count_discards)
    discards: int | None = None            # discards QEMU made (guest.count_discards)
    guest_insns: int | None = None         # guest instructions from the new target to the guest reaching it
    host_speed: float | None = None        # guest instructions per second of the vCPU threads' CPU time (the host's
    #                                        speed for this operation; None where not counted)
    downtime_s: float | None = None        # a migration (op ``migrate``; wall_s is QEMU's total time): the guest
    setup_s: float | None = None           # stopped, the setup before the first pass, the RAM sent, the pages sent
    transferred_mib: float | None = None   # as zero pages and as whole pages (harness/run/migration_workload.py)
    zero_pages: int | None = None
    normal_pages: int | None = None


def write_json(path, data):
    """Write ``data`` as JSON atomically; a full disk raises HarnessError and leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise HarnessError(f"cannot write {path}: {exc.strerror}", hint="free space in the results directory") from exc


def test_record(variant, round_, kernel, guest_facts, samples, traces):
    """The content of one test's ``balloon.json``."""
    return {"schema": SCHEMA, "variant": variant, "round": round_, "kernel": kernel, "guest": guest_facts,
            "samples": [asdict(s) for s in samples], "traces": traces}


def gather(job_dir):
    """Build the results.json document from the per-test records of an Avocado job directory."""
    job_dir = Path(job_dir)
    records = [json.loads(p.read_text()) for p in sorted(job_dir.glob(f"test-results/*/data/{TEST_FILE}"))]
    variants, settings, samples, traces, facts = {}, {}, [], [], {}
    for rec in records:
        guest = rec["guest"]
        axes = guest.get("axes") or {}
        key = json.dumps(axes, sort_keys=True)
        variants.setdefault((rec["variant"], key), {"name": rec["variant"], "series": rec["kernel"].get("series", []),
                                                    "prerequisites": [p["source"] for p in
                                                                      rec["kernel"].get("prerequisites", [])],
                                                    "kernel": rec["kernel"], "qemu_build": guest.get("qemu_build"),
                                                    "balloon": (guest.get("setup") or {}).get("balloon"),
                                                    **({"axes": axes} if axes else {})})
        settings.setdefault(key, {k: guest.get(k) for k in SETTING_FACTS})
        # compared per host and per setting of the axes
        samples += [{**s, "host": guest.get("host"), "qemu": _which(guest.get("qemu_build"))[0],
                     **({"axes": axes} if axes else {})} for s in rec["samples"]]
        traces += [{**t, **({"axes": axes} if axes else {})} for t in rec["traces"]]
        facts = {k: v for k, v in guest.items() if k not in ("boot_s", "axes", "held")} or facts
    if len(settings) > 1:  # what differs between settings is listed per setting, not as the last test's
        facts.update({k: "per setting" for k in (*SETTING_FACTS, "qemu", "qemu_version") if k in facts})
    elif len({_which(v["qemu_build"]) for v in variants.values()}) > 1:  # variants on QEMUs of their own
        facts.update({k: "per variant" for k in ("qemu", "qemu_version", "qemu_build") if k in facts})
        if isinstance(facts.get("setup"), dict):  # the balloon's properties are its QEMU's
            facts["setup"] = {**facts["setup"], "balloon": {}}
    return {"schema": SCHEMA, "job": {"dir": str(job_dir), **facts}, "variants": list(variants.values()),
            "settings": list(settings.values()), "samples": samples, "traces": traces}


def _which(qemu_build):
    """What tells one QEMU build from another (not whether this test found it cached)."""
    q = qemu_build or {}
    return q.get("binary"), q.get("source"), tuple(q.get("series") or ())


def load(job_dir):
    """results.json of a finished job (gathered from the tests if the job-end plugin did not write it)."""
    path = Path(job_dir) / "balloon" / "results.json"
    if path.exists():
        return json.loads(path.read_text())
    data = gather(job_dir)
    if not data["samples"]:
        raise HarnessError(f"{job_dir}: no balloon results (neither balloon/results.json nor test records)")
    return data

"""The declaration of every metric a sample carries: its unit, direction, label, words and part in a verdict."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """A measured quantity of a sample: its field, unit, direction, label, the words of its verdicts (better,
    worse), and its part in a verdict: ``primary`` (time to target) decides; ``counted`` work — counts the host's
    speed cannot move — answers where the time does not (harness/judge/answers.py); the rest are secondary, and a
    metric that is not ``compared`` is shown, never judged."""

    name: str
    unit: str
    lower_is_better: bool
    label: str
    primary: bool = False
    counted: bool = False
    resolution: float = 0.0  # the smallest step the quantity moves in
    words: tuple = ("faster", "slower")
    compared: bool = True  # False: reported and checked, never a verdict


COUNT = ("fewer", "more")
METRICS = (
    Metric("wall_s", "s", True, "time to target", primary=True, resolution=1e-6),  # a migration's: QEMU's total
    Metric("guest_insns", "instructions", True, "guest instructions", counted=True, resolution=1, words=COUNT),
    Metric("requests", "requests", True, "requests", counted=True, resolution=1, words=COUNT),
    Metric("ranges", "ranges", True, "ranges", counted=True, resolution=1, words=COUNT),
    Metric("discards", "discards", True, "discards", counted=True, resolution=1, words=COUNT),
    Metric("transferred_mib", "MiB", True, "RAM transferred", counted=True, resolution=1e-3, words=("less", "more")),
    Metric("zero_pages", "pages", True, "zero pages", counted=True, resolution=1, words=COUNT),
    Metric("normal_pages", "pages", True, "pages sent whole", counted=True, resolution=1, words=COUNT),
    Metric("t50_s", "s", True, "time to 50 %", resolution=1e-6),
    Metric("t90_s", "s", True, "time to 90 %", resolution=1e-6),
    Metric("downtime_s", "s", True, "downtime", resolution=1e-3, words=("shorter", "longer")),
    Metric("setup_s", "s", True, "setup time", resolution=1e-3),
    Metric("qemu_cpu_s", "s", True, "QEMU CPU", resolution=0.01, words=("less CPU", "more CPU")),
    Metric("guest_cpu_s", "s", True, "guest CPU", resolution=0.01, words=("less CPU", "more CPU")),
    # what the host got back is a check of each inflate (workload.populate), not a ranking of correct ones
    Metric("host_returned_mib", "MiB", False, "host memory returned", resolution=0.1,
           words=("more returned", "less returned"), compared=False),
)
LABELS = {m.name: m.label for m in METRICS}


def metric(name):
    """The ``Metric`` called ``name``."""
    return next(m for m in METRICS if m.name == name)

"""The nightly database: every night's samples in SQLite, stored and read back.

A night is one row of ``runs`` (time, job dir, host, accel, QEMU version, the job file as written, the
``--set-series`` overrides, the YAML that ran, the base's identity) with its samples in ``samples``, one row per
metric (variant, its axis leaves, host, kernel release, config hash, series, op, metric, value, warm-up, boot,
cycle), and the bisection ``nightly --bisect`` ran after it, if any, in ``bisections``.  A database of an
older layout gains the columns it lacks (``ADDED``) when it is opened.  A night whose tests ended for a reason other
than the kernels under test (``harness_errors``) is not stored.  Read back are the nights *alike* a night (the same
job file run without overrides, on the same host, with the same accelerator and QEMU), their samples in the shape of
results.json's, what changed between two nights, a night's base and its bisection; harness/judge/history.py judges
tonight with them.
"""

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.errors import HarnessError
from harness.results.metrics import METRICS

DB_NAME = "history.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, job_dir TEXT NOT NULL, host TEXT, accel TEXT, qemu_version TEXT,
    config TEXT, config_source TEXT, overrides TEXT NOT NULL DEFAULT '', base TEXT);
CREATE TABLE IF NOT EXISTS samples (
    run INTEGER NOT NULL REFERENCES runs(id), variant TEXT NOT NULL, kernel_release TEXT, config_sha256 TEXT,
    series TEXT, op TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, warmup INTEGER NOT NULL,
    boot INTEGER NOT NULL, cycle INTEGER NOT NULL, axes TEXT NOT NULL DEFAULT '{}', host TEXT);
CREATE INDEX IF NOT EXISTS samples_variant_run ON samples (variant, run);
CREATE TABLE IF NOT EXISTS bisections (
    run INTEGER PRIMARY KEY REFERENCES runs(id), variant TEXT NOT NULL, op TEXT NOT NULL, metric TEXT,
    good TEXT NOT NULL, bad TEXT NOT NULL, outcome TEXT NOT NULL, first_bad TEXT, said TEXT NOT NULL,
    transcript TEXT NOT NULL, dir TEXT, command TEXT NOT NULL);
"""
ADDED = {"runs": ("config_source TEXT", "overrides TEXT NOT NULL DEFAULT ''", "base TEXT"),  # older databases lack
         "samples": ("axes TEXT NOT NULL DEFAULT '{}'", "host TEXT")}


@dataclass(frozen=True)
class Night:
    id: int
    time: str
    job_dir: str


@dataclass(frozen=True)
class Bisected:
    """A bisection ``nightly --bisect`` ran after a night: the variant whose ``op`` moved (``metric`` None: bisect's
    own choice), the base's range ``good``..``bad`` (commit ids), how it ended (``found``, ``undecided`` or
    ``error``), the first bad commit, the line published, the transcript (or the error), its directory and the
    command that reruns it."""

    variant: str
    op: str
    metric: str | None
    good: str
    bad: str
    outcome: str
    first_bad: str | None
    said: str
    transcript: str
    dir: str | None
    command: str


def harness_errors(data):
    """Raise HarnessError for a test that ended for a reason other than the kernel under test (ERROR, CANCEL, …):
    such a night says nothing about the kernels and is not stored."""
    for o in data.get("outcomes", []):
        if o["status"] not in ("PASS", "WARN", "FAIL"):
            raise HarnessError(f"{o['test']} ({o['variant']}) ended {o['status']}: {o['reason']}", log=o.get("log"))


def connect(path):
    """Open (creating or extending if needed) the history database at ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
        conn.executescript(SCHEMA)
        for table, columns in ADDED.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    except (OSError, sqlite3.Error) as exc:
        raise HarnessError(f"{path}: cannot open the history database: {exc}",
                           hint="choose another file with --db") from exc
    return conn


def store(conn, data, config_source, config_ran=None, overrides="", when=None):
    """Store a results.json document as a new night; return its id.  ``config_source`` is the job file as written,
    ``config_ran`` the YAML that ran (with ``overrides`` applied, when there are any)."""
    job = data["job"]
    when = when or datetime.now(UTC).isoformat(timespec="seconds")
    kernels = {v["name"]: (v["kernel"].get("release"), v["kernel"].get("config_sha256"), " | ".join(v["series"]))
               for v in data["variants"]}
    try:
        with conn:
            run = conn.execute("INSERT INTO runs (time, job_dir, host, accel, qemu_version, config, config_source, "
                               "overrides, base) VALUES (?,?,?,?,?,?,?,?,?)",
                               (when, job["dir"], job.get("host"), job.get("accel"), job.get("qemu_version"),
                                config_ran or config_source, config_source, overrides, base_identity(data))).lastrowid
            conn.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             [(run, s["variant"], *kernels.get(s["variant"], (None, None, "")), s["op"], m.name,
                               s[m.name], s["warmup"], s["boot"], s["cycle"],
                               json.dumps(s.get("axes") or {}, sort_keys=True), s.get("host"))
                              for s in data["samples"] for m in METRICS if s.get(m.name) is not None])
    except sqlite3.Error as exc:
        raise HarnessError(f"cannot store {job['dir']} in the history database: {exc}") from exc
    return run


def base_identity(data):
    """The identity of the base tonight's kernels were built on (``git:<sha>``, ``linux-source-6.1=…``,
    ``tarball:<sha256>``) in results.json ``data``: the base variant's, else the first built variant's; None
    where no kernel was built."""
    built = [(v["name"], k["base"]) for v in data["variants"] if (k := v.get("kernel") or {}).get("base")]
    return min(built, key=lambda b: b[0] != "base", default=(None, None))[1]


def base_of(conn, night):
    """Night ``night``'s base identity (None: not known, e.g. a night stored before bases were)."""
    row = conn.execute("SELECT base FROM runs WHERE id = ?", (night,)).fetchone()
    return row[0] if row else None


def store_bisection(conn, night, b):
    """Store ``Bisected`` ``b`` as night ``night``'s bisection (replacing one stored before)."""
    try:
        with conn:
            conn.execute("INSERT OR REPLACE INTO bisections VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         (night, b.variant, b.op, b.metric, b.good, b.bad, b.outcome, b.first_bad, b.said,
                          b.transcript, b.dir, b.command))
    except sqlite3.Error as exc:
        raise HarnessError(f"cannot store the bisection of night {night} in the history database: {exc}") from exc


def bisection_of(conn, night):
    """Night ``night``'s ``Bisected``, or None."""
    row = conn.execute("SELECT variant, op, metric, good, bad, outcome, first_bad, said, transcript, dir, command "
                       "FROM bisections WHERE run = ?", (night,)).fetchone()
    return Bisected(*row) if row else None


def alike(conn, night, count):
    """The last ``count`` nights before ``night`` run alike: the same job file without overrides, on the same host
    with the same accelerator and QEMU; oldest first."""
    key = conn.execute("SELECT config_source, host, accel, qemu_version FROM runs WHERE id = ?", (night,)).fetchone()
    rows = conn.execute("SELECT id, time, job_dir FROM runs WHERE id < ? AND overrides = '' AND config_source IS ? "
                        "AND host IS ? AND accel IS ? AND qemu_version IS ? ORDER BY id DESC LIMIT ?",
                        (night, *key, count)).fetchall()
    return [Night(*r) for r in reversed(rows)]


def samples_of(conn, nights):
    """The samples of ``nights`` in the shape of results.json samples plus ``run``, ``kernel_release``,
    ``config_sha256`` and ``series``."""
    wide = {}
    ids = [n.id if isinstance(n, Night) else n for n in nights]
    for run, variant, release, config, series, op, name, value, warm, boot, cycle, axes, host in conn.execute(
            "SELECT run, variant, kernel_release, config_sha256, series, op, metric, value, warmup, boot, cycle, "
            f"axes, host FROM samples WHERE run IN ({','.join('?' * len(ids))}) ORDER BY run, boot, cycle, op",
            ids):
        sample = wide.setdefault((run, variant, axes, host, boot, cycle, op), {
            "variant": variant, "run": run, "boot": boot, "cycle": cycle, "op": op, "warmup": bool(warm),
            "kernel_release": release, "config_sha256": config, "series": series, "host": host,
            **({"axes": json.loads(axes)} if axes != "{}" else {})})
        sample[name] = value
    return list(wide.values())


def changes(conn, night, nights):
    """What differs between night ``night`` and the last of ``nights`` (kernel release, config, series) per
    variant, as lines."""
    if not nights:
        return []
    now, was = _kernels(conn, night), _kernels(conn, nights[-1].id)
    out = []
    for variant, mine in now.items():
        if variant in was:
            diffs = [f"{key} `{was[variant][key] or '(none)'}` → `{mine[key] or '(none)'}`" for key in mine
                     if mine[key] != was[variant][key]]
            out += [f"{variant}: {', '.join(diffs)}"] if diffs else []
    return out


def _kernels(conn, run):
    return {v: {"kernel": r, "config": c, "series": s} for v, r, c, s in conn.execute(
        "SELECT DISTINCT variant, kernel_release, config_sha256, series FROM samples WHERE run = ?", (run,))}

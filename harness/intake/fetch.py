"""Turn a series argument into a path: a path as given, or a message-id whose series ``b4 am`` fetches into the
cache, with a clear error where b4 is missing or the network does not allow it."""

import shutil
import subprocess
from pathlib import Path

from harness import cache, command
from harness.errors import SeriesError


def source(text) -> Path | str:
    """A series argument as given: a path, or a message-id (not a path that exists, and has an @)."""
    path = Path(text)
    return text.strip("<>") if not path.exists() and "@" in text and "/" not in text else path


def fetched(arg) -> Path:
    """The path of a series argument, fetching a message-id with b4 into the cache first."""
    return arg if isinstance(arg, Path) else fetch_message_id(arg, cache.root() / "b4" / arg)


def fetch_message_id(msgid: str, dest: Path) -> Path:
    """Fetch the series of ``msgid`` with ``b4 am`` into ``dest`` and return the ``.mbx`` it wrote."""
    hint = f"run `b4 am {msgid}` on a machine with network access and pass the .mbx"
    b4 = shutil.which("b4")
    if not b4:
        raise SeriesError(f"cannot fetch {msgid}: the b4 tool is not installed", hint=hint)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        result = command.run([b4, "am", "-o", dest, msgid], check=False, timeout=300)
    except subprocess.TimeoutExpired as exc:
        raise SeriesError(f"b4 did not fetch {msgid} within 300 s", hint=hint) from exc
    mbx = sorted(dest.glob("*.mbx"), key=lambda p: p.stat().st_mtime)
    if result.rc != 0 or not mbx:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no .mbx written"]
        raise SeriesError(f"b4 could not fetch {msgid}: {tail[0]}", hint=hint)
    return mbx[-1]

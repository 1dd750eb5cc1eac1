"""Where commands run: the local machine, or a machine reached over SSH.

A ``Host`` runs argument lists and returns ``CommandResult``s; everything else (reading a file, the clock tick)
is built on ``run``, so the local and the SSH implementations cannot drift apart.  ``SSHHost`` uses paramiko with
the peer's host key pinned from a known_hosts file (an unknown or changed key is refused, never accepted), quotes
every argument with ``shlex``, and serves both test hosts and guests.
"""

import shlex
import socket
import time

import paramiko

from . import command
from .command import CommandResult
from .errors import CommandError, SSHError


class Host:
    """Common operations on top of ``run(argv)``."""

    name = "host"

    def run(self, argv, check=True, timeout=None):
        raise NotImplementedError

    def read_text(self, path):
        return self.run(["cat", str(path)]).stdout

    def clk_tck(self):
        return int(self.run(["getconf", "CLK_TCK"]).stdout)


class LocalHost(Host):
    """The controller itself."""

    name = "localhost"

    def run(self, argv, check=True, timeout=None):
        return command.run(argv, check=check, timeout=timeout)

    def read_text(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()


class SSHHost(Host):
    """A machine reached with paramiko: key authentication, pinned host key, quoted arguments."""

    def __init__(self, hostname, port, user, key_file, known_hosts, name=None, connect_timeout_s=10.0):
        self.name = name or f"{user}@{hostname}:{port}"
        self._where = dict(hostname=hostname, port=port, username=user, key_filename=str(key_file),
                           timeout=connect_timeout_s, banner_timeout=connect_timeout_s,
                           auth_timeout=connect_timeout_s, allow_agent=False, look_for_keys=False)
        self._known_hosts = known_hosts
        self._client = None

    def connect(self):
        client = paramiko.SSHClient()
        client.load_host_keys(str(self._known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(**self._where)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise SSHError(f"{self.name}: host key does not match the pinned key in {self._known_hosts}",
                           hint="the host was reinstalled or is not the one configured; re-pin only if you know why") from exc
        except paramiko.SSHException as exc:
            client.close()
            raise SSHError(f"{self.name}: SSH refused: {exc}",
                           hint=f"check the key {self._where['key_filename']} and {self._known_hosts}") from exc
        except OSError as exc:
            client.close()
            raise SSHError(f"{self.name}: cannot connect: {exc}") from exc
        self._client = client
        return self

    def wait_ready(self, timeout_s, is_alive=lambda: True):
        """Connect, retrying while the peer is still starting (refused/reset) for up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.connect()
            except SSHError as exc:
                transient = isinstance(exc.__cause__, (OSError, paramiko.SSHException)) and not isinstance(
                    exc.__cause__, (paramiko.BadHostKeyException, paramiko.AuthenticationException))
                if not transient or time.monotonic() > deadline or not is_alive():
                    raise
                time.sleep(0.1)

    def run(self, argv, check=True, timeout=None):
        if self._client is None:
            raise SSHError(f"{self.name}: not connected")
        line = shlex.join(str(a) for a in argv)
        start = time.perf_counter()
        try:
            _, out, err = self._client.exec_command(line, timeout=timeout)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
            rc = out.channel.recv_exit_status()
        except (paramiko.SSHException, socket.error, EOFError) as exc:
            raise SSHError(f"{self.name}: running {line!r} failed: {exc}") from exc
        result = CommandResult(tuple(str(a) for a in argv), rc, stdout, stderr, time.perf_counter() - start)
        if check and rc != 0:
            raise CommandError(result, hint=f"on {self.name}")
        return result

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self):
        return self if self._client else self.connect()

    def __exit__(self, *exc):
        self.close()

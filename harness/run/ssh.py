"""Hosts reached over SSH: ``SSHHost`` (test hosts and guests alike), the processes it spawns, the constant scripts
it runs for them, the socket pump that bridges a forwarded channel to a socket, and ``open_host``.

``SSHHost`` uses paramiko with the peer's host key pinned from a known_hosts file (an unknown or changed key is
refused, never accepted) and quotes every argument with ``shlex``.  On an SSH host a spawned process and a temporary
directory are tied to an SSH channel by a constant wrapper script: when the channel's stdin reaches EOF (closed by us,
or the connection dropped) the process is ended and the directory removed, so nothing outlives the controller.
``open_host`` opens the host a job's ``hosts`` entry names: an ``SSHHost``, or this machine (``LocalHost``).
"""

import contextlib
import os
import random
import selectors
import shlex
import socket
import threading
import time
from pathlib import Path, PurePosixPath

import paramiko

from harness import cache, wait
from harness.command import CommandResult
from harness.errors import CommandError, HostError, SSHError, WaitTimeout, reason
from harness.run.host import Host, LocalHost

REMOTE_CACHE = ".cache/balloon-harness/artefacts"  # on an SSH host, relative to the login's home
HOST_COMMAND_TIMEOUT_S = 60.0
STOP_GRACE_S = 3.0
# Runs "$@" with its output appended to $1 and prints its pid; a watcher ends it (TERM, then KILL) once stdin
# reaches EOF.  Background jobs get /dev/null as stdin, hence the copy of stdin on fd 3.
SPAWN = r"""log=$1; shift
exec 3<&0 </dev/null
"$@" >>"$log" 2>&1 &
child=$!
echo "$child"
(while read -r _ <&3; do :; done; kill -TERM "$child" 2>/dev/null; sleep 5; kill -KILL "$child" 2>/dev/null) &
watcher=$!
exec 3<&-
wait "$child"
rc=$?
kill "$watcher" 2>/dev/null
exit "$rc"
"""
# Makes a 0700 directory, prints its path, and removes it once stdin reaches EOF.
TEMPDIR = r"""dir=$(mktemp -d "${TMPDIR:-/tmp}/bh-XXXXXXXX") || exit 1
echo "$dir"
while read -r _; do :; done
rm -rf -- "$dir"
"""


def as_socket(endpoint):
    """A connected ``socket.socket`` for ``endpoint``: itself, or one end of a socketpair pumped to a channel."""
    if isinstance(endpoint, socket.socket):
        return endpoint
    ours, theirs = socket.socketpair()
    threading.Thread(target=_pump, args=(endpoint, ours), name="bh-forward", daemon=True).start()
    return theirs


def _pump(channel, sock):
    """Copy bytes both ways until either side closes or fails; then close both."""
    with selectors.DefaultSelector() as sel, contextlib.closing(channel), contextlib.closing(sock):
        sel.register(channel, selectors.EVENT_READ, sock)
        sel.register(sock, selectors.EVENT_READ, channel)
        while True:
            for key, _ in sel.select():
                try:
                    data = key.fileobj.recv(1 << 16)
                    if not data:
                        return
                    key.data.sendall(data)
                except OSError:
                    return


class RemoteProcess:
    """A process started on an SSH host by the ``SPAWN`` wrapper; ended by closing its channel's stdin."""

    def __init__(self, host, channel, pid):
        self.host, self.channel, self.pid = host, channel, pid

    def poll(self):
        """The exit status, or None while running; SSHError if the connection to the host is gone."""
        if not self.channel.exit_status_ready():
            return None
        if self.channel.exit_status == -1 and not self.host.connected():
            raise SSHError(f"{self.host.name}: connection lost; cannot tell whether process {self.pid} still runs",
                           hint="the host's side ends it when its SSH session closes")
        return self.channel.exit_status

    def stop(self, grace_s=STOP_GRACE_S):
        """EOF on the wrapper's stdin: it TERMs the process (KILL after 5 s); wait for that, then close."""
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            self.channel.shutdown_write()
            self.channel.status_event.wait(grace_s + 10)
        self.channel.close()


class SSHHost(Host):
    """A machine reached with paramiko: key authentication, pinned host key, quoted arguments.

    ``opener`` (optional) returns the socket or channel to speak SSH over, as for a guest reached through its
    test host; ``command_timeout_s`` bounds every command that passes no timeout of its own.
    """

    def __init__(self, hostname, port, user, key_file, known_hosts, name=None, connect_timeout_s=10.0,
                 opener=None, command_timeout_s=None, remote_cache=REMOTE_CACHE):
        self.name = name or f"{user}@{hostname}:{port}"
        self._connect_kwargs = dict(hostname=hostname, port=port, username=user, key_filename=str(key_file),
                                    timeout=connect_timeout_s, banner_timeout=connect_timeout_s,
                                    auth_timeout=connect_timeout_s, allow_agent=False, look_for_keys=False)
        self._known_hosts = known_hosts
        self._opener = opener
        self._timeout_s = command_timeout_s
        self._remote_cache = remote_cache
        self._client = None
        self._sftp = None

    def connect(self):
        client = paramiko.SSHClient()
        client.load_host_keys(str(self._known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(**self._connect_kwargs, sock=self._socket())
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise SSHError(f"{self.name}: host key does not match the pinned key in {self._known_hosts}",
                           hint="the host was reinstalled or is not the one configured; re-pin only if you know why") from exc
        except paramiko.SSHException as exc:
            client.close()
            key = self._connect_kwargs["key_filename"]
            raise SSHError(f"{self.name}: SSH refused: {exc}",
                           hint=f"check the key {key} and {self._known_hosts}") from exc
        except OSError as exc:
            client.close()
            raise SSHError(f"{self.name}: cannot connect: {exc}") from exc
        self._client = client
        return self

    def _socket(self):
        """The transport: the opener's, or TCP that fails within ~15 s when the peer vanishes."""
        if self._opener:
            return self._opener()
        kwargs = self._connect_kwargs
        sock = socket.create_connection((kwargs["hostname"], kwargs["port"]), kwargs["timeout"])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3),
                              ("TCP_USER_TIMEOUT", 15000)):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
        return sock

    def connected(self):
        transport = self._client and self._client.get_transport()
        return bool(transport and transport.is_active())

    def _failed(self, what, exc):
        """The SSHError for ``what`` failing with ``exc``: a lost connection said so, else the exception's words."""
        if self._client is not None and not self.connected():
            return SSHError(f"{self.name}: connection lost: cannot {what}")
        return SSHError(f"{self.name}: cannot {what}: {reason(exc)}")

    def _transport(self):
        if not self.connected():
            raise SSHError(f"{self.name}: {'connection lost' if self._client else 'not connected'}")
        return self._client.get_transport()

    def wait_ready(self, timeout_s, is_alive=lambda: True):
        """Connect, retrying while the peer is still starting (refused/reset) for up to ``timeout_s``."""
        failure = None

        def connected():
            nonlocal failure
            try:
                return self.connect()
            except SSHError as exc:
                transient = isinstance(exc.__cause__, (OSError, paramiko.SSHException)) and not isinstance(
                    exc.__cause__, (paramiko.BadHostKeyException, paramiko.AuthenticationException))
                if not transient or not is_alive():
                    raise
                failure = exc
                return None

        try:
            return wait.until(connected, timeout_s, f"SSH to {self.name}", poll_s=0.1)
        except WaitTimeout:
            raise failure  # the last transient failure, as it was

    def run(self, argv, check=True, timeout=None):
        if self._client is None:
            raise SSHError(f"{self.name}: not connected")
        line = shlex.join(str(a) for a in argv)
        start = time.perf_counter()
        try:
            _, out, err = self._client.exec_command(line, timeout=timeout or self._timeout_s)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
            rc = out.channel.recv_exit_status()
        except (paramiko.SSHException, socket.error, EOFError) as exc:
            raise self._failed(f"run {line!r}", exc) from exc
        if rc == -1 and not self.connected():
            raise SSHError(f"{self.name}: connection lost while running {line!r}")
        result = CommandResult(tuple(str(a) for a in argv), rc, stdout, stderr, time.perf_counter() - start)
        if check and rc != 0:
            raise CommandError(result, hint=f"on {self.name}")
        return result

    # test-host operations -------------------------------------------------------------------------------------
    def _session(self, script, args, what):
        """Run the constant ``script`` with ``args`` as positional parameters; return (channel, its first line)."""
        try:
            channel = self._transport().open_session(timeout=self._connect_kwargs["timeout"])
            channel.settimeout(self._connect_kwargs["timeout"])
            channel.exec_command(shlex.join(["sh", "-c", script, "sh", *(str(a) for a in args)]))
            first = channel.makefile("r").readline().strip()
            channel.settimeout(None)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise self._failed(what, exc) from exc
        if not first:
            error = channel.makefile_stderr("r").read().decode(errors="replace").strip()
            channel.close()
            raise HostError(f"{self.name}: cannot {what}: {error or 'no output'}")
        return channel, first

    def qemu_user(self):
        """QEMU runs as the login (in its seccomp sandbox): no setpriv on a test host."""
        return self._connect_kwargs["username"]

    def spawn(self, argv, log_path, pass_fds=()):
        """Start ``argv`` on the host with its output appended to ``log_path`` there; a ``RemoteProcess``."""
        if pass_fds:
            raise HostError(f"{self.name}: cannot hand open files to a process over SSH")
        channel, pid = self._session(SPAWN, [log_path, *argv], f"start {argv[0]}")
        return RemoteProcess(self, channel, int(pid))

    @contextlib.contextmanager
    def tempdir(self):
        """A 0700 directory on the host, removed when the block exits or the connection drops."""
        channel, path = self._session(TEMPDIR, [], "make a temporary directory")
        try:
            yield PurePosixPath(path)
        finally:
            RemoteProcess(self, channel, None).stop()

    def free_port(self, exclude=()):
        """A TCP port not in use on the host (below its ephemeral range, so no outgoing connection takes it)."""
        used = self.ports()
        low = int(self.read_text("/proc/sys/net/ipv4/ip_local_port_range").split()[0])
        return random.choice([p for p in range(10000, min(low, 30000)) if p not in used | set(exclude)])

    def forward(self, port):
        """A paramiko channel to the host's 127.0.0.1:``port`` (SSH ``direct-tcpip``)."""
        try:
            return self._transport().open_channel("direct-tcpip", ("127.0.0.1", port), ("127.0.0.1", 0),
                                                  timeout=self._connect_kwargs["timeout"])
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise self._failed(f"reach its 127.0.0.1:{port}", exc) from exc

    def put(self, path):
        """Copy ``path`` into the host's cache as ``<sha256>/<name>`` (SFTP: it keeps its name, so a program runs
        under its own) unless there; return the remote path."""
        digest = cache.file_sha256(path)
        try:
            sftp = self._sftp = self._sftp or paramiko.SFTPClient.from_transport(self._transport())
            self.run(["mkdir", "-p", "-m", "0700", f"{self._remote_cache}/{digest}"])
            remote = f"{sftp.normalize(self._remote_cache)}/{digest}/{Path(path).name}"
            with contextlib.suppress(FileNotFoundError):
                sftp.stat(remote)
                return PurePosixPath(remote)
            partial = f"{remote}.{os.getpid()}.{threading.get_ident()}.part"
            sftp.put(str(path), partial)
            copied = self.run(["sha256sum", partial]).stdout.split()[0]
            if copied != digest:
                self.run(["rm", "-f", partial])
                raise HostError(f"{self.name}: {path} arrived as sha256 {copied[:16]}, not {digest[:16]}")
            sftp.posix_rename(partial, remote)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise self._failed(f"copy {path}", exc) from exc
        return PurePosixPath(remote)

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = self._sftp = None

    def __enter__(self):
        return self if self._client else self.connect()

    def __exit__(self, *exc):
        self.close()


def open_host(spec, command_timeout_s=HOST_COMMAND_TIMEOUT_S):
    """The host a ``config.specs.HostSpec`` names, connected; the controller itself for None or an entry without ssh."""
    if spec is None or spec.address is None:
        return LocalHost(spec.name if spec else "localhost")
    return SSHHost(spec.address, spec.port, spec.user, spec.key, spec.known_hosts, name=spec.name,
                   command_timeout_s=command_timeout_s).connect()

"""A real OpenSSH sshd, owned by a ``with`` block: the test host for SSH tests (on loopback, or on the address of a
network namespace made by ``netns.LabHost``)."""

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

import paramiko

from harness import command
from harness.command import Process
from harness.run.host import free_port
from harness.run.ssh import SSHHost


def children():
    """{parent pid: [(pid, comm), ...]} of every process now."""
    tree = {}
    for entry in Path("/proc").iterdir():
        try:
            head, _, rest = (entry / "stat").read_text().rpartition(")")
        except (OSError, ValueError):
            continue
        pid, _, comm = head.partition(" (")
        tree.setdefault(int(rest.split()[1]), []).append((int(pid), comm))
    return tree


def descendants(pid):
    """(pid, comm) of every process below ``pid``."""
    tree, out, todo = children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child[0])
    return out


class SSHD:
    """sshd -D with its own host key, accepting one generated client key: on a free loopback port, or on
    ``address:port`` inside network namespace ``netns``; ``client_alive_s`` makes it drop a vanished client; ``user``:
    the login (default: this process's), whose sshd reads the authorized keys as that user."""

    def __init__(self, netns=None, address="127.0.0.1", port=None, client_alive_s=None, user=None):
        self.dir = Path(tempfile.mkdtemp(prefix="bh-sshd-", dir="/tmp" if user else None))  # the login must reach it
        self._user = user
        if user:
            self.dir.chmod(0o755)  # the host key stays 0600; the session reads authorized_keys as the login
        self.address = address
        self.port = port or free_port()
        self.host_key = self.dir / "host_ed25519"
        command.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.host_key])
        self.client_key = self.dir / "client_ecdsa"
        key = paramiko.ECDSAKey.generate()
        key.write_private_key_file(str(self.client_key))
        (self.dir / "authorized_keys").write_text(f"{key.get_name()} {key.get_base64()}\n")
        (self.dir / "authorized_keys").chmod(0o644)
        self.known_hosts = self.dir / "known_hosts"
        pub = (self.dir / "host_ed25519.pub").read_text().split()
        self.known_hosts.write_text(f"{self.pattern} {pub[0]} {pub[1]}\n")
        alive = [f"ClientAliveInterval {client_alive_s}", "ClientAliveCountMax 2"] if client_alive_s else []
        (self.dir / "sshd_config").write_text("\n".join([
            f"Port {self.port}", f"ListenAddress {address}", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.dir}/authorized_keys", f"PidFile {self.dir}/sshd.pid", "StrictModes no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp", *alive, ""]))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        netns = ["ip", "netns", "exec", netns] if netns else []
        self.argv = [*netns, "/usr/sbin/sshd", "-D", "-e", "-f", self.dir / "sshd_config"]
        self.proc = None

    @property
    def pattern(self):
        """How known_hosts names this server."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"

    @property
    def user(self):
        return self._user or os.environ.get("USER", "root")

    def client(self, known_hosts=None, **kw):
        return SSHHost(self.address, self.port, self.user, self.client_key, known_hosts or self.known_hosts,
                       name=f"sshd:{self.address}:{self.port}", **kw)

    def sessions(self):
        """Pids of the per-connection sshd processes (they outlive the listener unless killed)."""
        return [pid for pid, comm in descendants(self.proc.pid) if comm == "sshd"] if self.proc else []

    def kill(self):
        """SIGKILL the listener and every connection's sshd, as when the host drops off the network."""
        for pid in self.sessions():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc:
            self.proc.stop(grace_s=0)

    def __enter__(self):
        with open(self.dir / "sshd.log", "wb") as log:
            self.proc = Process(self.argv, stderr=log).start()
        return self

    def __exit__(self, *exc):
        try:
            self.kill()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

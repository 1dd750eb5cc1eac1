"""A real OpenSSH sshd on 127.0.0.1, owned by a ``with`` block: the test host for SSH tests."""

import os
import tempfile
from pathlib import Path

import paramiko

from harness import command
from harness.command import Process
from harness.guest import free_port
from harness.host import SSHHost


class SSHD:
    """sshd -D on a free loopback port with its own host key, accepting one generated client key."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="bh-sshd-"))
        self.port = free_port()
        self.host_key = self.dir / "host_ed25519"
        command.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.host_key])
        self.client_key = self.dir / "client_ecdsa"
        key = paramiko.ECDSAKey.generate()
        key.write_private_key_file(str(self.client_key))
        (self.dir / "authorized_keys").write_text(f"{key.get_name()} {key.get_base64()}\n")
        self.known_hosts = self.dir / "known_hosts"
        pub = (self.dir / "host_ed25519.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n")
        (self.dir / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.dir}/authorized_keys", f"PidFile {self.dir}/sshd.pid", "StrictModes no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "PermitRootLogin prohibit-password", ""]))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.proc = Process(["/usr/sbin/sshd", "-D", "-e", "-f", self.dir / "sshd_config"],
                            stderr=open(self.dir / "sshd.log", "wb"))

    def client(self, known_hosts=None):
        return SSHHost("127.0.0.1", self.port, os.environ.get("USER", "root"), self.client_key,
                       known_hosts or self.known_hosts, name=f"sshd:{self.port}")

    def __enter__(self):
        self.proc.start()
        return self

    def __exit__(self, *exc):
        self.proc.stop()

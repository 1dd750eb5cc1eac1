"""Lab hosts for the tests: network namespaces joined to this machine by a veth pair, each running its own sshd.

Lab host N is namespace ``bh-labN`` with address 10.254.N.2 in 10.254.N.0/30 (this machine's end: 10.254.N.1);
only those namespace addresses and loopback are ever targeted.  The namespaces share this machine's filesystem
and processes, so QEMU started through a lab host's sshd is a real remote process tree seen from the harness.
Everything (sshd and its sessions, the veth pair, the namespace) is torn down on every exit path.
"""

from harness import command
from harness.config.specs import HostSpec

from .sshd import SSHD


class LabHost:
    """Namespace ``bh-lab<index>`` reached at 10.254.<index>.2:22 over SSH as root with a generated key."""

    def __init__(self, index):
        self.name = f"lab{index}"
        self.netns = f"bh-lab{index}"
        self.outer, self.inner = f"bh-lab{index}-c", f"bh-lab{index}-h"
        self.address = f"10.254.{index}.2"
        self.subnet = f"10.254.{index}"
        self.sshd = None

    def __enter__(self):
        try:
            self._remove()  # what a killed earlier run may have left
            for argv in (["ip", "netns", "add", self.netns],
                         ["ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner,
                          "netns", self.netns],
                         ["ip", "addr", "add", f"{self.subnet}.1/30", "dev", self.outer],
                         ["ip", "link", "set", self.outer, "up"],
                         ["ip", "-n", self.netns, "addr", "add", f"{self.address}/30", "dev", self.inner],
                         ["ip", "-n", self.netns, "link", "set", self.inner, "up"],
                         ["ip", "-n", self.netns, "link", "set", "lo", "up"]):
                command.run(argv)
            self.sshd = SSHD(netns=self.netns, address=self.address, port=22, client_alive_s=2).__enter__()
            self.client().wait_ready(10).close()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        try:
            if self.sshd:
                self.sshd.__exit__()
        finally:
            self._remove()

    def _remove(self):
        command.run(["ip", "link", "del", self.outer], check=False)
        command.run(["ip", "netns", "del", self.netns], check=False)

    def unplug(self):
        """Delete the veth pair: the host vanishes from the network with its sessions still open."""
        command.run(["ip", "link", "del", self.outer])

    def spec(self, known_hosts=None):
        return HostSpec(self.name, self.sshd.user, self.address, 22, self.sshd.client_key,
                        known_hosts or self.sshd.known_hosts)

    def client(self, **kw):
        return self.sshd.client(**kw)

    def yaml(self):
        """This host's entry in a job file's ``hosts``."""
        return (f"  - {{name: {self.name}, ssh: '{self.sshd.user}@{self.address}:22', key: '{self.sshd.client_key}', "
                f"known_hosts: '{self.sshd.known_hosts}'}}\n")

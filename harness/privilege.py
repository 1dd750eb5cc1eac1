"""Who runs untrusted work: the unprivileged users that builds of a series and guests' QEMUs run as.

Every series is untrusted, and so is every kernel built from one (docs/security.md).  When the harness runs as root,
the build of a tree a series touched runs as ``BUILD_USER`` and every guest's QEMU as ``QEMU_USER`` (in group kvm
where /dev/kvm exists): system users without a home or a shell that ``make deps`` creates, one each, so a build can
neither touch a running guest nor the other way round.  Run as another user, the harness is already unprivileged
and runs them as itself.
"""

import grp
import os
import pwd
from dataclasses import dataclass

from harness.errors import PrerequisiteError

BUILD_USER = "balloon-build"
QEMU_USER = "balloon-qemu"


@dataclass(frozen=True)
class Account:
    """An unprivileged user: its name, ids and supplementary groups."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...] = ()

    def argv(self):
        """The ``setpriv`` prefix that runs a command as this user, with no capabilities and no way to gain any."""
        groups = f"--groups={','.join(map(str, self.groups))}" if self.groups else "--clear-groups"
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", groups, "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all"]


def dropping():
    """Whether untrusted work must drop privileges: the harness runs as root."""
    return os.geteuid() == 0


def account(name):
    """The ``Account`` of the system user ``name``; PrerequisiteError naming the command that creates it."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise PrerequisiteError(f"no user {name}: untrusted builds and guests do not run as root",
                                hint=f"run `make deps` (or useradd --system --no-create-home --shell "
                                     f"/usr/sbin/nologin {name})") from None
    groups = tuple(g.gr_gid for g in grp.getgrall() if name in g.gr_mem and g.gr_gid != entry.pw_gid)
    return Account(name, entry.pw_uid, entry.pw_gid, groups)

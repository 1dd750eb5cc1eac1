"""The build of a tree a series touched: as the build user, without network, its tree the only place it can write.

A series from the list is untrusted, and its Makefiles, Kconfig and scripts run while the kernel (or QEMU) builds.
So the build runs (``argv``) in namespaces of its own made by util-linux's ``unshare`` — an empty network namespace
(no route anywhere, not even to 127.0.0.1 of the host), its own mount, IPC, UTS and PID namespaces — where fresh
tmpfs cover /tmp, /var/tmp, /dev/shm, /root, /home and the cache (keys, other trees, other builds: all absent), the
tree alone is bound back at its own path (kbuild records absolute paths), and then ``setpriv`` drops to
``privilege.BUILD_USER`` with no capabilities and no_new_privs.  As that user the rest of the system is read-only by
its modes: the build user owns only the tree's directories and build output (``own``); the sources it shares by hard
link with the pristine base stay root's.  Run by another user than root, the harness maps itself to root in a user
namespace of its own for the mounts, and the build runs as that user.  ``refusals`` reads what the sandbox refused
from a build's output.  Chosen over bubblewrap (not installed by default) and rootless podman (an image and a
container runtime to install) because util-linux is in every Debian system and the build needs nothing else
(docs/security.md).
"""

import os
import re
from pathlib import Path

from harness import cache, privilege

HIDDEN = ("/root", "/home")  # besides the cache: where keys and other users' files live
SCRIPT = r"""set -eu
tree=$1 hidden=$2; shift 2
mount -t tmpfs -o mode=0700 tmpfs /mnt && mkdir /mnt/tree && mount --bind "$tree" /mnt/tree
for d in /tmp /var/tmp /dev/shm; do mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$d"; done
while [ "$hidden" -gt 0 ]; do
    mkdir -p "$1" && mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$1"; shift; hidden=$((hidden - 1))
done
mkdir -p "$tree" && mount --bind /mnt/tree "$tree" && umount /mnt/tree && umount /mnt
cd "$tree"
exec "$@"
"""
REFUSED = re.compile(r"(?P<path>/[^\s:'\"`]+)['\"`]?: (?P<why>Permission denied|Read-only file system)"
                     r"|(?P<net>Network is unreachable)")


def argv(tree, command, env):
    """``command`` (a list) run in ``tree`` inside the sandbox, with exactly the environment ``env``."""
    tree = Path(tree)
    hide = sorted({*HIDDEN, str(cache.root())}, key=lambda p: p.count("/"))
    hide = [h for h in hide if Path(h).is_dir()]
    namespaces = ["--net", "--mount", "--ipc", "--uts", "--pid", "--fork", "--kill-child", "--propagation",
                  "private"]
    if privilege.dropping():
        user = privilege.account(privilege.BUILD_USER)
        run_as = user.argv()
        namespaces = ["unshare", *namespaces]
    else:
        run_as = []
        namespaces = ["unshare", "--user", "--map-root-user", *namespaces]
    environment = ["env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent", "LANG=C.UTF-8",
                   *(f"{k}={v}" for k, v in env.items())]
    return [*namespaces, "sh", "-c", SCRIPT, "sandbox", str(tree), str(len(hide)), *hide, *run_as, *environment,
            *command]


def own(tree):
    """Give the build user ``tree``'s directories and the files it does not share with the pristine base (build
    output, the configuration, the files a series patched), so the build can write there and nowhere else."""
    if not privilege.dropping():
        return
    user = privilege.account(privilege.BUILD_USER)
    for top, dirs, files in os.walk(tree):
        os.chown(top, user.uid, user.gid)
        for name in files:
            path = os.path.join(top, name)
            if not os.path.islink(path) and os.stat(path).st_nlink == 1:
                os.chown(path, user.uid, user.gid)


def refusals(text, tree):
    """What the sandbox refused a build, from its output: each write outside its tree and each try of the network,
    once, in order."""
    out = []
    for m in REFUSED.finditer(text):
        if m["net"]:
            said = "the build tried to reach the network: it has none"
        elif m["path"].startswith(str(tree) + "/"):
            continue
        elif m["why"] == "Read-only file system":
            said = f"the build tried to write {m['path']}: outside its tree"
        else:
            said = f"the build was refused {m['path']}: outside its tree"
        if said not in out:
            out.append(said)
    return out

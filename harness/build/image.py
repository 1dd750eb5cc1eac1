"""Build guest images from the recipes in ``guest-images/<name>/`` into cached initramfs files.

A recipe holds ``init`` (PID 1), ``recipe.yaml`` (host binaries to copy, the packages they come from, the
multi-call binaries whose applet links the image ships, the readiness line ``init`` prints) and a README.  Building
copies the binaries and the shared libraries ``ldd`` reports, makes the applet links (what ``busybox --install -s``
would make at boot, made here so the guest's init does not spend boot time on it), adds ``/etc`` files for root
logins by key, generates the guest's SSH host key with ``dropbearkey`` (shipped: nothing is generated at boot) and
installs the harness's client public key; the result is an uncompressed newc cpio written here (no root needed,
timestamps zeroed) and cached under a hash of everything that went in.  The host key's public half is kept for
pinning.
"""

import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import paramiko
import yaml

from harness import cache, command
from harness.errors import BuildError, CommandError, ConfigError, PrerequisiteError

RECIPES = Path(__file__).resolve().parents[2] / "guest-images"
ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/shells": "/bin/sh\n",
}


@dataclass(frozen=True)
class GuestImage:
    """A built initramfs, the host key it will present, and how to log in to it."""

    name: str
    key: str
    initrd: Path
    host_key: str       # 'ecdsa-sha2-nistp256 AAAA...' as known_hosts wants it
    client_key: Path    # private key the harness logs in with (0600)
    ready: str          # the line init prints on the console when sshd is up
    user: str = "root"


def client_key(cache_dir):
    """The harness's SSH client key (ECDSA, created 0600 on first use)."""
    path = cache_dir / "keys" / "client_ecdsa"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = paramiko.ECDSAKey.generate()
        tmp = path.with_suffix(".tmp")
        key.write_private_key_file(str(tmp))
        os.chmod(tmp, 0o600)
        tmp.rename(path)
    return path


def build(name, cache_dir, recipes=RECIPES, progress=print):
    """Return the cached image built from recipe ``name``."""
    recipe_dir = Path(recipes) / name
    if not (recipe_dir / "recipe.yaml").exists():
        choices = sorted(p.name for p in Path(recipes).iterdir() if (p / "recipe.yaml").exists())
        raise ConfigError(f"no guest image recipe {recipe_dir}/recipe.yaml", hint=f"recipes: {', '.join(choices)}")
    recipe = yaml.safe_load((recipe_dir / "recipe.yaml").read_text())
    for src in recipe["binaries"]:
        if not Path(src).exists():
            raise PrerequisiteError(f"guest image {name}: {src} is missing",
                                    hint=f"apt-get install {' '.join(recipe.get('packages', []))}")
    keyfile = client_key(cache_dir)
    pub = paramiko.ECDSAKey(filename=str(keyfile))
    pub_line = f"{pub.get_name()} {pub.get_base64()} balloon-harness\n"
    parts = [p.read_bytes() for p in sorted(recipe_dir.iterdir()) if p.is_file()]
    parts += [cache.file_sha256(src) for src in recipe["binaries"]]
    key = cache.digest(*parts, pub_line)

    def make(tmp):
        progress(f"image {name}: building")
        with tempfile.TemporaryDirectory(dir=tmp) as stage:
            host_key = _stage(Path(stage), recipe_dir, recipe, pub_line)
            _write_cpio(Path(stage), tmp / "initrd.cpio")
        (tmp / "host_key.pub").write_text(host_key + "\n")

    out = cache.entry(cache_dir / "images" / f"{name}-{key}", make)
    return GuestImage(name, key, out / "initrd.cpio", (out / "host_key.pub").read_text().strip(), keyfile,
                      recipe["ready"])


def _stage(root, recipe_dir, recipe, pub_line):
    """Lay out the image's file tree under ``root``; return the host key's public line."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/dropbear", "root/.ssh", "proc", "sys", "dev", "tmp",
              "run", "lib64", "lib/x86_64-linux-gnu"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(recipe_dir / "init", root / "init")
    os.chmod(root / "init", 0o755)
    for src, dest in recipe["binaries"].items():
        _copy(src, root / dest.lstrip("/"))
        for lib in _libraries(src):
            _copy(lib, root / lib.lstrip("/"))
    sources = {dest: src for src, dest in recipe["binaries"].items()}
    for binary in recipe.get("applets", []):
        if binary not in sources:
            raise ConfigError(f"guest image recipe: applets names {binary}, which is not a destination under binaries")
        _link_applets(root, binary, sources[binary])
    for rel, text in ETC.items():
        (root / rel).write_text(text)
    (root / "root/.ssh/authorized_keys").write_text(pub_line)
    os.chmod(root / "root/.ssh", 0o700)
    os.chmod(root / "root/.ssh/authorized_keys", 0o600)
    os.chmod(root / "root", 0o700)
    os.chmod(root / "tmp", 0o1777)
    host_key = root / "etc/dropbear/dropbear_ecdsa_host_key"
    try:
        out = command.run(["dropbearkey", "-t", "ecdsa", "-s", "256", "-f", host_key]).stdout
    except FileNotFoundError as exc:
        raise PrerequisiteError("dropbearkey is missing", hint="apt-get install dropbear-bin") from exc
    found = re.search(r"^(ecdsa-sha2-nistp256 \S+)", out, re.M)
    if not found:
        raise BuildError(f"dropbearkey printed no public key: {out[:200]!r}")
    return found.group(1)


def _link_applets(root, binary, host_binary):
    """Link every applet of the multi-call ``binary`` (its path in the image; ``host_binary --list-full`` names the
    applets) to it, as ``busybox --install -s`` does in the guest: absolute symlinks, files already there kept."""
    try:
        listed = command.run([host_binary, "--list-full"]).stdout.split()
    except CommandError as exc:
        raise BuildError(f"{host_binary} --list-full failed: it is not a multi-call binary listing its applets",
                         hint="list under applets only binaries such as busybox") from exc
    for rel in listed:
        link = root / rel.lstrip("/")
        if not (link.exists() or link.is_symlink()):
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(binary)


def _libraries(binary):
    """Absolute paths of the shared libraries ``binary`` loads (none for a static one)."""
    res = command.run(["ldd", binary], check=False)
    return re.findall(r"(/\S+) \(0x", res.stdout)


def _copy(src, dest):
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(os.path.realpath(src), dest)


def _write_cpio(root, out):
    """Write ``root`` as a newc cpio archive owned by root, with zero timestamps and a /dev/console node."""
    entries = [("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1))]
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        if path.is_symlink():
            entries.append((rel, st.st_mode, os.readlink(path).encode(), (0, 0)))
        elif path.is_dir():
            entries.append((rel, st.st_mode, b"", (0, 0)))
        else:
            entries.append((rel, st.st_mode, path.read_bytes(), (0, 0)))
    entries.sort(key=lambda e: e[0])
    with open(out, "wb") as f:
        for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", (0, 0))], 1):
            nlink = 2 if stat.S_ISDIR(mode) else 1
            fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
            f.write(b"070701" + b"".join(b"%08X" % v for v in fields))
            f.write(name.encode() + b"\0")
            f.write(b"\0" * (-(110 + len(name) + 1) % 4))
            f.write(data)
            f.write(b"\0" * (-len(data) % 4))

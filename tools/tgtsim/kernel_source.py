"""The pristine base of build/linux: the Debian tarball or the user's git tree."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tgtsim.errors import InfraError, UsageError
from tgtsim.gitutil import Git
from tgtsim.procs import run_quiet

DEBIAN_GITIGNORE_MARK = "# Debian packaging"
WANT_VERSION = (6, 12)
# `git add` streams every file larger than core.bigFileThreshold into one
# pack (bulk check-in): 1 byte puts (nearly) all of a tree there
BULK_THRESHOLD = 1


class NotThisKernel(UsageError):
    """KERNEL_SRC at KERNEL_REF is not a Linux 6.12 tree: a usage error for
    `tgtsim prepare`, a commit to skip for `bisect-step` (exit 125)."""


@dataclass(frozen=True)
class BaseSpec:
    """What the base is built from; `ident` is recorded and compared."""
    kind: str          # "tarball" or "git"
    location: Path
    ref: str = "HEAD"
    commit: str = ""   # resolved commit for kind == "git"

    @property
    def ident(self) -> str:
        if self.kind == "git":
            return f"git:{self.commit}"
        st = self.location.stat()
        return f"tarball:{self.location}:{st.st_size}:{int(st.st_mtime)}"

    def describe(self) -> str:
        if self.kind == "git":
            return f"{self.location} at {self.ref} ({self.commit[:12]})"
        return str(self.location)


def kernel_version(makefile_text: str) -> Optional[tuple[int, int]]:
    v = re.search(r"^VERSION\s*=\s*(\d+)", makefile_text, re.M)
    p = re.search(r"^PATCHLEVEL\s*=\s*(\d+)", makefile_text, re.M)
    if not v or not p:
        return None
    return int(v.group(1)), int(p.group(1))


def full_version(makefile_text: str) -> Optional[str]:
    """"6.12.57" (VERSION.PATCHLEVEL.SUBLEVEL and EXTRAVERSION) of a kernel Makefile."""
    parts = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
        m = re.search(rf"^{key}\s*=[ \t]*(\S*)", makefile_text, re.M)
        parts[key] = m.group(1) if m else ""
    if not parts["VERSION"] or not parts["PATCHLEVEL"]:
        return None
    v = f"{parts['VERSION']}.{parts['PATCHLEVEL']}"
    if parts["SUBLEVEL"]:
        v += f".{parts['SUBLEVEL']}"
    return v + parts["EXTRAVERSION"]


def resolve(kernel_src: Optional[str], kernel_ref: Optional[str], tarball: Path) -> BaseSpec:
    """Validate the requested base. Bad KERNEL_SRC -> UsageError (exit 2)."""
    if not kernel_src:
        if not tarball.is_file():
            raise InfraError(f"kernel source tarball {tarball} not found: install the "
                             "linux-source-6.12 package (tgtsim deps --install), "
                             "or set KERNEL_SRC=/path/to/linux.git")
        return BaseSpec(kind="tarball", location=tarball)
    src = Path(kernel_src).expanduser()
    ref = kernel_ref or "HEAD"
    if not src.is_dir():
        raise UsageError(f"KERNEL_SRC={kernel_src}: no such directory")
    git = Git(src)
    if not git.is_repo():
        raise UsageError(f"KERNEL_SRC={kernel_src}: not a git tree")
    commit = git.resolve(ref)
    if commit is None:
        raise UsageError(f"KERNEL_REF={ref}: not found in {kernel_src}")
    cp = git.run("show", f"{commit}:Makefile", check=False)
    version = kernel_version(cp.stdout) if cp.returncode == 0 else None
    if version != WANT_VERSION:
        got = "no kernel Makefile" if version is None else "Linux %d.%d" % version
        raise NotThisKernel(f"KERNEL_SRC={kernel_src} at {ref} is not a Linux 6.12 tree ({got})")
    return BaseSpec(kind="git", location=src.resolve(), ref=ref, commit=commit)


def drop_debian_gitignore(tree: Path) -> None:
    """The Debian tarball's .gitignore ignores everything at the top level."""
    gi = tree / ".gitignore"
    if not gi.is_file():
        return
    text = gi.read_text()
    idx = text.find(DEBIAN_GITIGNORE_MARK)
    if idx >= 0:
        gi.write_text(text[:idx].rstrip("\n") + "\n")


def tune(tree: Path) -> None:
    """git's untracked cache in build/linux: `git status`, run twice by
    each `make` (a clean tree?), spends 0.2 s less on its 80,000 files.
    Set when the tree is made; older trees get it on their next prepare."""
    try:
        text = (tree / ".git" / "config").read_text()
    except OSError:
        return
    if "untrackedcache" not in text.lower():
        Git(tree).run("config", "core.untrackedCache", "true")


def create(spec: BaseSpec, dest: Path) -> str:
    """Create `dest` as a git repo whose HEAD is the pristine base; return it."""
    tmp = dest.with_name(dest.name + ".new")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if spec.kind == "tarball":
        tmp.mkdir()
        run_quiet(["tar", "-xf", str(spec.location), "-C", str(tmp),
                   "--strip-components=1", "--no-same-owner"])
        drop_debian_gitignore(tmp)
        git = Git(tmp)
        git.run("init", "-q", "-b", "tgtsim")
        # fast loose objects: this repo is a local work tree, not an archive
        git.run("config", "core.looseCompression", "0")
        git.run("config", "gc.auto", "0")
        tune(tmp)
        # the base's files go straight into one stored (not deflated) pack
        # rather than 80,000 loose objects: a checkout from it (a bisection
        # step's tree, the bench's scratch clone) takes 2.5 times less, and
        # a clone of it needs no repack (build/bench/src)
        git.run("-c", f"core.bigFileThreshold={BULK_THRESHOLD}", "-c", "pack.compression=0",
                "add", "-A")
        git.run("commit", "-q", "--no-verify", "-m",
                f"tgtsim: base {spec.location.name}\n\nTgtsim-Base: {spec.ident}")
    else:
        run_quiet(["git", "clone", "-q", "--shared", "--no-checkout",
                   str(spec.location), str(tmp)])
        git = Git(tmp)
        git.run("config", "gc.auto", "0")
        tune(tmp)
        git.run("checkout", "-q", "-B", "tgtsim", spec.commit)
    head = git.head()
    if dest.exists():
        old = dest.with_name(dest.name + f".old-{int(time.time())}")
        dest.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(dest)
    return head

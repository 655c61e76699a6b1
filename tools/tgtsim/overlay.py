"""The overlay: sim_lld/ and kunit/ copied into the kernel tree.

sim_lld/ -> drivers/scsi/sim_lld/, kunit/ -> drivers/scsi/tgt_kunit/, plus
hooks appended to drivers/scsi/Kconfig and drivers/scsi/Makefile for every
overlaid directory that has a Kconfig (resp. a Makefile).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

# repo dir -> kernel dir
MAPPING = (("sim_lld", "drivers/scsi/sim_lld"), ("kunit", "drivers/scsi/tgt_kunit"))
# harness-side material that is not kernel code
SKIP_DIRS = {"profiles", "mutants", "selftest-bugs", "__pycache__"}
SKIP_SUFFIXES = (".md", ".txt", ".orig", ".rej", "~", ".o", ".ko", ".cmd")
HOOK_MARK = "# tgtsim overlay"


@dataclass
class Overlay:
    files: dict[str, bytes] = field(default_factory=dict)   # kernel path -> content
    modes: dict[str, int] = field(default_factory=dict)
    kconfig_dirs: list[str] = field(default_factory=list)   # kernel dirs with Kconfig
    make_dirs: list[str] = field(default_factory=list)      # kernel dirs with Makefile

    def digest(self) -> str:
        h = hashlib.sha256()
        for path in sorted(self.files):
            h.update(path.encode() + b"\0" + oct(self.modes[path]).encode() + b"\0")
            h.update(hashlib.sha256(self.files[path]).digest())
        return h.hexdigest()

    def kconfig_hook(self) -> str:
        if not self.kconfig_dirs:
            return ""
        return f"\n{HOOK_MARK}\n" + "".join(f'source "{d}/Kconfig"\n' for d in self.kconfig_dirs)

    def makefile_hook(self) -> str:
        if not self.make_dirs:
            return ""
        subdirs = " ".join(d.rsplit("/", 1)[1] + "/" for d in self.make_dirs)
        return f"\n{HOOK_MARK}\nobj-y += {subdirs}\n"


def _wanted(rel: Path) -> bool:
    if any(p in SKIP_DIRS or p.startswith(".") for p in rel.parts):
        return False
    name = rel.name
    if name.upper().startswith("README") or name.endswith(SKIP_SUFFIXES):
        return False
    return True


def collect(root: Path) -> Overlay:
    ov = Overlay()
    for src, dst in MAPPING:
        sdir = root / src
        if not sdir.is_dir():
            continue
        found = False
        for f in sorted(sdir.rglob("*")):
            if not f.is_file():
                continue
            rel = f.relative_to(sdir)
            if not _wanted(rel):
                continue
            kpath = f"{dst}/{rel.as_posix()}"
            ov.files[kpath] = f.read_bytes()
            ov.modes[kpath] = 0o755 if f.stat().st_mode & 0o111 else 0o644
            found = True
        if found and (sdir / "Kconfig").is_file():
            ov.kconfig_dirs.append(dst)
        if found and (sdir / "Makefile").is_file():
            ov.make_dirs.append(dst)
    return ov


def _write_if_changed(path: Path, data: bytes, mode: int = 0o644) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def apply(ov: Overlay, tree: Path) -> list[str]:
    """Write the overlay into `tree` (whose overlay dirs are assumed absent
    or stale); return the kernel paths to commit."""
    touched = []
    for _src, dst in MAPPING:
        d = tree / dst
        if d.is_dir():
            for f in d.rglob("*"):
                rel = f.relative_to(tree).as_posix()
                if f.is_file() and rel not in ov.files:
                    f.unlink()
        touched.append(dst)
    for kpath, data in ov.files.items():
        _write_if_changed(tree / kpath, data, ov.modes[kpath])
    for fname, hook in (("drivers/scsi/Kconfig", ov.kconfig_hook()),
                        ("drivers/scsi/Makefile", ov.makefile_hook())):
        f = tree / fname
        if hook and f.is_file():
            text = f.read_text()
            if HOOK_MARK in text:
                text = text[:text.index(HOOK_MARK)].rstrip("\n") + "\n"
            _write_if_changed(f, (text + hook).encode())
            touched.append(fname)
    return touched

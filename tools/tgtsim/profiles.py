"""Config profiles: kunit/profiles/base.config + kunit/profiles/PROFILE.config."""

from __future__ import annotations

from pathlib import Path

from tgtsim.errors import UsageError

BASE = "base"


def known(profiles_dir: Path) -> list[str]:
    if not profiles_dir.is_dir():
        return []
    return sorted(p.stem for p in profiles_dir.glob("*.config") if p.stem != BASE)


def fragments(profiles_dir: Path, profile: str) -> list[Path]:
    """The config fragments of `profile`, base first. Unknown -> UsageError."""
    names = known(profiles_dir)
    if profile not in names:
        raise UsageError(f"unknown profile '{profile}'; known profiles: "
                         + (", ".join(names) if names else f"none (no {profiles_dir}/*.config)"))
    out = []
    base = profiles_dir / f"{BASE}.config"
    if base.is_file():
        out.append(base)
    out.append(profiles_dir / f"{profile}.config")
    return out


def merged_text(frags: list[Path]) -> str:
    parts = []
    for f in frags:
        parts.append(f"# from {f.name}\n{f.read_text().rstrip()}\n")
    return "".join(parts)

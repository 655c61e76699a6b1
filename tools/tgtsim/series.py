"""The patch series: patches/linux-6.12/series and its NNNN-*.patch files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tgtsim.errors import UsageError


@dataclass(frozen=True)
class Patch:
    name: str
    path: Path
    sha256: str


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_series(series: Path) -> list[Patch]:
    """Patches listed in `series` (comments and blank lines ignored).

    A missing series file means an empty series. A listed patch that does not
    exist is a configuration error.
    """
    if not series.exists():
        return []
    patches = []
    for lineno, raw in enumerate(series.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        path = series.parent / line
        if not path.is_file():
            raise UsageError(f"{series}:{lineno}: patch {line} listed but not found")
        patches.append(Patch(name=line, path=path, sha256=sha256_file(path)))
    return patches


def write_series(series: Path, names: list[str]) -> None:
    series.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(n + "\n" for n in names)
    if not series.exists() or series.read_text() != text:
        series.write_text(text)

"""Where things live: repository, build and output directories."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
SERIES_SUBDIR = Path("patches/linux-6.12")


def find_repo_root(start: Path | None = None) -> Path:
    """The tgtsim checkout: the directory holding tools/tgtsim."""
    env = os.environ.get("TGTSIM_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    return here.parent.parent.parent if start is None else start.resolve()


@dataclass(frozen=True)
class Paths:
    root: Path
    build: Path
    out: Path
    tarball: Path = DEFAULT_TARBALL

    @classmethod
    def make(cls, root: Path, build: str | Path | None = None,
             out: str | Path | None = None) -> "Paths":
        # absolute and without "..": kbuild's O= and the coverage
        # tracefile's paths must be the same however the directory is named
        b = Path(os.path.abspath(build if build else root / "build"))
        o = Path(os.path.abspath(out if out else root / "out"))
        tarball = Path(os.environ.get("TGTSIM_TARBALL", str(DEFAULT_TARBALL)))
        return cls(root=root, build=b, out=o, tarball=tarball)

    @property
    def linux(self) -> Path:
        return self.build / "linux"

    @property
    def patches(self) -> Path:
        return self.root / SERIES_SUBDIR

    @property
    def series(self) -> Path:
        return self.patches / "series"

    @property
    def profiles(self) -> Path:
        return self.root / "kunit" / "profiles"

    @property
    def timings(self) -> Path:
        return self.build / "timings.json"

    def kbuild(self, profile: str) -> Path:
        return self.build / "kbuild" / profile

    @property
    def selftests_init(self) -> Path:
        """PID 1 of the selftest boot."""
        return self.root / "selftests" / "init.sh"

    @property
    def kunit_tool(self) -> Path:
        return self.linux / "tools" / "testing" / "kunit"

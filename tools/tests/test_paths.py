"""tgtsim.paths: where the build and output directories are."""

from __future__ import annotations

import os
from pathlib import Path

from tgtsim.paths import Paths


def test_build_and_out_are_absolute_and_normalised(tmp_path: Path, monkeypatch) -> None:
    """`--build-dir ../build` from tools/ is the same directory as `build`
    from the checkout, spelled the same (kbuild's O= and the coverage
    tracefile's paths depend on the spelling)."""
    (tmp_path / "tools").mkdir()
    monkeypatch.chdir(tmp_path / "tools")
    p = Paths.make(tmp_path, "../build", "../out")
    assert (p.build, p.out) == (tmp_path / "build", tmp_path / "out")
    p = Paths.make(tmp_path, tmp_path / "tools" / ".." / "b", str(tmp_path / "x" / "." / "o"))
    assert (p.build, p.out) == (tmp_path / "b", tmp_path / "x" / "o")
    p = Paths.make(tmp_path)
    assert (p.build, p.out, p.linux) == (tmp_path / "build", tmp_path / "out",
                                         tmp_path / "build" / "linux")
    assert os.path.isabs(p.build)

from pathlib import Path

import pytest

from tgtsim import series
from tgtsim.errors import UsageError


def test_read_series(tmp_path: Path) -> None:
    (tmp_path / "0001-a.patch").write_text("a")
    (tmp_path / "0002-b.patch").write_text("b")
    s = tmp_path / "series"
    s.write_text("# comment\n0001-a.patch\n\n0002-b.patch  # trailing\n")
    got = series.read_series(s)
    assert [p.name for p in got] == ["0001-a.patch", "0002-b.patch"]
    assert got[0].sha256 == series.sha256_file(tmp_path / "0001-a.patch")


def test_missing_series_is_empty(tmp_path: Path) -> None:
    assert series.read_series(tmp_path / "series") == []


def test_missing_patch(tmp_path: Path) -> None:
    (tmp_path / "series").write_text("0001-x.patch\n")
    with pytest.raises(UsageError, match="series:1: patch 0001-x.patch"):
        series.read_series(tmp_path / "series")


def test_write_series_untouched_when_equal(tmp_path: Path) -> None:
    s = tmp_path / "p" / "series"
    series.write_series(s, ["a", "b"])
    assert s.read_text() == "a\nb\n"
    import os
    os.utime(s, (1, 1))
    series.write_series(s, ["a", "b"])
    assert s.stat().st_mtime == 1

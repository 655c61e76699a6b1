from pathlib import Path

import pytest

from conftest import ROOT
from tgtsim import profiles
from tgtsim.errors import UsageError


def test_repo_profiles() -> None:
    d = ROOT / "kunit" / "profiles"
    assert {"kunit", "coverage", "debug"} <= set(profiles.known(d))
    frags = profiles.fragments(d, "kunit")
    assert [f.name for f in frags] == ["base.config", "kunit.config"]
    base = (d / "base.config").read_text()
    for opt in ("CONFIG_KUNIT=y", "CONFIG_SCSI=y", "CONFIG_SCSI_LIB_KUNIT_TEST=y", "CONFIG_HOSTFS=y"):
        assert opt in base
    cov = (d / "coverage.config").read_text().splitlines()
    # UML's own gcov (libgcov writes .gcda at exit); CONFIG_GCOV_KERNEL crashes UML at start
    assert "CONFIG_GCOV=y" in cov and "CONFIG_GCOV_KERNEL=y" not in cov
    assert "CONFIG_KASAN=y" in (d / "debug.config").read_text()


def test_unknown(tmp_path: Path) -> None:
    (tmp_path / "base.config").write_text("")
    (tmp_path / "a.config").write_text("")
    with pytest.raises(UsageError, match="known profiles: a$"):
        profiles.fragments(tmp_path, "b")
    with pytest.raises(UsageError):
        profiles.fragments(tmp_path, "base")  # base is not a profile of its own


def test_merged_text(tmp_path: Path) -> None:
    (tmp_path / "base.config").write_text("CONFIG_A=y\n")
    (tmp_path / "p.config").write_text("CONFIG_B=y")
    text = profiles.merged_text(profiles.fragments(tmp_path, "p"))
    assert "CONFIG_A=y\n" in text and text.endswith("CONFIG_B=y\n")

from pathlib import Path

from conftest import ROOT
from tgtsim import errors
from tgtsim.paths import Paths, find_repo_root


def test_repo_root() -> None:
    assert find_repo_root() == ROOT


def test_paths_layout(tmp_path: Path) -> None:
    p = Paths.make(tmp_path)
    assert p.linux == tmp_path / "build" / "linux"
    assert p.kbuild("kunit") == tmp_path / "build" / "kbuild" / "kunit"
    assert p.series == tmp_path / "patches" / "linux-6.12" / "series"
    assert p.kunit_tool == p.linux / "tools" / "testing" / "kunit"


def test_exit_codes() -> None:
    assert errors.UsageError("x").exit_code == 2
    assert errors.BuildError("x").exit_code == 3
    assert errors.InfraError("x").exit_code == 3
    assert (errors.EXIT_OK, errors.EXIT_TEST_FAILURE) == (0, 1)


def test_statuses_and_exit_codes() -> None:
    S = errors.Status
    assert [s.exit_code for s in (S.SUCCESS, S.TEST_FAILURE, S.KERNEL_CRASH, S.BUILD_FAILURE,
                                  S.TOOL_FAILURE, S.USAGE_ERROR)] == [0, 1, 3, 3, 3, 2]
    assert errors.BuildError("x").status == S.BUILD_FAILURE
    assert errors.InfraError("x").status == S.TOOL_FAILURE
    assert errors.UsageError("x").status == S.USAGE_ERROR

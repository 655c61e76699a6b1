from pathlib import Path

import pytest

from tgtsim import build
from tgtsim.errors import BuildError, InfraError, UsageError
from tgtsim.paths import Paths

MAKE_FAIL = """all:
\t@echo "  CC      drivers/scsi/scsi.o"
\t@echo "drivers/scsi/scsi.c: In function 'f':" >&2
\t@echo "drivers/scsi/scsi.c:12:5: error: 'x' undeclared (first use in this function)" >&2
\t@echo "   12 |     x = 1;" >&2
\t@echo "make[4]: *** [scripts/Makefile.build:229: drivers/scsi/scsi.o] Error 1" >&2
\t@exit 2
"""
MAKE_OK = "all:\n\t@echo '  LD      linux'\n\t@touch $(O)/linux\n"


def tree(paths: Paths, makefile: str, kunit_rc: int = 0, kunit_out: str = "") -> None:
    kt = paths.kunit_tool
    kt.mkdir(parents=True)
    (kt / "kunit.py").write_text(f"import sys\nprint({kunit_out!r}, file=sys.stderr)\nsys.exit({kunit_rc})\n")
    (paths.linux / "Makefile").write_text(makefile)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    root = tmp_path / "proj"
    (root / "kunit/profiles").mkdir(parents=True)
    (root / "kunit/profiles/base.config").write_text("CONFIG_KUNIT=y\n")
    (root / "kunit/profiles/kunit.config").write_text("")
    return Paths.make(root, root / "build", root / "out")


def test_compile_error_lines(paths: Paths, quiet) -> None:
    tree(paths, MAKE_FAIL)
    with pytest.raises(BuildError) as e:
        build.build(paths, "kunit", quiet, 2)
    assert e.value.exit_code == 3
    assert "drivers/scsi/scsi.c:12:5: error: 'x' undeclared" in e.value.detail
    assert "build.log" in e.value.message
    assert "error:" in (paths.kbuild("kunit") / "build.log").read_text()


def test_config_missing_option(paths: Paths, quiet) -> None:
    msg = ("ERROR:root:Not all Kconfig options selected in kunitconfig were in the generated "
           ".config.\nThis is probably due to unsatisfied dependencies.\nMissing: CONFIG_SCSI_TGT=y")
    tree(paths, MAKE_OK, kunit_rc=1, kunit_out=msg)
    with pytest.raises(BuildError) as e:
        build.build(paths, "kunit", quiet, 2)
    assert "Missing: CONFIG_SCSI_TGT=y" in e.value.detail


def test_ok(paths: Paths, quiet) -> None:
    tree(paths, MAKE_OK)
    assert build.build(paths, "kunit", quiet, 2, use_ccache=False) == paths.kbuild("kunit") / "linux"


def test_unprepared(paths: Paths, quiet) -> None:
    with pytest.raises(InfraError, match="tgtsim prepare"):
        build.build(paths, "kunit", quiet, 2)


def test_unknown_profile(paths: Paths, quiet) -> None:
    with pytest.raises(UsageError):
        build.build(paths, "nope", quiet, 2)


def test_error_extraction_fallback() -> None:
    lines = ["a", "b", "make: *** [Makefile:1] Error 2"]
    assert build.compile_errors(lines)[-1].startswith("make: ***")
    many = [f"f.c:{i}:1: error: e{i}" for i in range(20)]
    assert len([ln for ln in build.compile_errors(many) if "error:" in ln]) <= 20


MAKE_COUNTING = ("all:\n\t@echo built >> $(O)/make-runs\n"
                 "\t@echo '  LD      linux'\n\t@touch $(O)/linux\n")


def commit_tree(paths: Paths) -> None:
    from tgtsim.gitutil import Git
    git = Git(paths.linux)
    git.run("init", "-q")
    git.commit_all("base")


def make_runs(paths: Paths) -> int:
    f = paths.kbuild("kunit") / "make-runs"
    return len(f.read_text().splitlines()) if f.is_file() else 0


def test_second_build_of_the_same_commit_and_config_is_skipped(paths: Paths, quiet) -> None:
    tree(paths, MAKE_COUNTING)
    commit_tree(paths)
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    assert make_runs(paths) == 1
    # a changed fragment, a new commit, a touched binary: make runs again
    (paths.profiles / "kunit.config").write_text("CONFIG_X=y\n")
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    assert make_runs(paths) == 2
    (paths.linux / "new.c").write_text("int x;\n")
    from tgtsim.gitutil import Git
    Git(paths.linux).commit_all("more")
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    assert make_runs(paths) == 3
    (paths.kbuild("kunit") / "linux").write_text("replaced\n")
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    assert make_runs(paths) == 4
    # the same content under another commit (a patch redone, its message
    # changed): nothing to build
    Git(paths.linux).run("commit", "-q", "--amend", "-m", "more, reworded")
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    assert make_runs(paths) == 4


def test_a_tree_with_uncommitted_changes_is_always_made(paths: Paths, quiet) -> None:
    tree(paths, MAKE_COUNTING)
    commit_tree(paths)
    (paths.linux / "dirty.c").write_text("int y;\n")
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    assert make_runs(paths) == 2
    assert not (paths.kbuild("kunit") / build.STAMP).exists()


def test_a_failed_build_leaves_no_stamp(paths: Paths, quiet) -> None:
    tree(paths, MAKE_OK)
    commit_tree(paths)
    build.build(paths, "kunit", quiet, 2, use_ccache=False)
    assert (paths.kbuild("kunit") / build.STAMP).is_file()
    (paths.linux / "Makefile").write_text(MAKE_FAIL)
    from tgtsim.gitutil import Git
    Git(paths.linux).commit_all("break it")
    with pytest.raises(BuildError):
        build.build(paths, "kunit", quiet, 2, use_ccache=False)
    assert not (paths.kbuild("kunit") / build.STAMP).exists()

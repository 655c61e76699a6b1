import io
from collections import Counter
from pathlib import Path

import pytest

from tgtsim import lint
from tgtsim.errors import InfraError
from tgtsim.paths import Paths
from tgtsim.progress import Progress

CHECKPATCH_CLEAN = """\
total: 0 errors, 0 warnings, 0 checks, 64 lines checked

0001-x.patch has no obvious style problems and is ready for submission.
"""
CHECKPATCH_BAD = """\
WARNING: added, moved or deleted file(s), does MAINTAINERS need updating?
#12:
new file mode 100644

CHECK: spinlock_t definition without comment
#306: FILE: include/scsi/scsi_host.h:740:

total: 1 errors, 2 warnings, 3 checks, 450 lines checked
"""
# checkpatch without --strict prints no checks count
CHECKPATCH_PLAIN = "total: 0 errors, 4 warnings, 10 lines checked\n"


def test_checkpatch_totals() -> None:
    assert lint.checkpatch_totals(CHECKPATCH_CLEAN) == (0, 0, 0)
    assert lint.checkpatch_totals(CHECKPATCH_BAD) == (1, 2, 3)
    assert lint.checkpatch_totals(CHECKPATCH_PLAIN) == (0, 4, 0)
    with pytest.raises(InfraError, match="no summary"):
        lint.checkpatch_totals("perl: cannot open\n")


BUILD_BASE = [
    "  CC      drivers/scsi/scsi_lib.o",
    "../../linux/drivers/scsi/scsi_lib.c:1234:5: warning: no previous prototype for 'x' "
    "[-Wmissing-prototypes]",
    "../../linux/drivers/scsi/hosts.c:40:1: warning: symbol 'y' was not declared. "
    "Should it be static?",
    "  CHECK   ../../linux/drivers/scsi/hosts.c",
]
BUILD_STEP = [
    # the same base warnings at other line numbers: not new
    "../../linux/drivers/scsi/scsi_lib.c:1301:5: warning: no previous prototype for 'x' "
    "[-Wmissing-prototypes]",
    "/work/t/build/lint/linux/drivers/scsi/hosts.c:44:1: warning: symbol 'y' was not "
    "declared. Should it be static?",
    # one new from gcc, one new from sparse
    "../../linux/drivers/scsi/scsi.c:300:9: warning: unused variable 'z' [-Wunused-variable]",
    "../../linux/drivers/scsi/scsi_tgt_lib.c:77:16: warning: incorrect type in assignment",
    "make[4]: *** [scripts/Makefile.build:229: drivers/scsi/scsi.o] Error 1",
]


def test_diagnostics_drop_line_numbers_and_path_prefixes() -> None:
    d = lint.diagnostics(BUILD_BASE)
    assert d == Counter({
        ("drivers/scsi/scsi_lib.c",
         "warning: no previous prototype for 'x' [-Wmissing-prototypes]"): 1,
        ("drivers/scsi/hosts.c", "warning: symbol 'y' was not declared. Should it be static?"): 1,
    })


def test_new_diagnostics_are_those_the_base_lacks() -> None:
    new = lint.new_diagnostics(lint.diagnostics(BUILD_BASE), lint.diagnostics(BUILD_STEP))
    assert new == [("drivers/scsi/scsi.c", "warning: unused variable 'z' [-Wunused-variable]"),
                   ("drivers/scsi/scsi_tgt_lib.c", "warning: incorrect type in assignment")]


def test_a_second_copy_of_a_base_warning_is_new() -> None:
    twice = BUILD_BASE + [BUILD_BASE[1].replace(":1234:", ":1500:")]
    new = lint.new_diagnostics(lint.diagnostics(BUILD_BASE), lint.diagnostics(twice))
    assert new == [("drivers/scsi/scsi_lib.c",
                    "warning: no previous prototype for 'x' [-Wmissing-prototypes]")]


def test_touched_c_files_in_series_order_without_duplicates() -> None:
    p1 = "diff --git a/fs/seq_file.c b/fs/seq_file.c\n--- a/x\n" \
         "diff --git a/include/linux/seq_file.h b/include/linux/seq_file.h\n"
    p2 = "diff --git a/drivers/scsi/scsi.c b/drivers/scsi/scsi.c\n" \
         "diff --git a/fs/seq_file.c b/fs/seq_file.c\n" \
         "diff --git a/drivers/scsi/scsi_tgt_lib.c b/drivers/scsi/scsi_tgt_lib.c\n"
    assert lint.touched_c_files([p1, p2]) == ["fs/seq_file.c", "drivers/scsi/scsi.c",
                                              "drivers/scsi/scsi_tgt_lib.c"]


def test_objects_built_only_with_an_option() -> None:
    mk = ("obj-$(CONFIG_SCSI) += scsi_mod.o\n"
          "scsi_mod-y += scsi.o hosts.o\n"
          "scsi_mod-$(CONFIG_SCSI_TGT)\t+= scsi_tgt_lib.o\n"
          "obj-$(CONFIG_SCSI_TGT_KUNIT) += tgt_kunit/\n")
    assert lint.built_only_with(mk, "SCSI_TGT") == {"scsi_tgt_lib.o"}
    assert lint.built_only_with(mk, "SCSI") == {"scsi_mod.o"}


def test_without_option_drops_the_files_the_option_builds(tmp_path: Path) -> None:
    (tmp_path / "drivers/scsi").mkdir(parents=True)
    (tmp_path / "drivers/scsi/Makefile").write_text(
        "scsi_mod-$(CONFIG_SCSI_TGT) += scsi_tgt_lib.o\n")
    files = ["drivers/scsi/scsi.c", "drivers/scsi/scsi_tgt_lib.c", "fs/seq_file.c"]
    assert lint.without_option(tmp_path, files, "SCSI_TGT") == [
        "drivers/scsi/scsi.c", "fs/seq_file.c"]


def _port_with_breaks(tmp_path: Path, bug_applies: bool) -> Paths:
    from tgtsim.gitutil import Git
    paths = Paths(root=tmp_path / "root", build=tmp_path / "build", out=tmp_path / "out")
    g = Git(paths.linux)
    paths.linux.mkdir(parents=True)
    g.run("init", "-q")
    (paths.linux / "scsi.c").write_text("get\nput\n")
    g.commit_all("base")
    (paths.linux / "scsi.c").write_text("get\nput twice\n")
    diff = g.out("diff") + "\n"
    g.run("checkout", "-q", "--", "scsi.c")
    for kind in ("mutants", "selftest-bugs"):
        (paths.root / "kunit" / kind).mkdir(parents=True)
    (paths.root / "kunit" / "mutants" / "01-put-twice.patch").write_text("Put twice.\n\n" + diff)
    (paths.root / "kunit" / "mutants" / "README.md").write_text("not a break\n")
    bug = diff if bug_applies else diff.replace("-put\n", "-put once\n")
    (paths.root / "kunit" / "selftest-bugs" / "01-bug.patch").write_text("Bug.\n\n" + bug)
    return paths


def test_breaks_apply_notes_all_that_apply(tmp_path: Path) -> None:
    paths = _port_with_breaks(tmp_path, bug_applies=True)
    rep = lint.Report()
    lint.breaks_apply(paths, Progress(io.StringIO()), rep)
    assert rep.problems == [] and rep.notes == ["mutants and planted bugs: all 2 apply to the port"]


def test_breaks_apply_names_each_stale_break(tmp_path: Path) -> None:
    paths = _port_with_breaks(tmp_path, bug_applies=False)
    rep = lint.Report()
    lint.breaks_apply(paths, Progress(io.StringIO()), rep)
    assert len(rep.problems) == 1 and rep.notes == []
    assert rep.problems[0].startswith("1 of 2 mutants and planted bugs do not apply")
    assert "kunit/selftest-bugs/01-bug.patch: " in rep.problems[0]
    assert "01-put-twice" not in rep.problems[0]

"""Patch-line extraction: unified diffs, a scratch series in git, a prepared tree."""

from pathlib import Path

import pytest

from conftest import git, patch_for
from tgtsim import patchlines, prepare
from tgtsim.errors import InfraError, UsageError
from tgtsim.paths import Paths

GIT_DIFF = """\
diff --git a/drivers/scsi/scsi.c b/drivers/scsi/scsi.c
index 1111111..2222222 100644
--- a/drivers/scsi/scsi.c
+++ b/drivers/scsi/scsi.c
@@ -10,3 +10,4 @@ static int x;
 int a;
-int b;
+int b2;
+int b3;
 int c;
@@ -40,0 +42,2 @@ int d;
+/* two */
+int e;
diff --git a/include/scsi/new.h b/include/scsi/new.h
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/include/scsi/new.h
@@ -0,0 +1,2 @@
+#define NEW 1
+-- looks like a header but is a '+' line
diff --git a/old.c b/old.c
deleted file mode 100644
index 4444444..0000000
--- a/old.c
+++ /dev/null
@@ -1,2 +0,0 @@
-int gone;
-int gone2;
"""


def test_git_diff_lines() -> None:
    got = patchlines.parse_unified_diff(GIT_DIFF)
    assert got == {
        "drivers/scsi/scsi.c": {11: "int b2;", 12: "int b3;", 42: "/* two */", 43: "int e;"},
        "include/scsi/new.h": {1: "#define NEW 1", 2: "-- looks like a header but is a '+' line"},
    }


def test_format_patch_message_and_signature_ignored() -> None:
    text = """From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
Subject: [PATCH] demo

A message quoting a hunk header:
@@ -1 +1 @@
+not a patch line
---
 a.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/a.c b/a.c
--- a/a.c
+++ b/a.c
@@ -1,2 +1,3 @@
 one
+two
 three
\\ No newline at end of file
-- 
2.39.5

"""
    assert patchlines.parse_unified_diff(text) == {"a.c": {2: "two"}}


def test_no_newline_marker_inside_hunk() -> None:
    text = ("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
            "+b\n\\ No newline at end of file\n")
    assert patchlines.parse_unified_diff(text) == {"f": {2: "b"}}


def test_gnu_diff_with_timestamps() -> None:
    text = ("--- f.orig\t2024-01-01 00:00:00.000000000 +0000\n"
            "+++ f\t2024-01-01 00:00:01.000000000 +0000\n@@ -5 +5,2 @@\n-x\n+y\n+z\n")
    assert patchlines.parse_unified_diff(text) == {"f": {5: "y", 6: "z"}}


def test_empty_context_line_counts() -> None:
    # some tools strip the blank of an empty context line
    text = "--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n a\n\n+new\n c\n"
    assert patchlines.parse_unified_diff(text) == {"f": {3: "new"}}


def test_malformed_hunk_is_usage_error() -> None:
    with pytest.raises(UsageError, match="malformed diff"):
        patchlines.parse_unified_diff("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n?bad\n")


def test_ranges() -> None:
    assert patchlines.ranges([9, 1, 2, 3, 7, 10]) == "1-3,7,9-10"
    assert patchlines.ranges([]) == ""
    assert patchlines.ranges({5}) == "5"


def _write(repo: Path, name: str, lines: list[str]) -> None:
    (repo / name).write_text("".join(ln + "\n" for ln in lines))


def test_series_in_git_final_tree_numbers(tmp_path: Path) -> None:
    """Patch 2 moves patch 1's lines down and rewrites one of them; patch 3
    deletes one. The numbers must be those of the final tree."""
    repo = tmp_path / "k"
    repo.mkdir()
    git(repo, "init", "-q")
    base_lines = [f"base {i}" for i in range(1, 11)]
    _write(repo, "a.c", base_lines)
    _write(repo, "b.c", ["b"])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD")
    # patch 1: two lines after base 5
    p1 = base_lines[:5] + ["p1 first", "p1 second"] + base_lines[5:]
    _write(repo, "a.c", p1)
    git(repo, "commit", "-qam", "p1")
    # patch 2: three lines at the top, rewrite 'p1 second', a new file
    p2 = ["p2 top 1", "p2 top 2", "p2 top 3"] + [
        "p2 rewrote second" if ln == "p1 second" else ln for ln in p1]
    _write(repo, "a.c", p2)
    _write(repo, "c.c", ["new 1", "new 2"])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "p2")
    # patch 3: delete base 1 and b.c
    p3 = [ln for ln in p2 if ln != "base 1"]
    _write(repo, "a.c", p3)
    (repo / "b.c").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "p3")
    last = git(repo, "rev-parse", "HEAD")

    got = patchlines.from_git(repo, base, last)
    final = (repo / "a.c").read_text().splitlines()
    assert got["a.c"] == {1: "p2 top 1", 2: "p2 top 2", 3: "p2 top 3",
                          8: "p1 first", 9: "p2 rewrote second"}
    for n, text in got["a.c"].items():
        assert final[n - 1] == text
    assert got["c.c"] == {1: "new 1", 2: "new 2"}
    assert "b.c" not in got
    assert patchlines.count(got) == 7


def test_from_git_bad_revision(tmp_path: Path) -> None:
    repo = tmp_path / "k"
    repo.mkdir()
    git(repo, "init", "-q")
    with pytest.raises(InfraError, match="cannot diff the series"):
        patchlines.from_git(repo, "0" * 40, "HEAD")


def test_prepared_tree_excludes_overlay(project: Paths, quiet) -> None:
    """for_tree: base..last patch of a prepared build/linux; the overlay
    (sim_lld/, kunit/) is not part of the patch lines."""
    def edit(repo: Path) -> None:
        f = repo / "drivers/scsi/scsi.c"
        f.write_text("int a;\nint tgt1;\nint tgt2;\nint b;\nint c;\n")

    from conftest import make_tree_files
    text = patch_for(project.root.parent, make_tree_files, edit, "scsi: two lines", "p1")
    (project.patches / "0001-two-lines.patch").write_text(text)
    (project.series).write_text("0001-two-lines.patch\n")
    prepare.prepare(project, quiet)
    got = patchlines.for_tree(project.linux)
    assert got == {"drivers/scsi/scsi.c": {2: "int tgt1;", 3: "int tgt2;"}}
    assert (project.linux / "drivers/scsi/sim_lld/sim_lld.c").is_file()


def test_unprepared_tree(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="not prepared"):
        patchlines.series_range(tmp_path / "nothing")
    (tmp_path / "r").mkdir()
    git(tmp_path / "r", "init", "-q")
    with pytest.raises(InfraError, match="no tgtsim state"):
        patchlines.series_range(tmp_path / "r")

"""gcovjson: the tracefile `lcov -c` writes, made from gcov's JSON.

Two references: a recorded gcov JSON document of the coverage kernel's
drivers/scsi/scsi_tgt_lib.gcda with the records geninfo 1.16 made of it
(data/gcovjson/, recorded 2026-11-30 with `gcov -b -c -x --json-format` and
`lcov -c -d <that .gcda> -b <kbuild> --rc lcov_branch_coverage=1 -t tgtsim`),
and, where gcc and lcov are installed, a program built with --coverage in a
scratch build directory, captured both ways."""

import gzip
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import DATA
from tgtsim import gcovjson, lcovinfo
from tgtsim.errors import InfraError

RECORDED = DATA / "gcovjson"
RECORDED_BASE = "/work/main/build/kbuild/coverage"   # where the sample was captured


def lines_of(text: str) -> Counter:
    """The records as a multiset of lines: geninfo writes the files of a
    .gcda in Perl's hash order, so only the multiset is its output."""
    return Counter(ln for ln in text.splitlines() if ln)


def test_records_equal_geninfos_for_a_recorded_document() -> None:
    with gzip.open(RECORDED / "scsi_tgt_lib.gcov.json.gz", "rt") as f:
        doc = json.load(f)
    ours = gcovjson.records(doc, RECORDED_BASE, "tgtsim", lambda _p: gcovjson.NO_MARKERS)
    theirs = (RECORDED / "scsi_tgt_lib.geninfo.info").read_text()
    assert lines_of(ours) == lines_of(theirs)
    assert lcovinfo.parse(ours) == lcovinfo.parse(theirs)
    # a TN, then one record per source file gcov named, headers included
    assert ours.startswith("TN:tgtsim\nSF:/work/main/build/linux/drivers/scsi/scsi_tgt_lib.c\n")
    assert ours.count("SF:") == 14 and ours.count("end_of_record") == 14


def test_records_branch_of_a_block_that_never_ran_is_a_dash() -> None:
    doc = {"files": [{"file": "a.c", "functions": [
        {"start_line": 1, "execution_count": 0, "name": "f"}],
        "lines": [{"line_number": 2, "count": 0, "unexecuted_block": True,
                   "branches": [{"count": 0}, {"count": 0}]},
                  {"line_number": 3, "count": 4, "unexecuted_block": True,
                   "branches": [{"count": 3}, {"count": 1}]},
                  {"line_number": 4, "count": 0, "unexecuted_block": False,
                   "branches": [{"count": 0}, {}]}]}]}
    text = gcovjson.records(doc, "/b", "t", lambda _p: gcovjson.NO_MARKERS)
    assert text.splitlines() == [
        "TN:t", "SF:/b/a.c", "FN:1,f", "FNDA:0,f",
        "DA:2,0", "BRDA:2,0,0,-", "BRDA:2,0,1,-",
        "DA:3,4", "BRDA:3,0,0,3", "BRDA:3,0,1,1",
        "DA:4,0", "BRDA:4,0,0,0", "BRDA:4,0,1,-", "end_of_record"]


def test_records_leave_out_marked_lines() -> None:
    doc = {"files": [{"file": "/s/a.c", "functions": [
        {"start_line": 1, "execution_count": 2, "name": "f"},
        {"start_line": 5, "execution_count": 0, "name": "g"}],
        "lines": [{"line_number": n, "count": 1, "branches": [{"count": 1}, {"count": 0}]}
                  for n in (1, 2, 3, 5)]}]}
    marks = gcovjson.Markers(lines={5}, branches={2})
    text = gcovjson.records(doc, "/b", "t",
                            lambda p: marks if p == "/s/a.c" else gcovjson.NO_MARKERS)
    assert text.splitlines() == [
        "TN:t", "SF:/s/a.c", "FN:1,f", "FNDA:2,f",
        "DA:1,1", "BRDA:1,0,0,1", "BRDA:1,0,1,0", "DA:2,1",
        "DA:3,1", "BRDA:3,0,0,1", "BRDA:3,0,1,0", "end_of_record"]


def test_records_of_a_document_without_files() -> None:
    assert gcovjson.records({"files": []}, "/b", "t", lambda _p: gcovjson.NO_MARKERS) == ""
    with pytest.raises(InfraError, match="without a file list for x.gcda"):
        gcovjson.records({"data_file": "x.gcda"}, "/b", "t", lambda _p: gcovjson.NO_MARKERS)


@pytest.mark.parametrize("base,path,want", [
    ("/k/b/c", "../../linux/drivers/scsi/scsi.c", "/k/linux/drivers/scsi/scsi.c"),
    ("/k/b", "../../linux/x.c", "/linux/x.c"),
    ("/k/b", "/abs/x.h", "/abs/x.h"),
    ("/k/b/", "./a/./b.c", "/k/b/a/b.c"),
    ("/k", "a//b/../c.c", "/k/a/c.c"),
    ("/", "../../x.c", "/x.c"),              # geninfo's "remove preceding .."
    ("/k/b", "a/b/", "/k/b/a/b"),
])
def test_solve_relative_path_is_genifos(base: str, path: str, want: str) -> None:
    assert gcovjson.solve_relative_path(base, path) == want


def test_markers() -> None:
    text = "\n".join([
        "a;  // LCOV_EXCL_LINE",           # 1
        "b;",                              # 2
        "/* LCOV_EXCL_START */",           # 3
        "c;",                              # 4
        "/* LCOV_EXCL_STOP */",            # 5
        "if (x) // LCOV_EXCL_BR_LINE",     # 6
        "LCOV_EXCL_BR_START",              # 7
        "if (y)",                          # 8
        "LCOV_EXCL_BR_STOP",               # 9
        "throw; // LCOV_EXCL_EXCEPTION_BR_LINE",   # 10
        "d;",                              # 11
    ])
    m = gcovjson.parse_markers(text)
    assert m.lines == {1, 3, 4}
    assert m.branches == {6, 7, 8, 10}
    assert gcovjson.parse_markers("int a;\n") == gcovjson.Markers()


def test_marker_cache_reads_a_file_once(tmp_path: Path) -> None:
    src = tmp_path / "a.c"
    src.write_text("x; // LCOV_EXCL_LINE\n")
    cache = gcovjson.MarkerCache()
    assert cache(str(src)).lines == {1}
    src.write_text("x;\n")
    assert cache(str(src)).lines == {1}
    assert cache(str(tmp_path / "missing.c")) == gcovjson.Markers()


def test_batches_split_by_size(tmp_path: Path) -> None:
    files = []
    for i, size in enumerate([100, 90, 10, 10, 5, 1]):
        p = tmp_path / f"{i}.gcda"
        p.write_bytes(b"x" * size)
        files.append(p)
    two = gcovjson.batches(files, 2)
    assert sorted(p for b in two for p in b) == sorted(files)
    assert sorted(sum(p.stat().st_size for p in b) for b in two) == [106, 110]
    assert gcovjson.batches(files[:1], 4) == [[files[0]]]
    assert len(gcovjson.batches(files, 0)) == 1


def test_no_gcda_files(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="no .gcda files in"):
        gcovjson.capture(tmp_path, tmp_path, tmp_path / "o.info", "t", 2, print)


def fake_gcov(tmp_path: Path, body: str) -> str:
    """A build directory with one (empty) .gcda file, and a gcov running `body`."""
    (tmp_path / "a.gcda").write_bytes(b"")
    fake = tmp_path / "gcov"
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    return str(fake)


def test_gcov_that_fails_is_the_capture_s_failure(tmp_path: Path) -> None:
    gcov = fake_gcov(tmp_path, "echo 'a.gcno: cannot open notes file' >&2\nexit 1")
    logged: list[str] = []
    with pytest.raises(InfraError, match="gcov failed: gcov exited with 1 on 1 files") as e:
        gcovjson.capture(tmp_path, tmp_path, tmp_path / "o.info", "t", 2, logged.append,
                         gcov=gcov)
    assert "cannot open notes file" in e.value.detail
    assert logged == ["a.gcno: cannot open notes file"]
    assert not (tmp_path / "o.info").exists()


def test_unreadable_json_is_the_capture_s_failure(tmp_path: Path) -> None:
    gcov = fake_gcov(tmp_path, "printf 'not json' | gzip > a.gcov.json.gz")
    with pytest.raises(InfraError, match="unreadable JSON file a.gcov.json.gz"):
        gcovjson.capture(tmp_path, tmp_path, tmp_path / "o.info", "t", 1, print, gcov=gcov)


HEADER = """static inline int twice(int x)
{
	if (x > 100)
		return 0;
	return 2 * x;
}
"""
SOURCE = """#include "inc/twice.h"
#include <stdlib.h>

int hidden(int x)
{
	return x + 1; /* LCOV_EXCL_LINE */
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	int i, s = 0;

	for (i = 0; i < n; i++)
		s += twice(i);
	if (s < 0) {
		s = hidden(s);  // LCOV_EXCL_BR_LINE
		return 1;
	}
	/* LCOV_EXCL_START */
	if (s > 1000000)
		return 2;
	/* LCOV_EXCL_STOP */
	return 0;
}
"""
OTHER = """#include "inc/twice.h"
int other(int y)
{
	return twice(y) + (y ? 1 : 0);
}
"""


@pytest.mark.skipif(not all(shutil.which(t) for t in ("gcc", "gcov", "lcov")),
                    reason="needs gcc and lcov (tgtsim deps --install)")
def test_capture_equals_lcov_capture(tmp_path: Path) -> None:
    """A program of two objects sharing an inline header function, built in
    a build directory with relative source paths (as kbuild with ccache's
    base_dir), run once: gcovjson's tracefile holds the same records as
    `lcov -c`'s, and after merging the same coverage."""
    src, kb = tmp_path / "src", tmp_path / "kb"
    (src / "inc").mkdir(parents=True)
    (src / "inc/twice.h").write_text(HEADER)
    (src / "main.c").write_text(SOURCE)
    (src / "sub").mkdir()
    (src / "sub/other.c").write_text(OTHER)
    (kb / "sub").mkdir(parents=True)
    for cmd in (["gcc", "--coverage", "-O0", "-I../src", "-c", "../src/main.c", "-o", "main.o"],
                ["gcc", "--coverage", "-O0", "-I../src", "-c", "../src/sub/other.c",
                 "-o", "sub/other.o"],
                ["gcc", "--coverage", "-o", "prog", "main.o", "sub/other.o"]):
        subprocess.run(cmd, cwd=kb, check=True)
    subprocess.run([str(kb / "prog"), "5"], cwd=kb, check=True)
    ours, theirs = tmp_path / "ours.info", tmp_path / "theirs.info"
    n = gcovjson.capture(kb, kb, ours, "tgtsim", 2, print)
    assert n == 2
    subprocess.run(["lcov", "-q", "-c", "-d", str(kb), "-b", str(kb), "--rc",
                    "lcov_branch_coverage=1", "-t", "tgtsim", "-o", str(theirs)],
                   check=True, capture_output=True)
    ours_text, theirs_text = ours.read_text(), theirs.read_text()
    assert lines_of(ours_text) == lines_of(theirs_text)
    merged = lcovinfo.parse(ours_text)
    assert merged == lcovinfo.parse(theirs_text)
    main_c, header = str(src / "main.c"), str(src / "inc/twice.h")
    assert sorted(merged) == [header, main_c, str(src / "sub/other.c")]
    # the markers: line 6 (and hidden()'s body) gone, no branches on 17, 21-23 gone
    assert 6 not in merged[main_c].lines and 21 not in merged[main_c].lines
    assert not merged[main_c].branches_on(17) and merged[main_c].lines[17] == 0
    assert merged[main_c].lines[14] == 6 and merged[header].lines[3] == 5
    assert ours_text.count(f"SF:{header}\n") == 2     # once per object, as geninfo

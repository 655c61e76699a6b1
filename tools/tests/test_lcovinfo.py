"""lcov tracefile parsing, on a sample recorded from a coverage run
(tools/tests/data/coverage/scsi_tgt_lib.info: the records of scsi_tgt_lib.c
and of include/scsi/scsi_tgt.h, one per translation unit including it)."""

from pathlib import Path

import pytest

from conftest import DATA
from tgtsim import lcovinfo
from tgtsim.errors import InfraError

SAMPLE = DATA / "coverage" / "scsi_tgt_lib.info"
MERGED = DATA / "coverage" / "scsi_tgt_lib.merged.info"
TREE = "/work/wt/coverage/build/linux"   # where the sample was captured


def records(text: str) -> list[str]:
    return [r + "end_of_record\n" for r in text.split("end_of_record\n") if r.strip()]


def test_merge_matches_lcov() -> None:
    """Our merge of the per-TU records equals `lcov -a`'s (scsi_tgt_lib.merged.info,
    made from the sample by lcov 1.16), and our counts equal the LF/LH/BRF/BRH/
    FNF/FNH lcov wrote there."""
    ours = lcovinfo.load(SAMPLE)
    merged_text = MERGED.read_text()
    theirs = lcovinfo.parse(merged_text)
    assert sorted(ours) == sorted(theirs)
    for path, cov in ours.items():
        assert cov.lines == theirs[path].lines
        assert cov.branches == theirs[path].branches
        assert cov.functions == theirs[path].functions
    for rec in records(merged_text):
        summary = {k: int(v) for k, v in (ln.split(":") for ln in rec.splitlines()
                                          if ln.split(":")[0] in
                                          ("LF", "LH", "BRF", "BRH", "FNF", "FNH"))}
        (path,) = lcovinfo.parse(rec)
        cov = ours[path]
        assert cov.lines_found == summary["LF"]
        assert cov.lines_hit == summary["LH"]
        assert cov.branches_found == summary["BRF"]
        assert cov.branches_hit == summary["BRH"]
        assert cov.functions_found == summary.get("FNF", 0)
        assert cov.functions_hit == summary.get("FNH", 0)


def test_sample_values() -> None:
    data = lcovinfo.load(SAMPLE)
    assert sorted(data) == [f"{TREE}/drivers/scsi/scsi_tgt_lib.c",
                            f"{TREE}/include/scsi/scsi_tgt.h"]
    lib = data[f"{TREE}/drivers/scsi/scsi_tgt_lib.c"]
    assert (lib.lines_found, lib.lines_hit) == (157, 140)
    assert (lib.branches_found, lib.branches_hit) == (82, 57)
    assert (lib.functions_found, lib.functions_hit) == (14, 13)
    assert lib.function_lines["scsi_tgt_queue_command"] == 262
    assert lib.functions["scsi_tgt_queue_rq"] == 0
    assert lib.lines[314] == 0           # return BLK_STS_NOTSUPP; never run
    # the header's four records (one per .c including it) are merged
    hdr = data[f"{TREE}/include/scsi/scsi_tgt.h"]
    assert hdr.lines == {22: 0 + 1779 + 31543 + 4}
    assert hdr.branches == {(22, 0, 0): 461, (22, 0, 1): 1 + 4, (22, 0, 2): 31081,
                            (22, 0, 3): 0}
    assert (hdr.branches_found, hdr.branches_hit) == (4, 3)


def test_relative_to_tree() -> None:
    data = lcovinfo.relative_to_tree(lcovinfo.load(SAMPLE), Path(TREE))
    assert sorted(data) == ["drivers/scsi/scsi_tgt_lib.c", "include/scsi/scsi_tgt.h"]
    other = lcovinfo.relative_to_tree(lcovinfo.load(SAMPLE), Path("/elsewhere"))
    assert sorted(other) == sorted(lcovinfo.load(SAMPLE))


def test_relative_merges_dotdot_paths(tmp_path: Path) -> None:
    text = (f"SF:{tmp_path}/k/a.c\nDA:1,1\nDA:2,0\nend_of_record\n"
            f"SF:{tmp_path}/k/sub/../a.c\nDA:2,3\nBRDA:2,0,0,-\nBRDA:2,0,1,2\nend_of_record\n")
    data = lcovinfo.relative_to_tree(lcovinfo.parse(text), tmp_path / "k")
    assert list(data) == ["a.c"]
    assert data["a.c"].lines == {1: 1, 2: 3}
    assert data["a.c"].branches == {(2, 0, 0): None, (2, 0, 1): 2}
    assert data["a.c"].branches_hit == 1


def test_unexecuted_block_branch_is_not_taken() -> None:
    (cov,) = lcovinfo.parse("TN:t\nSF:/x.c\nDA:3,0\nBRDA:3,0,0,-\nBRDA:3,0,1,-\n"
                            "end_of_record\n").values()
    assert cov.branches_found == 2 and cov.branches_hit == 0
    assert cov.branches_on(3) == [((3, 0, 0), None), ((3, 0, 1), None)]


@pytest.mark.parametrize("text,msg", [
    ("DA:1,1\n", "data outside a record"),
    ("SF:/a.c\nDA:1\nend_of_record\n", "expected 2 comma-separated"),
    ("SF:/a.c\nDA:x,1\nend_of_record\n", "not a number"),
    ("SF:/a.c\nBRDA:1,0,0\nend_of_record\n", "BRDA needs 4 fields"),
    ("SF:/a.c\nXYZ:1\nend_of_record\n", "unknown tracefile record 'XYZ'"),
    ("SF:/a.c\nDA:1,1\n", "has no end_of_record"),
    ("SF:/a.c\nSF:/b.c\nend_of_record\n", "SF without end_of_record"),
    ("end_of_record\n", "end_of_record without SF"),
])
def test_malformed(text: str, msg: str) -> None:
    with pytest.raises(InfraError, match=msg) as e:
        lcovinfo.parse(text, "t.info")
    assert e.value.message.startswith("t.info")


def test_load_missing(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="cannot read tracefile"):
        lcovinfo.load(tmp_path / "none.info")

"""The gate on recorded data: removing the one KUnit case that covers some
patch lines makes it fail, naming those lines.

Recorded on the coverage profile (tools/tests/data/coverage/):
  with-mapping-failure-case.info     tgtsim coverage --no-selftests
                                     --filter 'tgt_cmd_offsets' (129 cases)
  without-mapping-failure-case.info  the same with
                                     --filter 'tgt_cmd_offsets.tgt_offsets_[!m]*', i.e. without
                                     tgt_offsets_mapping_failure_stops_and_leaks_nothing
                                     (the only user of the scsi_tgt_alloc_sgtable stub)
  scsi_tgt_lib.series.diff           git diff -U0 base..last patch -- drivers/scsi/scsi_tgt_lib.c
Only the scsi_tgt_lib.c records are kept.
"""

from pathlib import Path

from conftest import DATA
from tgtsim import covgate, lcovinfo, patchlines

D = DATA / "coverage"
TREE = Path("/work/wt/coverage/build/linux")   # where they were captured


def report(info: str, lines: float, branches: float) -> covgate.PatchReport:
    plines = patchlines.parse_unified_diff((D / "scsi_tgt_lib.series.diff").read_text())
    data = lcovinfo.relative_to_tree(lcovinfo.load(D / info), TREE)
    th = covgate.parse_thresholds(f"patch-lines {lines}\npatch-branches {branches}\n")
    return covgate.patch_report(plines, data, th)


def test_series_diff_is_the_whole_new_file() -> None:
    plines = patchlines.parse_unified_diff((D / "scsi_tgt_lib.series.diff").read_text())
    assert list(plines) == ["drivers/scsi/scsi_tgt_lib.c"]
    lines = plines["drivers/scsi/scsi_tgt_lib.c"]
    assert sorted(lines) == list(range(1, 390))
    assert lines[127].strip() == "scsi_tgt_end_bio(tcmd, BLK_STS_RESOURCE);"


def test_with_the_case_the_gate_passes_at_its_own_level() -> None:
    rep = report("with-mapping-failure-case.info", 91.7, 78.0)
    assert (rep.lines_hit, rep.lines, rep.branches_hit, rep.branches) == (144, 157, 64, 82)
    assert rep.passed
    assert 127 not in rep.files[0].uncovered and 208 not in rep.files[0].uncovered


def test_without_the_case_the_gate_fails_naming_its_lines() -> None:
    before = report("with-mapping-failure-case.info", 91.7, 78.0)
    rep = report("without-mapping-failure-case.info", 91.7, 78.0)
    assert not rep.passed and not rep.lines_ok() and not rep.branches_ok()
    assert (rep.lines_hit, rep.branches_hit) == (140, 61)
    # exactly the lines the removed case alone executed
    newly = sorted(set(rep.files[0].uncovered) - set(before.files[0].uncovered))
    assert newly == [127, 128, 208, 209]
    (name, ok, msg), _ = covgate.gate_messages(rep)
    assert (name, ok) == ("patch-lines", False)
    assert msg.startswith("patch lines 89.1% (140/157), threshold 91.7%; uncovered: ")
    for ln in newly:
        assert f"drivers/scsi/scsi_tgt_lib.c:{ln}," in msg + ","
    text = covgate.report_text(rep)
    assert "  drivers/scsi/scsi_tgt_lib.c:127: scsi_tgt_end_bio(tcmd, BLK_STS_RESOURCE);" in text
    assert "  drivers/scsi/scsi_tgt_lib.c:126: 1/2 taken: if (err) {" in text
    assert text.rstrip().endswith("gate: FAIL")

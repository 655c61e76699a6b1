"""coverage/thresholds syntax, the patch-line report and the gate on synthetic data."""

from pathlib import Path

import pytest

from tgtsim import covgate, lcovinfo
from tgtsim.errors import UsageError

GOOD = """\
# comment
patch-lines 97.5
patch-branches   80   # trailing comment
exclude drivers/scsi/scsi_tgt_lib.c:310-314  queue_rq is never called: commands are not dispatched
exclude drivers/scsi/*.c:/WARN_ON\\(|kmem_cache_destroy/  error paths of init
exclude fs/seq_file.c:/a\\/b c/ slash and blank inside the regex
exclude-branches drivers/scsi/scsi.c:/^\\s*memset\\(/ gcc's inline expansion
"""


def test_parse_good() -> None:
    th = covgate.parse_thresholds(GOOD)
    assert (th.lines, th.branches) == (97.5, 80.0)
    e = th.exclusions
    assert [(x.glob, x.first, x.last, x.regex, x.branches_only) for x in e] == [
        ("drivers/scsi/scsi_tgt_lib.c", 310, 314, "", False),
        ("drivers/scsi/*.c", 0, 0, "WARN_ON\\(|kmem_cache_destroy", False),
        ("fs/seq_file.c", 0, 0, "a/b c", False),
        ("drivers/scsi/scsi.c", 0, 0, "^\\s*memset\\(", True)]
    assert e[0].reason == "queue_rq is never called: commands are not dispatched"
    assert e[2].reason == "slash and blank inside the regex"
    assert e[0].where == "coverage/thresholds:4"
    assert e[1].matches("drivers/scsi/scsi.c", 1, "\tkmem_cache_destroy(c);")
    assert not e[1].matches("drivers/scsi/sub/x.h", 1, "kmem_cache_destroy(c);")
    assert e[2].matches("fs/seq_file.c", 9, "x a/b c y")


@pytest.mark.parametrize("text,msg", [
    ("patch-lines 90\n", "patch-branches is missing"),
    ("patch-lines 90\npatch-lines 91\npatch-branches 1\n", "given twice"),
    ("patch-lines 101\npatch-branches 1\n", "percentage 0..100"),
    ("patch-lines ninety\npatch-branches 1\n", "percentage 0..100"),
    ("patch-lines -1\npatch-branches 1\n", "percentage 0..100"),
    ("patch-lines 1\npatch-branches 1\nlower-is-fine 3\n", "unknown statement 'lower-is-fine'"),
    ("patch-lines 1\npatch-branches 1\nexclude a.c:3\n", "needs a reason"),
    ("patch-lines 1\npatch-branches 1\nexclude a.c:/x/\n", "needs a reason"),
    ("patch-lines 1\npatch-branches 1\nexclude a.c reason\n", "expected `exclude PATH"),
    ("patch-lines 1\npatch-branches 1\nexclude a.c:9-3 r\n", "bad line range"),
    ("patch-lines 1\npatch-branches 1\nexclude a.c:/(/ r\n", "bad regex"),
    ("patch-lines 1\npatch-branches 1\nexclude a.c:/abc r\n", "not closed"),
    ("patch-lines 1\npatch-branches 1\nexclude a.c:// r\n", "empty regex"),
])
def test_parse_errors(text: str, msg: str) -> None:
    with pytest.raises(UsageError, match=msg) as e:
        covgate.parse_thresholds(text, "th")
    assert e.value.message.startswith("th")


def test_load_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no coverage thresholds file"):
        covgate.load_thresholds(tmp_path / "thresholds")


def test_committed_thresholds_parse() -> None:
    from conftest import ROOT
    th = covgate.load_thresholds(ROOT / "coverage" / "thresholds")
    assert 0 <= th.branches <= 100 and 0 <= th.lines <= 100
    assert all(e.reason for e in th.exclusions)


def cov(lines: dict[int, int], branches: dict | None = None) -> lcovinfo.FileCoverage:
    return lcovinfo.FileCoverage(lines=dict(lines), branches=dict(branches or {}))


PATCH = {"a.c": {1: "int x;", 2: "\tfoo();", 3: "\tif (bar)", 4: "\t\tWARN_ON(1);",
                 5: "\tmemset(p, 0, n);", 6: "/* comment */"},
         "b.h": {10: "static inline int f(void)"},
         "Kconfig": {1: "config X"}}
DATA = {"a.c": cov({1: 0, 2: 5, 3: 5, 4: 0, 5: 5, 7: 0},
                   {(3, 0, 0): 5, (3, 0, 1): None, (5, 0, 0): 5, (5, 0, 1): 0,
                    (7, 0, 0): 0}),
        "b.h": cov({10: 0}),
        "other.c": cov({1: 0})}


def th(lines: float = 0, branches: float = 0, excl: str = "") -> covgate.Thresholds:
    return covgate.parse_thresholds(f"patch-lines {lines}\npatch-branches {branches}\n{excl}")


def test_report_counts_only_executable_patch_lines() -> None:
    rep = covgate.patch_report(PATCH, DATA, th())
    a, b, k = (next(f for f in rep.files if f.path == p) for p in ("a.c", "b.h", "Kconfig"))
    # line 6 (comment) and 7 (no patch line) are not counted; Kconfig has no data
    assert (a.patch_lines, a.lines, a.lines_hit, a.uncovered) == (6, 5, 3, [1, 4])
    assert (a.branches, a.branches_hit, a.partial) == (4, 2, {3: [1, 2], 5: [1, 2]})
    assert (b.lines, b.lines_hit, b.uncovered) == (1, 0, [10])
    assert (k.patch_lines, k.lines) == (1, 0)
    assert (rep.lines, rep.lines_hit, rep.branches, rep.branches_hit) == (6, 3, 4, 2)
    assert rep.line_pct == 50.0 and rep.branch_pct == 50.0
    assert rep.uncovered_lines() == [("a.c", 1, "int x;"), ("a.c", 4, "\t\tWARN_ON(1);"),
                                     ("b.h", 10, "static inline int f(void)")]
    assert covgate.uncovered_summary(rep) == ["a.c:1,4", "b.h:10"]


def test_pct_rounds_down() -> None:
    assert covgate.pct(2, 3) == 66.6
    assert covgate.pct(999, 1000) == 99.9
    assert covgate.pct(1999, 2000) == 99.9      # never shows 100.0 with a line missing
    assert covgate.pct(0, 0) == 100.0


def test_gate_threshold_boundaries() -> None:
    assert covgate.patch_report(PATCH, DATA, th(50, 50)).passed
    rep = covgate.patch_report(PATCH, DATA, th(50.1, 50))
    assert not rep.passed and not rep.lines_ok() and rep.branches_ok()
    rep = covgate.patch_report(PATCH, DATA, th(0, 50.1))
    assert not rep.passed and rep.lines_ok() and not rep.branches_ok()


def test_gate_messages_name_the_lines() -> None:
    rep = covgate.patch_report(PATCH, DATA, th(100, 100))
    (n1, ok1, m1), (n2, ok2, m2) = covgate.gate_messages(rep)
    assert (n1, ok1, n2, ok2) == ("patch-lines", False, "patch-branches", False)
    assert m1 == ("patch lines 50.0% (3/6), threshold 100.0%; uncovered: a.c:1, a.c:4, b.h:10")
    assert m2 == ("patch branches 50.0% (2/4), threshold 100.0%; not all taken: "
                  "a.c:3 (1/2), a.c:5 (1/2)")
    text = covgate.report_text(rep)
    assert "  a.c:4: WARN_ON(1);" in text and text.rstrip().endswith("gate: FAIL")


def test_gate_messages_limit() -> None:
    rep = covgate.patch_report(PATCH, DATA, th(100, 0))
    (_n, _ok, m), _ = covgate.gate_messages(rep, limit=1)
    assert m.endswith("uncovered: a.c:1 (+2 more, see coverage/patch.txt)")


def test_exclusions() -> None:
    t = th(100, 100, "exclude a.c:1 global declaration, data not code\n"
                     "exclude *.c:/WARN_ON/ warnings cannot be triggered\n"
                     "exclude b.h:/inline/ header\n"
                     "exclude-branches a.c:/memset/ inline expansion of memset\n"
                     "exclude a.c:/never matches/ stale\n")
    rep = covgate.patch_report(PATCH, DATA, t)
    a = next(f for f in rep.files if f.path == "a.c")
    assert a.excluded == {1: "global declaration, data not code",
                          4: "warnings cannot be triggered"}
    assert a.excluded_branches == {5: "inline expansion of memset"}
    assert (a.lines, a.lines_hit, a.branches, a.branches_hit) == (3, 3, 2, 1)
    assert [e.where for e in rep.unused_exclusions] == ["coverage/thresholds:7"]
    text = covgate.report_text(rep)
    assert "  a.c:4: warnings cannot be triggered" in text
    assert "coverage/thresholds:7: exclude a.c:/never matches/ stale" in text
    assert rep.lines_ok() and not rep.branches_ok()   # a.c:3 still half taken


def test_exclusion_of_a_branch_body() -> None:
    """/REGEX/+N takes the matching line and the N lines after it."""
    t = th(100, 100, "exclude-branches a.c:/if \\(bar\\)/ the WARN never fires\n"
                     "exclude a.c:/if \\(bar\\)/+1 the WARN never fires\n")
    e = t.exclusions[1]
    assert (e.regex, e.after, e.reason) == ("if \\(bar\\)", 1, "the WARN never fires")
    assert e.describe() == "exclude a.c:/if \\(bar\\)/+1"
    assert e.lines_of("a.c", PATCH["a.c"]) == {3, 4}
    assert e.lines_of("b.h", PATCH["b.h"]) == set()
    rep = covgate.patch_report(PATCH, DATA, t)
    a = next(f for f in rep.files if f.path == "a.c")
    assert sorted(a.excluded) == [3, 4] and a.uncovered == [1]
    assert rep.unused_exclusions == [t.exclusions[0]]   # line 3 went with the line exclusion


@pytest.mark.parametrize("target,regex,after,reason", [
    ("a.c:/x/+12 why", "x", 12, "why"),
    ("a.c:/x/+ why", None, 0, ""),          # '+' without a count: not the end
    ("a.c:/x\\/+2/ why", "x/+2", 0, "why"),
])
def test_regex_after_syntax(target: str, regex: str | None, after: int, reason: str) -> None:
    text = f"patch-lines 1\npatch-branches 1\nexclude {target}\n"
    if regex is None:
        with pytest.raises(UsageError):
            covgate.parse_thresholds(text)
        return
    e = covgate.parse_thresholds(text).exclusions[0]
    assert (e.regex, e.after, e.reason) == (regex, after, reason)


def test_to_dict() -> None:
    d = covgate.patch_report(PATCH, DATA, th(60, 10)).to_dict()
    assert d["lines"] == {"hit": 3, "total": 6, "percent": 50.0, "threshold": 60.0, "ok": False}
    assert d["branches"]["ok"] is True and d["passed"] is False
    assert d["uncovered_lines"] == ["a.c:1", "a.c:4", "b.h:10"]
    assert d["partial_branches"] == ["a.c:3 (1/2 taken)", "a.c:5 (1/2 taken)"]


def test_raise_thresholds_never_lowers() -> None:
    text = "# keep me\npatch-lines 90.0\npatch-branches 80 # old\nexclude a.c:1 r\n"
    new, changed = covgate.raise_thresholds(text, 95.25, 70.0)
    assert new == "# keep me\npatch-lines 95.2\npatch-branches 80 # old\nexclude a.c:1 r\n"
    assert changed == ["patch-lines 90.0 -> 95.2"]
    again, changed = covgate.raise_thresholds(new, 95.2, 70.0)
    assert again == new and changed == []

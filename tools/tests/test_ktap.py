"""ktap.py: the tree's kunit_parser found and imported, each console read
once, the tree's rule for where KTAP starts, the test each line was printed in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import recorded
from tgtsim import ktap
from tgtsim.errors import InfraError


def test_locate_prefers_env(kunit_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TGTSIM_KUNIT_DIR", str(kunit_dir))
    assert ktap.locate([]) == kunit_dir


def test_locate_candidates(kunit_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TGTSIM_KUNIT_DIR", raising=False)
    assert ktap.locate([tmp_path, kunit_dir]) == kunit_dir


def test_locate_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TGTSIM_KUNIT_DIR", raising=False)
    with pytest.raises(InfraError, match="kunit_parser"):
        ktap.locate([tmp_path], tmp_path / "none.tar.xz", tmp_path)


def test_parse_captures_parser_printing(kunit_dir: Path, capsys) -> None:
    parsed = ktap.parse(kunit_dir, ["KTAP version 1", "1..1", "ok 1 x"])
    assert parsed.test.status.name == "SUCCESS"
    assert "x" in parsed.printed
    assert capsys.readouterr().out == ""


def test_parse_leaves_the_parser_as_it_was(kunit_dir: Path) -> None:
    parser = ktap.load_parser(kunit_dir)
    own = (parser.extract_tap_lines, parser.parse_test_result)
    ktap.parse(kunit_dir, recorded("param.log"))
    assert (parser.extract_tap_lines, parser.parse_test_result) == own


def test_bad_parser_dir(tmp_path: Path) -> None:
    (tmp_path / "kunit_parser.py").write_text("raise RuntimeError('broken')\n")
    saved = {m: sys.modules.pop(m) for m in ("kunit_parser", "kunit_printer") if m in sys.modules}
    try:
        with pytest.raises(InfraError, match="cannot import kunit_parser"):
            ktap.load_parser(tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.update(saved)
        ktap._loaded = None


def test_where_ktap_starts_is_the_tree_s_rule(kunit_dir: Path) -> None:
    """The first line kunit_parser keeps as a KTAP or TAP version line, with
    whatever prefix the console puts before it; not a line that mentions it."""
    lines = ["Kernel command line: console=tty # KTAP version 1 comes later",
             "[    0.5] KTAP version 1", "[    0.5] 1..1", "[    0.5] ok 1 x"]
    parsed = ktap.parse(kunit_dir, lines)
    assert parsed.start == 1 and parsed.test.status.name == "SUCCESS"
    assert parsed.text(lines).startswith("[    0.5] KTAP version 1\n")
    none = ["booting", "no tests here"]
    parsed = ktap.parse(kunit_dir, none)
    assert parsed.start == 2 and parsed.text(none) == ""
    assert parsed.during == ["", ""]
    tap = ["x", "TAP version 13", "1..1", "ok 1 y"]
    assert ktap.parse(kunit_dir, tap).start == 1


def test_each_line_belongs_to_the_test_whose_result_comes_next(kunit_dir: Path) -> None:
    lines = recorded("param.log")
    parsed = ktap.parse(kunit_dir, lines)
    during = dict(zip(lines, parsed.during))
    at = {ln: during[ln] for ln in lines if "Expected chunks == 3" in ln}
    assert list(at.values()) == ["tgt_split.tgt_split_limits/max_sectors=16"]
    before = lines[:parsed.start]
    assert all(parsed.during[i] == "" for i in range(len(before)))


def test_lines_of_a_test_that_never_reported(kunit_dir: Path) -> None:
    lines = recorded("kasan_panic.log")
    parsed = ktap.parse(kunit_dir, lines)
    i = next(n for n, ln in enumerate(lines) if ln.startswith("BUG: KASAN:"))
    assert parsed.during[i] == "sim_lld (no result)"
    assert parsed.during[-1] == "sim_lld (no result)"


def test_lines_after_the_last_result(kunit_dir: Path) -> None:
    lines = ["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: s", "    1..1",
             "in c", "    ok 1 c", "after c", "ok 1 s", "kmemleak: 1 new suspected memory leaks"]
    parsed = ktap.parse(kunit_dir, lines)
    assert parsed.during[-1] == ktap.AFTER
    assert parsed.during[5] == "s.c" and parsed.during[7] == "s"


def test_skip_reasons() -> None:
    assert ktap.skip_reasons(["    ok 2 t_timer # SKIP no timer", "ok 3 plain # SKIP"]) == \
        {"t_timer": "no timer", "plain": "skipped"}

from pathlib import Path

import pytest

from tgtsim import kunit_tools
from tgtsim.errors import InfraError


def test_locate_prefers_env(kunit_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TGTSIM_KUNIT_DIR", str(kunit_dir))
    assert kunit_tools.locate([]) == kunit_dir


def test_locate_candidates(kunit_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TGTSIM_KUNIT_DIR", raising=False)
    assert kunit_tools.locate([tmp_path, kunit_dir]) == kunit_dir


def test_locate_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TGTSIM_KUNIT_DIR", raising=False)
    with pytest.raises(InfraError, match="kunit_parser"):
        kunit_tools.locate([tmp_path], tmp_path / "none.tar.xz", tmp_path)


def test_parse_captures_parser_printing(kunit_dir: Path, capsys) -> None:
    test, printed = kunit_tools.parse(kunit_dir, ["KTAP version 1", "1..1", "ok 1 x"])
    assert test.status.name == "SUCCESS"
    assert "x" in printed
    assert capsys.readouterr().out == ""


def test_bad_parser_dir(tmp_path: Path) -> None:
    (tmp_path / "kunit_parser.py").write_text("raise RuntimeError('broken')\n")
    import sys
    saved = {m: sys.modules.pop(m) for m in ("kunit_parser", "kunit_printer") if m in sys.modules}
    try:
        with pytest.raises(InfraError, match="cannot import kunit_parser"):
            kunit_tools.load_parser(tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.update(saved)
        kunit_tools._loaded = None

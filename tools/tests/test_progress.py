import io
import json
from pathlib import Path

import pytest

from tgtsim.progress import Progress, Timings, fmt_duration, is_interactive


def test_fmt() -> None:
    assert fmt_duration(5) == "5s" and fmt_duration(125) == "2m05s"


def test_plain_lines_and_timings(tmp_path: Path) -> None:
    buf = io.StringIO()
    t = Timings(tmp_path / "t.json")
    p = Progress(buf, t, live=False)
    with p.step("build kunit"):
        pass
    assert "build kunit: started" in buf.getvalue() and "build kunit: done in" in buf.getvalue()
    assert "build kunit" in json.loads((tmp_path / "t.json").read_text())
    buf2 = io.StringIO()
    with Progress(buf2, Timings(tmp_path / "t.json"), live=False).step("build kunit"):
        pass
    assert "(last run" in buf2.getvalue()
    assert "\033" not in buf2.getvalue()


def test_nested_steps_each_report_their_own_time(tmp_path: Path, monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("tgtsim.progress.time.monotonic", lambda: clock[0])
    buf = io.StringIO()
    t = Timings(tmp_path / "t.json")
    p = Progress(buf, t, live=False)
    with p.step("mutants: 05"):
        clock[0] += 200          # build
        with p.step("boot kunit"):
            clock[0] += 14
        assert p._current == "mutants: 05"      # the outer step is shown again
        clock[0] += 30           # selftests
    out = buf.getvalue()
    assert "boot kunit: done in 14s" in out and "mutants: 05: done in 4m04s" in out
    assert json.loads((tmp_path / "t.json").read_text()) == {"boot kunit": 14.0,
                                                              "mutants: 05": 244.0}
    assert p._current is None


def test_a_step_in_another_thread_leaves_the_live_line_alone(tmp_path: Path) -> None:
    import threading
    buf = io.StringIO()
    p = Progress(buf, Timings(tmp_path / "t.json"), live=False)
    with p.step("boot kunit"):

        def side() -> None:
            with p.step("boot selftests"):
                assert p._current == "boot kunit"
        t = threading.Thread(target=side)
        t.start()
        t.join()
        assert p._current == "boot kunit"
    out = buf.getvalue()
    assert "boot selftests: started beside the main step" in out
    assert "boot selftests: done in" in out and "boot kunit: done in" in out
    assert set(json.loads((tmp_path / "t.json").read_text())) == {"boot kunit", "boot selftests"}


def test_failed_step_not_recorded(tmp_path: Path) -> None:
    buf = io.StringIO()
    p = Progress(buf, Timings(tmp_path / "t.json"), live=False)
    with pytest.raises(RuntimeError):
        with p.step("x"):
            raise RuntimeError
    assert "x: FAILED" in buf.getvalue()
    assert not (tmp_path / "t.json").exists()


def test_ci_is_not_interactive(monkeypatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    monkeypatch.setenv("CI", "true")
    assert not is_interactive(Tty())
    monkeypatch.delenv("CI")
    assert is_interactive(Tty())


def test_live_line_renders(monkeypatch) -> None:
    buf = io.StringIO()
    p = Progress(buf, live=True)
    p._current, p._start = "boot kunit", 0.0
    p.detail("CC foo.o")
    p._render()
    assert buf.getvalue().startswith("\r\033[K") and "boot kunit" in buf.getvalue()
    p.info("hello")
    assert "hello" in buf.getvalue()


def test_verbose_output() -> None:
    buf = io.StringIO()
    Progress(buf, live=False, verbose=True).output("make line")
    Progress(buf, live=False, verbose=False).output("hidden")
    assert "make line" in buf.getvalue() and "hidden" not in buf.getvalue()


def test_bad_timings_file(tmp_path: Path) -> None:
    f = tmp_path / "t.json"
    f.write_text("not json")
    assert Timings(f).get("x") is None

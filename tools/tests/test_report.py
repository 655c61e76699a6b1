import json
import os
from pathlib import Path

import junitparser
import pytest
from lxml import etree

from conftest import DATA, analyse
from tgtsim import report
from tgtsim.boots import SelftestInfo
from tgtsim.errors import InfraError
from tgtsim.report import RunInfo
from tgtsim.results import Crash, Results
from tgtsim.selftest_build import Program

XSD = Path(__file__).resolve().parent.parent / "tgtsim" / "junit.xsd"


def results(kunit_dir: Path, name: str) -> Results:
    return analyse((DATA / name).read_text().splitlines(), kunit_dir)


def validate(xml: bytes) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    schema.assertValid(etree.fromstring(xml))


@pytest.mark.parametrize("name", ["pass.log", "fail.log", "param.log", "skip.log",
                                  "truncated.log", "panic.log", "noktap.log", "oops.log",
                                  "kasan_panic.log", "kmemleak.log"])
def test_junit_valid_for_every_sample(kunit_dir: Path, tmp_path: Path, name: str) -> None:
    res = results(kunit_dir, name)
    xml = report.junit_xml(res)
    validate(xml)
    f = tmp_path / "junit.xml"
    f.write_bytes(xml)
    parsed = junitparser.JUnitXml.fromfile(str(f))
    cases = [c for s in parsed for c in s]
    assert len(cases) == len(res.cases) + (1 if res.crash else 0) + len(res.sanitizer)
    failed = sum(1 for c in cases if c.result and isinstance(c.result[0], junitparser.Failure))
    assert failed == res.failed


def test_junit_failure_message(kunit_dir: Path, tmp_path: Path) -> None:
    f = tmp_path / "j.xml"
    f.write_bytes(report.junit_xml(results(kunit_dir, "fail.log")))
    suite = next(iter(junitparser.JUnitXml.fromfile(str(f))))
    case = [c for c in suite if c.name == "tgt_get_fails_when_host_deleted"][0]
    assert case.classname == "tgt_cmd_refcount"
    assert "EXPECTATION FAILED" in case.result[0].message
    assert "cmd == 00000000deadbeef" in case.result[0].text


def test_junit_crash_testcase_has_tail(kunit_dir: Path) -> None:
    root = etree.fromstring(report.junit_xml(results(kunit_dir, "panic.log")))
    (crash,) = root.xpath('//testcase[@classname="tgtsim"][@name="kernel"]')
    assert "Kernel panic - not syncing" in crash.find("failure").text


def test_junit_strips_control_chars() -> None:
    res = Results(crash=Crash(reason="x\x1b[31m\x07", tail=["a\x00b"]))
    validate(report.junit_xml(res))


def test_summary_closing_line(kunit_dir: Path) -> None:
    text = report.summary_text(results(kunit_dir, "param.log"))
    lines = text.splitlines()
    assert lines[-1] == "3 passed, 1 failed, 0 skipped"
    assert lines[0].startswith("FAIL tgt_split")
    assert any("max_sectors=16" in ln for ln in lines)


def test_summary_crash(kunit_dir: Path) -> None:
    text = report.summary_text(results(kunit_dir, "panic.log"))
    assert "CRASH kernel crash" in text
    assert text.splitlines()[-1].endswith("skipped")


def test_json(kunit_dir: Path) -> None:
    info = RunInfo(run_id="r1", profile="kunit", started=1.0, duration=2.0,
                   kernel_args=["mem=1G"], returncode=0, expect_kmemleak=False)
    data = json.loads(report.results_json(results(kunit_dir, "skip.log"), info))
    assert data["counts"] == {"passed": 1, "failed": 0, "skipped": 1}
    assert data["profile"] == "kunit" and data["exit_code"] == 0
    assert list(data)[:8] == ["schema_version", "run_id", "profile", "started", "duration",
                              "kernel_args", "returncode", "expect_kmemleak"]
    assert "selftests" not in data and "coverage" not in data and "failed_step" not in data
    assert data["suites"][0]["cases"][1]["status"] == "skipped"


def test_latest_switch_keeps_old_runs(kunit_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = report.new_run_dir(out, "kunit")
    report.write(first, results(kunit_dir, "pass.log"), RunInfo(first.name, "kunit"))
    report.switch_latest(out, first)
    assert (out / "summary.txt").read_text().endswith("5 passed, 0 failed, 0 skipped\n")
    second = report.new_run_dir(out, "kunit")
    assert second != first
    # a new run that is still being written does not affect latest
    assert report.latest(out) == first.resolve()
    report.write(second, results(kunit_dir, "fail.log"), RunInfo(second.name, "kunit"))
    report.switch_latest(out, second)
    assert report.latest(out) == second.resolve()
    assert (first / "summary.txt").is_file()
    assert os.readlink(out / "junit.xml") == "latest/junit.xml"
    assert "1 failed" in (out / "summary.txt").read_text()
    res, info = report.load(out / "latest")
    assert res.failed == 1 and info.run_id == second.name


def test_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InfraError, match="cannot write"):
        report.new_run_dir(blocker / "out", "kunit")


def test_run_info_round_trip() -> None:
    """What results.json records of the selftest side comes back typed."""
    st = SelftestInfo(programs=[Program("001_data", "data", ["a", "b"])], duration=1.5,
                      returncode=0, hang="", kernel_args=["init=/x"], lines=["not recorded"])
    info = RunInfo(run_id="r", profile="kunit", started=1.0, selftests=st,
                   coverage={"error": "no .gcda files"})
    data = json.loads(json.dumps(info.to_dict()))
    assert data["selftests"] == {"programs": [{"name": "001_data", "description": "data",
                                               "tests": ["a", "b"]}],
                                 "duration": 1.5, "returncode": 0, "hang": "",
                                 "kernel_args": ["init=/x"]}
    back = RunInfo.from_dict(data)
    assert back.selftests is not None and back.selftests.programs == st.programs
    assert back.selftests.lines == [] and back.coverage == {"error": "no .gcda files"}
    broken = SelftestInfo(programs=[], build_error="selftests build failed",
                          build_detail="x.c:1: error")
    assert list(broken.to_dict()) == ["programs", "build_error", "build_detail"]


def test_unreadable_results_json(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(InfraError, match="no readable results.json"):
        report.load(tmp_path)

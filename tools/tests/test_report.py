import json
import os
from pathlib import Path

import junitparser
import pytest
from lxml import etree

from conftest import DATA
from tgtsim import report
from tgtsim.errors import InfraError
from tgtsim.results import Crash, Results, analyze

XSD = Path(__file__).resolve().parent.parent / "tgtsim" / "junit.xsd"


def results(kunit_dir: Path, name: str) -> Results:
    return analyze((DATA / name).read_text().splitlines(), kunit_dir)


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
    xml = report.junit_xml(results(kunit_dir, "panic.log")).decode()
    assert 'classname="tgtsim" name="kernel"' in xml
    assert "Kernel panic - not syncing" in xml


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
    data = json.loads(report.results_json(results(kunit_dir, "skip.log"), {"profile": "kunit"}))
    assert data["counts"] == {"passed": 1, "failed": 0, "skipped": 1}
    assert data["profile"] == "kunit" and data["exit_code"] == 0
    assert data["suites"][0]["cases"][1]["status"] == "skipped"


def test_latest_switch_keeps_old_runs(kunit_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = report.new_run_dir(out, "kunit")
    report.write(first, results(kunit_dir, "pass.log"), {})
    report.switch_latest(out, first)
    assert (out / "summary.txt").read_text().endswith("5 passed, 0 failed, 0 skipped\n")
    second = report.new_run_dir(out, "kunit")
    assert second != first
    # a new run that is still being written does not affect latest
    assert report.latest(out) == first.resolve()
    report.write(second, results(kunit_dir, "fail.log"), {})
    report.switch_latest(out, second)
    assert report.latest(out) == second.resolve()
    assert (first / "summary.txt").is_file()
    assert os.readlink(out / "junit.xml") == "latest/junit.xml"
    assert "1 failed" in (out / "summary.txt").read_text()
    res, meta = report.load(out / "latest")
    assert res.failed == 1


def test_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InfraError, match="cannot write"):
        report.new_run_dir(blocker / "out", "kunit")

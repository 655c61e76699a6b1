"""The Cobertura checks: a valid gcovr-style document passes, each broken rule is named."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tgtsim import cobertura

GOOD = """<?xml version='1.0' encoding='UTF-8'?>
<!DOCTYPE coverage SYSTEM 'http://cobertura.sourceforge.net/xml/coverage-04.dtd'>
<coverage line-rate="0.5" function-rate="1.0" branch-rate="0.25" lines-covered="1"
  lines-valid="2" branches-covered="1" branches-valid="4" complexity="0.0"
  timestamp="1700000000" version="gcovr 5.2">
  <sources><source>.</source></sources>
  <packages>
    <package name="drivers.scsi" line-rate="0.5" branch-rate="0.25" complexity="0.0">
      <classes>
        <class name="scsi_c" filename="drivers/scsi/scsi.c" line-rate="0.5"
          branch-rate="0.25" complexity="0.0">
          <methods/>
          <lines>
            <line number="7" hits="3" branch="true" condition-coverage="25% (1/4)">
              <conditions><condition number="0" type="jump" coverage="25%"/></conditions>
            </line>
            <line number="8" hits="0" branch="false"/>
          </lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>
"""


def problems(text: str) -> list[str]:
    return cobertura.check_tree(ET.fromstring(text.split("\n", 2)[2]))


def test_good(tmp_path: Path) -> None:
    f = tmp_path / "c.xml"
    f.write_text(GOOD)
    assert cobertura.check(f) == []
    assert cobertura.filenames(f) == ["drivers/scsi/scsi.c"]


@pytest.mark.parametrize("old,new,msg", [
    ('lines-valid="2" ', "", "<coverage> lacks required attribute lines-valid"),
    ('timestamp="1700000000"', "", "lacks required attribute timestamp"),
    ('filename="drivers/scsi/scsi.c"', 'filename="/work/linux/drivers/scsi/scsi.c"',
     "is not relative to the source root"),
    ('filename="drivers/scsi/scsi.c"', 'filename="../linux/x.c"', "is not relative"),
    ('<package name="drivers.scsi" line-rate="0.5"', '<package name="drivers.scsi" line-rate="1.5"',
     "line-rate='1.5' is not a rate in 0..1"),
    ('hits="0"', 'hits="-1"', "hits='-1' is not a count"),
    ('<line number="8" hits="0" branch="false"/>', '<line number="8" branch="false"/>',
     "<line> lacks required attribute hits"),
    ("<methods/>", "", "<class> lacks <methods>"),
    ("<methods/>\n          <lines>", "<lines>", "<class> lacks <methods>"),
    ("</classes>", "<bogus/></classes>", "<bogus> not allowed in <classes>"),
    ('branch="false"/>', 'branch="maybe"/>', "branch='maybe'"),
    ('condition-coverage="25% (1/4)"', 'condition-coverage="25%"', "condition-coverage='25%'"),
    ('type="jump" ', "", "<condition> lacks required attribute type"),
])
def test_broken(old: str, new: str, msg: str) -> None:
    assert old in GOOD
    found = problems(GOOD.replace(old, new, 1))
    assert any(msg in p for p in found), found


def test_missing_packages() -> None:
    start, end = GOOD.index("  <packages>"), GOOD.index("</packages>") + len("</packages>")
    assert problems(GOOD[:start] + GOOD[end:]) == ["coverage: <coverage> lacks <packages>"]


def test_order() -> None:
    text = GOOD.replace("<methods/>\n          <lines>", "<lines>", 1).replace(
        "</lines>\n        </class>", "</lines><methods/>\n        </class>", 1)
    assert any("children of <class> out of order" in p for p in problems(text))


def test_wrong_root_and_unreadable(tmp_path: Path) -> None:
    assert cobertura.check_tree(ET.fromstring("<testsuites/>")) == \
        ["root element is <testsuites>, not <coverage>"]
    f = tmp_path / "bad.xml"
    f.write_text("<coverage")
    assert cobertura.check(f)[0].startswith(f"{f}: not readable XML")

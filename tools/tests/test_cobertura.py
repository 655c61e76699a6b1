"""The Cobertura checks: a valid gcovr-style document passes (attributes the
DTD does not declare included), each broken rule is named."""

from pathlib import Path

import pytest
from lxml import etree

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
    return cobertura.check_tree(etree.fromstring(text.split("\n", 2)[2]))


def test_good(tmp_path: Path) -> None:
    f = tmp_path / "c.xml"
    f.write_text(GOOD)
    assert cobertura.check(f) == []
    assert cobertura.filenames(f) == ["drivers/scsi/scsi.c"]


@pytest.mark.parametrize("old,new,msg", [
    ('lines-valid="2" ', "", "DTD: Element coverage does not carry attribute lines-valid"),
    ('timestamp="1700000000"', "", "does not carry attribute timestamp"),
    ('filename="drivers/scsi/scsi.c"', 'filename="/work/linux/drivers/scsi/scsi.c"',
     "is not relative to the source root"),
    ('filename="drivers/scsi/scsi.c"', 'filename="../linux/x.c"', "is not relative"),
    ('<package name="drivers.scsi" line-rate="0.5"', '<package name="drivers.scsi" line-rate="1.5"',
     "line-rate='1.5' is not a rate in 0..1"),
    ('hits="0"', 'hits="-1"', "hits='-1' is not a count"),
    ('<line number="8" hits="0" branch="false"/>', '<line number="8" branch="false"/>',
     "Element line does not carry attribute hits"),
    ("<methods/>", "", "Element class content does not follow the DTD, expecting "
     "(methods , lines), got (lines )"),
    ("<methods/>\n          <lines>", "<lines>", "Element class content does not follow"),
    ("</classes>", "<bogus/></classes>", "No declaration for element bogus"),
    ('branch="false"/>', 'branch="maybe"/>', "branch='maybe'"),
    ('condition-coverage="25% (1/4)"', 'condition-coverage="25%"', "condition-coverage='25%'"),
    ('type="jump" ', "", "Element condition does not carry attribute type"),
])
def test_broken(old: str, new: str, msg: str) -> None:
    assert old in GOOD
    found = problems(GOOD.replace(old, new, 1))
    assert any(msg in p for p in found), found


def test_missing_packages() -> None:
    start, end = GOOD.index("  <packages>"), GOOD.index("</packages>") + len("</packages>")
    assert problems(GOOD[:start] + GOOD[end:]) == [
        "DTD: Element coverage content does not follow the DTD, expecting (sources? , "
        "packages), got (sources )"]


def test_order() -> None:
    text = GOOD.replace("<methods/>\n          <lines>", "<lines>", 1).replace(
        "</lines>\n        </class>", "</lines><methods/>\n        </class>", 1)
    assert any("Element class content does not follow the DTD" in p for p in problems(text))


def test_wrong_root_and_unreadable(tmp_path: Path) -> None:
    assert cobertura.check_tree(etree.fromstring("<testsuites/>")) == \
        ["root element is <testsuites>, not <coverage>"]
    f = tmp_path / "bad.xml"
    f.write_text("<coverage")
    assert cobertura.check(f)[0].startswith(f"{f}: not readable XML")


def test_gcovr_attributes_are_not_problems_and_stay() -> None:
    root = etree.fromstring(GOOD.split("\n", 2)[2])
    assert root.get("function-rate") == "1.0" and cobertura.check_tree(root) == []
    assert root.get("function-rate") == "1.0"       # checked on a copy


def test_the_dtd_is_cobertura_s() -> None:
    dtd = cobertura.dtd()
    assert sorted(e.name for e in dtd.elements()) == sorted(
        ["coverage", "sources", "source", "packages", "package", "classes", "class",
         "methods", "method", "lines", "line", "conditions", "condition"])

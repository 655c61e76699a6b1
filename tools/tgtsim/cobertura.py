"""Checks of a Cobertura XML report: lxml validates it against Cobertura's
coverage-04 DTD (coverage-04.dtd, beside this file), plus the value checks
CI tools rely on and a DTD cannot express (rates in 0..1, integer counts,
filenames relative to the source root).

gcovr adds attributes the DTD does not declare (function-rate, ...); CI
tools ignore them, and so do these checks: they are removed from a copy of
the document before it is validated.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

DTD_FILE = Path(__file__).resolve().parent / "coverage-04.dtd"
RATES = ("line-rate", "branch-rate")
INTS = ("lines-covered", "lines-valid", "branches-covered", "branches-valid", "number", "hits")
COND_COV = re.compile(r"^\d+(?:\.\d+)?% \(\d+/\d+\)$")

_dtd: list[etree.DTD] = []


def dtd() -> etree.DTD:
    """Cobertura's DTD (read once)."""
    if not _dtd:
        _dtd.append(etree.DTD(str(DTD_FILE)))
    return _dtd[0]


def _declared(schema: etree.DTD) -> dict[str, set[str]]:
    return {e.name: {a.name for a in e.attributes()} for e in schema.elements()}


def _values(el: etree._Element, where: str) -> list[str]:
    problems = []
    for a in RATES:
        if a in el.attrib:
            try:
                v = float(el.attrib[a])
                if not 0.0 <= v <= 1.0:
                    raise ValueError
            except ValueError:
                problems.append(f"{where}: <{el.tag}> {a}={el.attrib[a]!r} is not a rate in 0..1")
    for a in INTS:
        if a in el.attrib and not el.attrib[a].isdigit():
            problems.append(f"{where}: <{el.tag}> {a}={el.attrib[a]!r} is not a count")
    if el.tag == "line":
        if el.get("branch", "false") not in ("true", "false"):
            problems.append(f"{where}: <line> branch={el.get('branch')!r}")
        cc = el.get("condition-coverage")
        if cc is not None and not COND_COV.match(cc):
            problems.append(f"{where}: <line> condition-coverage={cc!r}")
    if el.tag == "class":
        fn = el.get("filename", "")
        if fn.startswith("/") or fn.startswith("..") or "\\" in fn:
            problems.append(f"{where}: <class> filename {fn!r} is not relative to the source root")
    return problems


def check_tree(root: etree._Element) -> list[str]:
    """Problems of a parsed Cobertura document ([] when it is valid)."""
    if root.tag != "coverage":
        return [f"root element is <{root.tag}>, not <coverage>"]
    schema = dtd()
    declared = _declared(schema)
    copy = etree.fromstring(etree.tostring(root))
    problems: list[str] = []
    for el in copy.iter():
        if not isinstance(el.tag, str):
            continue       # comments, processing instructions
        where = copy.getroottree().getpath(el)
        problems += _values(el, where)
        for a in list(el.attrib):
            if a not in declared.get(el.tag, set()):
                del el.attrib[a]
    if not schema.validate(copy):
        problems += [f"DTD: {e.message}" for e in schema.error_log.filter_from_errors()]
    return problems


def check(path: Path) -> list[str]:
    """Problems of the Cobertura file `path` ([] when it is valid)."""
    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False,
                                                      no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError) as e:
        return [f"{path}: not readable XML: {e}"]
    return check_tree(root)


def filenames(path: Path) -> list[str]:
    return [c.get("filename", "") for c in etree.parse(str(path)).getroot().iter("class")]

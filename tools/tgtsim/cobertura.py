"""Checks of a Cobertura XML report against the rules of Cobertura's
coverage-04 DTD (elements, their order, required attributes) plus the value
checks CI tools rely on (rates in 0..1, integer counts, relative filenames).

gcovr adds attributes the DTD does not declare (function-rate, ...); CI tools
ignore them, and so do these checks.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

# element -> (required attributes, allowed children in their order, children required)
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "coverage": (("line-rate", "branch-rate", "lines-covered", "lines-valid",
                  "branches-covered", "branches-valid", "complexity", "version", "timestamp"),
                 ("sources", "packages"), ("packages",)),
    "sources": ((), ("source",), ()),
    "source": ((), (), ()),
    "packages": ((), ("package",), ()),
    "package": (("name", "line-rate", "branch-rate", "complexity"), ("classes",), ("classes",)),
    "classes": ((), ("class",), ()),
    "class": (("name", "filename", "line-rate", "branch-rate", "complexity"),
              ("methods", "lines"), ("methods", "lines")),
    "methods": ((), ("method",), ()),
    "method": (("name", "signature", "line-rate", "branch-rate", "complexity"), ("lines",),
               ("lines",)),
    "lines": ((), ("line",), ()),
    "line": (("number", "hits"), ("conditions",), ()),
    "conditions": ((), ("condition",), ()),
    "condition": (("number", "type", "coverage"), (), ()),
}
RATES = ("line-rate", "branch-rate")
INTS = ("lines-covered", "lines-valid", "branches-covered", "branches-valid", "number", "hits")
COND_COV = re.compile(r"^\d+(?:\.\d+)?% \(\d+/\d+\)$")


def _check(el: ET.Element, where: str, problems: list[str]) -> None:
    rule = RULES.get(el.tag)
    if rule is None:
        problems.append(f"{where}: unknown element <{el.tag}>")
        return
    required, children, needed = rule
    for a in required:
        if a not in el.attrib:
            problems.append(f"{where}: <{el.tag}> lacks required attribute {a}")
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
    # children: only the allowed ones, in the DTD's order, the required ones present
    order = [children.index(c.tag) if c.tag in children else -1 for c in el]
    for c, pos in zip(el, order):
        if pos < 0:
            problems.append(f"{where}: <{c.tag}> not allowed in <{el.tag}>")
    known = [p for p in order if p >= 0]
    if known != sorted(known):
        problems.append(f"{where}: children of <{el.tag}> out of order")
    singles = [t for t in children if t not in ("source", "package", "class", "method",
                                                 "line", "condition")]
    for t in singles:
        if sum(1 for c in el if c.tag == t) > 1:
            problems.append(f"{where}: more than one <{t}> in <{el.tag}>")
    for t in needed:
        if el.find(t) is None:
            problems.append(f"{where}: <{el.tag}> lacks <{t}>")
    if el.tag not in ("source",) and (el.text or "").strip():
        problems.append(f"{where}: unexpected text in <{el.tag}>")
    for i, c in enumerate(el):
        _check(c, f"{where}/{c.tag}[{i}]", problems)


def check_tree(root: ET.Element) -> list[str]:
    problems: list[str] = []
    if root.tag != "coverage":
        return [f"root element is <{root.tag}>, not <coverage>"]
    _check(root, "coverage", problems)
    return problems


def check(path: Path) -> list[str]:
    """Problems of the Cobertura file `path` ([] when it is valid)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        return [f"{path}: not readable XML: {e}"]
    return check_tree(root)


def filenames(path: Path) -> list[str]:
    return [c.get("filename", "") for c in ET.parse(path).getroot().iter("class")]

"""Cobertura XML reports: written from an lcov tracefile (the same data as
the HTML report, the patch-line gate and the tracefile, so that the four
never disagree), and checked: lxml validates a report against Cobertura's
coverage-04 DTD (coverage-04.dtd, beside this file), plus the value checks
CI tools rely on and a DTD cannot express (rates in 0..1, integer counts,
filenames relative to the source root).

Other writers (gcovr) add attributes the DTD does not declare
(function-rate, ...); CI tools ignore them, and so do these checks: they are
removed from a copy of the document before it is validated.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from lxml import etree

from tgtsim import lcovinfo
from tgtsim.errors import InfraError

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


def _rate(hit: int, total: int) -> str:
    return f"{hit / total:.4f}" if total else "1.0000"


def from_tracefile(data: lcovinfo.Tracefile, source: Path, tool: str = "tgtsim") -> bytes:
    """Cobertura XML (coverage-04.dtd) of a tracefile keyed by paths relative
    to `source`: a package per directory, a class per file, every line with
    its hits, branch lines with their condition coverage (a branch counts as
    covered when taken, as in lcov's figures)."""
    lf = sum(c.lines_found for c in data.values())
    lh = sum(c.lines_hit for c in data.values())
    bf = sum(c.branches_found for c in data.values())
    bh = sum(c.branches_hit for c in data.values())
    root = etree.Element("coverage", {
        "line-rate": _rate(lh, lf), "branch-rate": _rate(bh, bf), "lines-covered": str(lh),
        "lines-valid": str(lf), "branches-covered": str(bh), "branches-valid": str(bf),
        "complexity": "0", "version": tool, "timestamp": str(int(time.time()))})
    etree.SubElement(etree.SubElement(root, "sources"), "source").text = str(source)
    packages = etree.SubElement(root, "packages")
    by_dir: dict[str, list[str]] = {}
    for path in sorted(data):
        by_dir.setdefault(os.path.dirname(path), []).append(path)
    for d, files in by_dir.items():
        covs = [data[f] for f in files]
        pkg = etree.SubElement(packages, "package", {
            "name": d.replace("/", ".") or ".",
            "line-rate": _rate(sum(c.lines_hit for c in covs), sum(c.lines_found for c in covs)),
            "branch-rate": _rate(sum(c.branches_hit for c in covs),
                                 sum(c.branches_found for c in covs)),
            "complexity": "0"})
        classes = etree.SubElement(pkg, "classes")
        for f in files:
            c = data[f]
            cls = etree.SubElement(classes, "class", {
                "name": os.path.basename(f), "filename": f,
                "line-rate": _rate(c.lines_hit, c.lines_found),
                "branch-rate": _rate(c.branches_hit, c.branches_found), "complexity": "0"})
            etree.SubElement(cls, "methods")
            lines = etree.SubElement(cls, "lines")
            per_line: dict[int, list[int]] = {}
            for (ln, _block, _branch), n in c.branches.items():
                per_line.setdefault(ln, []).append(n or 0)
            for no in sorted(c.lines):
                attrs = {"number": str(no), "hits": str(c.lines[no])}
                brs = per_line.get(no)
                if brs:
                    taken = sum(1 for n in brs if n)
                    attrs["branch"] = "true"
                    attrs["condition-coverage"] = \
                        f"{100 * taken // len(brs)}% ({taken}/{len(brs)})"
                etree.SubElement(lines, "line", attrs)
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="utf-8")


def write(info: Path, tree: Path, xml: Path, tool: str = "tgtsim") -> None:
    """Cobertura XML of tracefile `info`, file names relative to `tree`
    (the kernel source tree), checked before it is kept."""
    body = from_tracefile(lcovinfo.relative_to_tree(lcovinfo.load(info), tree), tree, tool)
    part = xml.with_name(xml.name + ".part")
    try:
        part.write_bytes(body)
        problems = check(part)
        if problems:
            raise InfraError(f"invalid Cobertura file written from {info}",
                             detail="\n".join(problems[:20]))
        os.replace(part, xml)
    except OSError as e:
        raise InfraError(f"cannot write {xml}: {e.strerror or e}") from None
    finally:
        part.unlink(missing_ok=True)

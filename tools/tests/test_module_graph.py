"""The structure of tools/tgtsim: no import cycle, no stage importing a
later stage, every module in a stage, and tools/README.md shows the graph
as the code has it (tools/module_graph.py)."""

from __future__ import annotations

import module_graph


def test_the_stages_flow_one_way_without_cycles() -> None:
    assert module_graph.check(module_graph.graph()) == []


def test_the_doc_shows_the_graph_of_the_code() -> None:
    doc = module_graph.DOC.read_text()
    assert module_graph.updated(doc, module_graph.text(module_graph.graph())) == doc, \
        "tools/README.md is stale: run tools/module_graph.py --write"


def test_imports_are_read_from_the_code() -> None:
    g = module_graph.graph()
    assert "results" not in g["sanitizers"]           # the old loop
    assert "coverage" not in g["build"] and "coverage" not in g["report"]
    assert {"ktap", "console"} <= set(g["sanitizers"])
    assert "__init__" in g["cli"]                      # from tgtsim import __version__


def test_a_cycle_and_a_later_stage_are_found() -> None:
    g: dict[str, list[str]] = {"errors": [], "results": ["sanitizers"], "sanitizers": ["results"],
         "build": ["coverage"], "coverage": [], "nowhere": []}
    problems = module_graph.check(g)
    assert "build (build) imports coverage, of the later stage coverage" in problems
    assert "import cycle: results -> sanitizers -> results" in problems
    assert any(p.startswith("nowhere: in no stage") for p in problems)

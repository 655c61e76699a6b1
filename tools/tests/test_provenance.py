"""Provenance and the schema of results.json: every run records what it
tested, junit.xml carries it as <properties>, results.json validates
against tools/tgtsim/results.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from lxml import etree

from conftest import DATA, git, latest_run
from tgtsim import prepare, provenance, report, run
from tgtsim.paths import Paths
from tgtsim.uml import BootOptions

SCHEMA = json.loads((Path(provenance.__file__).parent / "results.schema.json").read_text())
XSD = Path(provenance.__file__).parent / "junit.xsd"


def validate(data: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


def fake_linux(paths: Paths, log: str) -> None:
    kb = paths.kbuild("kunit")
    kb.mkdir(parents=True, exist_ok=True)
    (kb / "linux").write_text(f"#!/bin/sh\ncat {DATA / log}\n")
    (kb / "linux").chmod(0o755)


def test_a_run_records_what_it_tested(run_paths: Paths, quiet) -> None:
    fake_linux(run_paths, "fail.log")
    run.run_profile(run_paths, "kunit", BootOptions(seed=7), quiet, cell="kunit-a")
    d = latest_run(run_paths.out)
    data = json.loads((d / "results.json").read_text())
    validate(data)
    p = data["provenance"]
    assert data["schema_version"] == report.SCHEMA_VERSION
    assert list(p) == list(provenance.FIELDS)
    assert p["profile"] == "kunit" and p["cell"] == "kunit-a" and p["seed"] == 7
    assert p["kernel_commit"] is None and p["kernel_base"] is None   # not prepared
    xml = etree.parse(str(d / "junit.xml"))
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(xml)
    props = {e.get("name"): e.get("value") for e in
             xml.getroot().find("testsuite").find("properties")}
    assert props["cell"] == "kunit-a" and props["seed"] == "7" and props["kernel_base"] == ""
    assert props["series_hash"] == p["series_hash"]


def test_prepared_tree_and_series(project: Paths, quiet, fake_git_kernel: Path) -> None:
    prepare.prepare(project, quiet, str(fake_git_kernel), "v6.12")
    commit, base = provenance.kernel_ids(project.linux)
    assert commit == git(fake_git_kernel, "rev-parse", "v6.12") == base
    h = provenance.series_hash(project.series)
    (project.patches / "0001-x.patch").write_text("x\n")
    project.series.write_text("0001-x.patch\n")
    assert provenance.series_hash(project.series) != h


def test_tarball_base_is_named_by_its_version(project: Paths, quiet) -> None:
    prepare.prepare(project, quiet)
    commit, base = provenance.kernel_ids(project.linux)
    assert commit == "linux-source-6.12.tar.xz (6.12.117)"
    assert base == git(project.linux, "rev-list", "--max-parents=0", "HEAD")


def test_tgtsim_commit_dirty(tmp_path: Path) -> None:
    repo = tmp_path / "t"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a").write_text("1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    head = git(repo, "rev-parse", "HEAD")
    assert provenance.tgtsim_commit(repo) == head
    (repo / "build").mkdir()
    (repo / "build/x").write_text("ignored: build output\n")
    assert provenance.tgtsim_commit(repo) == head
    (repo / "a").write_text("2\n")
    assert provenance.tgtsim_commit(repo) == head + "-dirty"
    assert provenance.tgtsim_commit(tmp_path / "none") == "unknown"


def test_recorded_failure_runs_validate(run_paths: Paths, quiet) -> None:
    d = run.record_failure(run_paths, "kunit", "build", "does not build", "error: x", quiet)
    validate(json.loads((d / "results.json").read_text()))

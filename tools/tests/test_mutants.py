from pathlib import Path

import pytest

from tgtsim import mutants
from tgtsim.errors import UsageError
from tgtsim.results import CRASHED, FAILED, PASSED, Case, Crash, Results


def res(*cases: tuple[str, str, str], crash: str = "") -> Results:
    r = Results()
    for suite, name, status in cases:
        if suite not in r.suites:
            r.suites.append(suite)
        r.cases.append(Case(suite=suite, name=name, status=status))
    if crash:
        r.crash = Crash(reason=crash, tail=[])
    return r


BASE = res(("tags", "fill/can_queue=1", PASSED), ("tags", "fill/can_queue=2", PASSED),
           ("tags", "put", PASSED), ("offsets", "chunks", PASSED),
           ("offsets", "flaky", FAILED))


def write_mutants(d: Path) -> None:
    d.mkdir()
    (d / "01-put-leaks.patch").write_text("Break: put leaks the tag.\n\ndiff --git a/x b/x\n")
    (d / "02-core-offset.patch").write_text("\nBreak: wrong offset.\ndiff\n")
    (d / "README.md").write_text("not a mutant\n")
    (d / "notes.patch").write_text("no number, not a mutant\n")


def test_discover_reads_numbered_patches_and_their_first_line(tmp_path: Path) -> None:
    write_mutants(tmp_path / "m")
    found = mutants.discover(tmp_path / "m")
    assert [m.name for m in found] == ["01-put-leaks", "02-core-offset"]
    assert [m.description for m in found] == ["Break: put leaks the tag.", "Break: wrong offset."]


def test_select_by_number_or_name(tmp_path: Path) -> None:
    write_mutants(tmp_path / "m")
    found = mutants.discover(tmp_path / "m")
    assert [m.name for m in mutants.select(found, [])] == ["01-put-leaks", "02-core-offset"]
    assert [m.name for m in mutants.select(found, ["02"])] == ["02-core-offset"]
    assert [m.name for m in mutants.select(found, ["01-put-leaks", "01"])] == ["01-put-leaks"]
    with pytest.raises(UsageError, match="'07' not found"):
        mutants.select(found, ["07"])


def test_caught_counts_failed_and_vanished_cases_not_those_failing_on_the_port() -> None:
    mut = res(("tags", "fill/can_queue=1", PASSED), ("tags", "fill/can_queue=2", FAILED),
              ("offsets", "chunks", CRASHED), ("offsets", "flaky", FAILED))
    # tags.put vanished (never reported), offsets.flaky already failed on the port
    assert mutants.caught(BASE, mut) == {"tags.fill": ["can_queue=2"], "tags.put": [],
                                         "offsets.chunks": []}


def test_verdicts() -> None:
    assert mutants.verdict("01", "d", BASE, BASE).status == mutants.SURVIVED
    killed = mutants.verdict("02", "d", BASE, res(crash="kernel crash: Oops"))
    assert killed.status == mutants.KILLED and killed.crash == "kernel crash: Oops"
    assert sorted(killed.caught) == ["offsets.chunks", "tags.fill", "tags.put"]
    assert mutants.verdict("03", "d", BASE, None).status == mutants.STILLBORN
    assert mutants.verdict("04", "d", BASE, None, applied=False).status == mutants.STALE


def test_render_table_counts_red_cases_per_suite() -> None:
    outcomes = [mutants.verdict("01-put", "Break one.", BASE,
                                res(("tags", "put", FAILED), ("offsets", "chunks", PASSED),
                                    ("tags", "fill/can_queue=1", PASSED),
                                    ("tags", "fill/can_queue=2", PASSED))),
                mutants.verdict("02-none", "Break two.", BASE, BASE)]
    text = mutants.render(BASE, outcomes, ["tags", "offsets"])
    assert "Unmutated port: 4/5 cases pass. Mutants killed: 1/2." in text
    assert "| 01-put | **1 red** | - | killed |" in text
    assert "| 02-none | - | - | survived |" in text
    assert "  - `tags.put`" in text and "  - SURVIVED" in text


def test_columns_fold_the_selftest_programs_into_one() -> None:
    base = res(("tgt_cmd_tags", "put", PASSED), ("selftests.001_data", "data.a", PASSED),
               ("only_failing", "x", FAILED), ("selftests.004_remove", "rm.b", PASSED),
               ("tgt_cmd_offsets", "chunks", PASSED))
    assert mutants.columns(base) == ["tgt_cmd_tags", "selftests", "tgt_cmd_offsets"]
    red = res(("tgt_cmd_tags", "put", PASSED), ("selftests.001_data", "data.a", FAILED),
              ("tgt_cmd_offsets", "chunks", PASSED))     # 004_remove vanished
    o = mutants.verdict("04-offset", "Break.", base, red)
    text = mutants.render(base, [o], mutants.columns(base))
    assert "| mutant | tgt_cmd_tags | selftests | tgt_cmd_offsets | verdict |" in text
    assert "| 04-offset | - | **2 red** | - | killed |" in text
    assert "  - `selftests.001_data.data.a`" in text


def test_update_readme_replaces_between_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{mutants.BEGIN}\nold table\n{mutants.END}\nafter\n")
    mutants.update_readme(readme, "new table\n")
    assert readme.read_text() == f"intro\n{mutants.BEGIN}\nnew table\n{mutants.END}\nafter\n"
    readme.write_text("no markers\n")
    with pytest.raises(UsageError, match="markers"):
        mutants.update_readme(readme, "x\n")


def test_every_mutant_of_the_repo_has_a_description() -> None:
    root = Path(__file__).resolve().parents[2]
    found = mutants.discover(root / "kunit" / "mutants")
    assert len(found) >= 5
    for m in found:
        assert m.description and not m.description.startswith("diff"), m.name
        assert "diff --git a/" in m.path.read_text(), m.name


def test_a_run_the_tool_failed_catches_nothing() -> None:
    broken = res(crash="selftests build failed")
    assert broken.crash is not None
    broken.crash.where = "selftests-build"
    o = mutants.verdict("05", "d", BASE, broken)
    assert o.status == mutants.TOOL_FAILED and o.caught == {}
    assert "  - TOOL FAILURE" in mutants.render(BASE, [o], ["tags"])

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


# -- a sanitizer report the port does not have catches the mutant (debug
#    profile), from recorded consoles booted by a fake kernel

def fake_kernel(tmp_path: Path, name: str, console: list[str]) -> Path:
    """A 'linux' that prints `console` (a scratch build's kbuild/PROFILE/linux)."""
    kb = tmp_path / name / "kbuild"
    kb.mkdir(parents=True)
    (kb / "console.txt").write_text("\n".join(console) + "\n")
    if any("tgt_kmemleak" in ln for ln in console):     # the debug profile's leak scan
        (kb / ".config").write_text("CONFIG_DEBUG_KMEMLEAK=y\n")
    exe = kb / "linux"
    exe.write_text(f"#!/bin/sh\ncat {kb / 'console.txt'}\n")
    exe.chmod(0o755)
    return exe


def boot(tmp_path: Path, name: str, console: list[str], kunit_dir: Path, quiet) -> Results:
    """The analysed boot of a fake kernel, as mutants.Runner gets it."""
    from tgtsim import run
    from tgtsim.paths import Paths
    from tgtsim.uml import BootOptions
    binary = fake_kernel(tmp_path, name, console)
    run_dir = tmp_path / name / "run"
    run_dir.mkdir()
    boot_fn = run.scratch_boot(Paths.make(tmp_path), BootOptions(), quiet)
    return boot_fn(binary, run_dir, kunit_dir)


def without(lines: list[str], first: str, last: str) -> list[str]:
    """`lines` without the block from the line starting with `first` to the
    line containing `last` (the port's run: the same, without the report)."""
    i = next(n for n, ln in enumerate(lines) if ln.startswith(first))
    j = next(n for n, ln in enumerate(lines) if last in ln and n > i)
    return lines[:i] + lines[j:]


def test_a_kmemleak_report_alone_catches_the_mutant(tmp_path: Path, kunit_dir: Path,
                                                    quiet) -> None:
    """A release that keeps what it should free: every case passes, the
    end-of-run scan (a passing case too) prints the leak."""
    from conftest import recorded
    leaky = recorded("kmemleak.log")
    port = without(leaky, "kmemleak: 3 new suspected memory leaks",
                   "tgt_kmemleak_scan_after_all_suites: kmemleak:")
    base = boot(tmp_path, "port", port, kunit_dir, quiet)
    mutant = boot(tmp_path, "mutant", leaky, kunit_dir, quiet)
    assert base.closing_line() == "20 passed, 0 failed, 0 skipped"
    assert mutant.passed == 20 and mutants.caught(base, mutant) == {}
    o = mutants.verdict("20-keep-reserve", "Break: the release keeps it.", base, mutant)
    assert o.status == mutants.KILLED
    assert o.reports == ["kmemleak: unreferenced object allocated by "
                         "tgt_tags_blocking_get_woken_by_put"]
    text = mutants.render(base, [o], mutants.columns(base))
    assert "| mutant | tgt_cmd_tags | tgt_kmemleak | sanitizers | verdict |" in text
    assert "| 20-keep-reserve | - | - | **kmemleak** | killed |" in text
    assert "  - sanitizer report `kmemleak: unreferenced object allocated by " \
           "tgt_tags_blocking_get_woken_by_put`" in text
    # a report the port has too catches nothing
    assert mutants.verdict("x", "d", mutant, mutant).status == mutants.SURVIVED


ATOMIC_KTAP = ["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: sim_lld",
               "    1..1", "        KTAP version 1", "        # Subtest: sim_test_completion",
               "        ok 1 task"]
ATOMIC_END = ["        ok 2 softirq", "    ok 1 sim_test_completion", "ok 1 sim_lld"]


def test_an_atomic_sleep_report_alone_catches_the_mutant(tmp_path: Path, kunit_dir: Path,
                                                         quiet) -> None:
    """A release run inline with interrupts disabled: the atomic-sleep
    check (and lockdep) report it, the cases pass."""
    from conftest import recorded
    rec = recorded("atomic_sleep.log")
    report_lines = rec[rec.index("scsi host1: sim_lld") + 1:rec.index("        ok 3 softirq")]
    base = boot(tmp_path, "port", ATOMIC_KTAP + ATOMIC_END, kunit_dir, quiet)
    mutant = boot(tmp_path, "mutant", ATOMIC_KTAP + report_lines + ATOMIC_END, kunit_dir, quiet)
    assert base.crash is None and base.failed == 0 and mutant.crash is None
    o = mutants.verdict("21-release-inline", "Break: inline release.", base, mutant)
    assert o.status == mutants.KILLED and o.caught == {}
    assert o.reports == [
        "lockdep: inconsistent lock state at __kmalloc_noprof",
        "atomic-sleep: sleeping function called from invalid context at "
        "include/linux/sched/mm.h:321, in scsi_tgt_run"]
    text = mutants.render(base, [o], mutants.columns(base))
    assert "| 21-release-inline | - | **atomic-sleep, lockdep** | killed |" in text


def test_a_run_the_tool_failed_catches_nothing() -> None:
    broken = res(crash="selftests build failed")
    assert broken.crash is not None
    broken.crash.where = "selftests-build"
    o = mutants.verdict("05", "d", BASE, broken)
    assert o.status == mutants.TOOL_FAILED and o.caught == {}
    assert "  - TOOL FAILURE" in mutants.render(BASE, [o], ["tags"])


def test_a_profile_line_makes_a_mutant_run_with_that_profile(tmp_path: Path) -> None:
    (tmp_path / "01-a.patch").write_text("Contract: a\n\ndiff --git a/x b/x\n")
    (tmp_path / "02-leak.patch").write_text("Contract: leaks\nProfile: debug\n\ndiff\n")
    (tmp_path / "03-c.patch").write_text("Contract: c\n\ndiff\n")
    found = mutants.discover(tmp_path)
    assert [(m.name, m.profile) for m in found] == [
        ("01-a", ""), ("02-leak", "debug"), ("03-c", "")]
    groups = mutants.by_profile(found, "kunit")
    assert list(groups) == ["kunit", "debug"]
    assert [m.name for m in groups["kunit"]] == ["01-a", "03-c"]
    assert [m.name for m in groups["debug"]] == ["02-leak"]


def test_the_leak_mutant_of_the_repo_runs_with_the_debug_profile() -> None:
    found = {m.name: m for m in mutants.discover(Path(__file__).parents[2] / "kunit" / "mutants")}
    assert found["29-alloc-queue-leaks-tag-set"].profile == "debug"
    assert all(m.profile in ("", "debug") for m in found.values())

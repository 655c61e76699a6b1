"""--seed (every seeded suite, `random`) and --repeat N (the cases that did
not give the same result each time), through the real command line with a
fake `linux` in a scratch project."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import DATA
from test_robustness import error_of, fake_linux, project, tgtsim  # noqa: F401
from tgtsim import repeat
from tgtsim.uml import SEED_MAX

# a kernel that prints pass.log, or, on the runs listed in $FLAKY_RUNS
# (1-based, counted in $FLAKY_COUNTER), the same with one case failing
FLAKY = f"""n=$(( $(cat "$FLAKY_COUNTER" 2>/dev/null || echo 0) + 1 ))
echo $n > "$FLAKY_COUNTER"
case " $FLAKY_RUNS " in
*" $n "*) sed 's/^    ok 2 scsi_lib_test_any_sense/    not ok 2 scsi_lib_test_any_sense/' {DATA / 'pass.log'} ;;
*) cat {DATA / 'pass.log'} ;;
esac
"""


def run_cli(root: Path, kunit_dir: Path, *args: str) -> tuple[int, str, str]:
    p = tgtsim(root, kunit_dir, *args)
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


@pytest.mark.parametrize("args, msg", [
    (["--seed", "x"], "argument --seed: not a number nor `random`: 'x'"),
    (["--seed", "-1"], f"argument --seed: must be in 0..{SEED_MAX}: -1"),
    (["--seed", str(SEED_MAX + 1)], f"must be in 0..{SEED_MAX}"),
    (["--repeat", "0"], "argument --repeat: must be in 1..1000: 0"),
    (["--repeat", "two"], "argument --repeat: not a number: 'two'"),
])
def test_bad_seed_and_repeat(project: Path, kunit_dir: Path, tmp_path: Path, args: list[str],
                             msg: str) -> None:
    for cmd in (["run", "kunit"], ["all", "--no-deps"], ["coverage", "--no-deps"]):
        rc, _out, err = run_cli(project, kunit_dir, "--out", str(tmp_path / "o"), *cmd, *args)
        assert rc == 2 and msg in err and "Traceback" not in err, (cmd, err)
        assert len(err.strip().splitlines()) == 2      # the message and `see --help`


def test_seed_reaches_every_seeded_suite(project: Path, kunit_dir: Path, tmp_path: Path) -> None:
    fake_linux(project, f'echo "args: $*"\ncat {DATA / "pass.log"}\n')
    out = tmp_path / "out"
    rc, _o, err = run_cli(project, kunit_dir, "--out", str(out), "run", "kunit",
                          "--no-selftests", "--seed", "0x10")
    assert rc == 0, err
    data = json.loads((out / "results.json").read_text())
    assert data["seed"] == 16
    assert {"tgt_kunit.seed=16", "sim_lld_kunit.seed=16"} <= set(data["kernel_args"])
    console = (out / "latest/console.log").read_text()
    assert "tgt_kunit.seed=16" in console and "sim_lld_kunit.seed=16" in console


def test_seed_random_is_printed_first_and_recorded(project: Path, kunit_dir: Path,
                                                   tmp_path: Path) -> None:
    fake_linux(project, f"cat {DATA / 'pass.log'}\n")
    seeds = []
    for n in range(2):
        out = tmp_path / f"out{n}"
        rc, _o, err = run_cli(project, kunit_dir, "--out", str(out), "run", "kunit",
                              "--no-selftests", "--seed", "random")
        assert rc == 0, err
        m = re.match(r"^\[[\d:]+\] seed (\d+) \(--seed random; `--seed \1` repeats",
                     err.splitlines()[0])
        assert m, err
        seed = int(m.group(1))
        assert 1 <= seed <= SEED_MAX
        data = json.loads((out / "results.json").read_text())
        assert data["seed"] == seed
        assert f"tgt_kunit.seed={seed}" in data["kernel_args"]
        assert f"sim_lld_kunit.seed={seed}" in data["kernel_args"]
        seeds.append(seed)
    assert seeds[0] != seeds[1]    # a chance of 1 in 4e9 of failing


def test_no_seed_records_none(project: Path, kunit_dir: Path, tmp_path: Path) -> None:
    fake_linux(project, f"cat {DATA / 'pass.log'}\n")
    rc, _o, err = run_cli(project, kunit_dir, "--out", str(tmp_path / "o"), "run", "kunit",
                          "--no-selftests")
    data = json.loads((tmp_path / "o/results.json").read_text())
    assert rc == 0 and "seed" not in data
    assert not any("seed=" in a for a in data["kernel_args"])


def test_repeat_names_the_flaky_case(project: Path, kunit_dir: Path, tmp_path: Path,
                                     monkeypatch) -> None:
    monkeypatch.setenv("FLAKY_COUNTER", str(tmp_path / "n"))
    monkeypatch.setenv("FLAKY_RUNS", "2 3")
    fake_linux(project, FLAKY)
    out = tmp_path / "out"
    rc, stdout, err = run_cli(project, kunit_dir, "--out", str(out), "run", "kunit",
                              "--no-selftests", "--repeat", "4")
    assert rc == 1, err
    assert len(list((out / "runs").iterdir())) == 4
    (d,) = (out / "repeat").iterdir()
    text = (d / "stability.txt").read_text()
    assert stdout.endswith(text)
    assert "repeat: 4 runs of the kunit profile, 5 cases" in text
    assert ("  scsi_lib_test.scsi_lib_test_any_sense: failed in runs 2,3; passed in runs 1,4"
            in text.splitlines())
    assert "UNSTABLE cases (1):" in text
    data = json.loads((d / "stability.json").read_text())
    assert list(data["unstable"]) == ["scsi_lib_test.scsi_lib_test_any_sense"]
    assert data["exit_code"] == 1 and len(data["runs"]) == 4


def test_repeat_stable(project: Path, kunit_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FLAKY_COUNTER", str(tmp_path / "n"))
    monkeypatch.setenv("FLAKY_RUNS", "")
    fake_linux(project, FLAKY)
    out = tmp_path / "out"
    rc, stdout, err = run_cli(project, kunit_dir, "--out", str(out), "run", "kunit",
                              "--no-selftests", "--repeat", "3")
    assert rc == 0, err
    assert "stable: every case gave the same result in all 3 runs" in stdout


def test_repeat_always_failing_case_is_stable_but_fails(project: Path, kunit_dir: Path,
                                                        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FLAKY_COUNTER", str(tmp_path / "n"))
    monkeypatch.setenv("FLAKY_RUNS", "1 2")
    fake_linux(project, FLAKY)
    rc, stdout, _err = run_cli(project, kunit_dir, "--out", str(tmp_path / "o"), "run", "kunit",
                               "--no-selftests", "--repeat", "2")
    assert rc == 1 and "stable: every case gave the same result in all 2 runs" in stdout


def test_compare_coverage_lines() -> None:
    """With the coverage profile, a patch line executed in some runs only is
    unstable too (the gate would be flaky)."""
    def run(i: int, unc: list[str], part: list[str]) -> repeat.RunSummary:
        return repeat.RunSummary(run_id=f"r{i}", exit_code=0, cases={"s.c": "passed"},
                                 uncovered=unc, partial=part)
    st = repeat.compare("coverage", [run(1, ["a.c:3"], []), run(2, ["a.c:3", "a.c:9"], ["b.c:4"]),
                                     run(3, ["a.c:3"], [])])
    assert st.unstable == {} and st.unstable_lines == {"a.c:9": [2]}
    assert st.unstable_branches == {"b.c:4": [2]} and st.exit_code() == 1
    text = repeat.text(st)
    assert "  a.c:9: not executed in runs 2" in text
    assert "  b.c:4: a branch not taken in runs 2" in text
    st = repeat.compare("coverage", [run(1, ["a.c:3"], []), run(2, ["a.c:3"], [])])
    assert st.exit_code() == 0
    assert "stable: the same patch lines and branches executed in all 2 runs" in repeat.text(st)


def test_compare_crash_in_some_runs() -> None:
    """A run that crashed (a case list cut short or, as seen with the coverage
    profile, a kernel that aborted at exit after all its cases) is unstable
    even when its cases match the other runs'."""
    ok = repeat.RunSummary(run_id="a", exit_code=1, cases={"s.c": "passed"})
    bad = repeat.RunSummary(run_id="b", exit_code=3, cases={"s.c": "passed"},
                            crash="kernel exited with status -6", crash_where="kernel")
    st = repeat.compare("coverage", [ok, bad, ok])
    assert st.unstable == {"tgtsim.kernel": {"crashed": [2], "no crash": [1, 3]}}
    assert st.exit_code() == 1
    assert "  tgtsim.kernel: crashed in runs 2; no crash in runs 1,3" in repeat.text(st)
    assert repeat.compare("coverage", [bad, bad]).unstable == {}

"""Diff coverage (`tgtsim coverage --diff-base REF`, `--diff-base-tgtsim REF`)
end to end on a tiny tree: the user's tree (KERNEL_SRC) has two commits
after v6.12, one adding a function the 'suites' call, one adding a function
they never call; the series and the overlay go on top; a program built with
gcc --coverage plays the kernel. The real gcov, lcov and diff-cover make
the reports. (test_diffcov_kernel.py does the same with the real kernel.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import DATA, git, latest_run, make_tree_files, patch_for
from test_coverage import SCSI_C, thresholds
from tgtsim import cli, coverage, diffcov, prepare, run
from tgtsim.errors import UsageError
from tgtsim.paths import Paths
from tgtsim.uml import BootOptions

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("gcc", "gcov", "lcov", "genhtml")),
    reason="needs gcc and lcov (tgtsim deps --install)")

CALLED = """
int user_called(int x)
{
	if (x > 0)
		return x + 1;
	return 0;
}
"""
NEVER = """
int user_never(int y)
{
	if (y > 2)
		return y * 3;
	return 0;
}
"""
SIM_C = """int sim;

int sim_called(int x)
{
	return x * 2;
}

int sim_never(int x)
{
	return x / 2;
}
"""
MAIN_C = """int tgt_check(int x);
int user_called(int x);
int sim_called(int x);
int main(void)
{
	return tgt_check(3) + user_called(1) + user_called(-1) + sim_called(2) - 6;
}
"""
# user.c lines of user_never(): its body, braces and declaration
NEVER_LINES = [10, 12, 13, 14]


def user_file(*parts: str) -> str:
    return "int user_base;\n" + "".join(parts)


@pytest.fixture
def tree(project: Paths, fake_git_kernel: Path, quiet, tmp_path: Path, kunit_dir: Path,
         monkeypatch) -> Paths:
    """Prepared from KERNEL_SRC = v6.12 + two commits, built and 'booted'."""
    monkeypatch.setenv("TGTSIM_KUNIT_DIR", str(kunit_dir))
    repo = fake_git_kernel
    (repo / "drivers/scsi/user.c").write_text(user_file())
    git(repo, "add", "-A", "-f")
    git(repo, "commit", "-qm", "user: base file")
    git(repo, "tag", "user-base")
    (repo / "drivers/scsi/user.c").write_text(user_file(CALLED))
    git(repo, "commit", "-qam", "user: a function the suites call")
    (repo / "drivers/scsi/user.c").write_text(user_file(CALLED, NEVER))
    (repo / "drivers/scsi/Kconfig").write_text('menu "SCSI"\n# changed\nendmenu\n')
    git(repo, "commit", "-qam", "user: a function nothing calls")
    (project.profiles / "coverage.config").write_text("CONFIG_GCOV=y\n")
    # the series' own lines are all excluded here: the diff's uncovered
    # lines are then the user's alone
    thresholds(project, 0, 0, "exclude drivers/scsi/scsi.c:/.*/  series lines, not the user's\n")

    def edit(r: Path) -> None:
        (r / "drivers/scsi/scsi.c").write_text(SCSI_C)

    text = patch_for(tmp_path, make_tree_files, edit, "scsi: tgt_check", "p1")
    (project.patches / "0001-tgt-check.patch").write_text(text)
    project.series.write_text("0001-tgt-check.patch\n")
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "tgtsim")
    (project.root / "sim_lld/sim_lld.c").write_text(SIM_C)    # uncommitted, as in a checkout
    prepare.prepare(project, quiet, str(repo), None)
    build_fake(project)
    return project


def build_fake(paths: Paths) -> None:
    kb = paths.kbuild("coverage")
    (kb / "drivers/scsi/sim_lld").mkdir(parents=True, exist_ok=True)
    (kb / "main.c").write_text(MAIN_C)
    objs = []
    for src in ("drivers/scsi/scsi.c", "drivers/scsi/user.c", "drivers/scsi/sim_lld/sim_lld.c"):
        obj = src[:-2] + ".o"
        subprocess.run(["gcc", "--coverage", "-O0", "-c", f"../../linux/{src}", "-o", obj],
                       cwd=kb, check=True)
        objs.append(obj)
    subprocess.run(["gcc", "-O0", "-c", "main.c", "-o", "main.o"], cwd=kb, check=True)
    subprocess.run(["gcc", "--coverage", "-o", "prog", *objs, "main.o"], cwd=kb, check=True)
    exe = kb / "linux"
    exe.write_text(f"#!/bin/sh\n./prog\ncat {DATA / 'pass.log'}\n")
    exe.chmod(0o755)


def run_diff(paths: Paths, quiet, **kw) -> int:
    opts = coverage.Options(jobs=1, kernel_src=kw.pop("kernel_src", None), **kw)
    cov = coverage.for_profile(paths, "coverage", quiet, opts)
    assert cov is not None
    cov.check_scope()
    cov.reset()
    return run.run_profile(paths, "coverage", BootOptions(), quiet, cov).exit_code()


def src_of(paths: Paths) -> str:
    return str(paths.root.parent / "kernel")


def test_uncovered_are_the_never_called_function(tree: Paths, quiet) -> None:
    assert run_diff(tree, quiet, diff_base="v6.12", kernel_src=src_of(tree)) == 0
    d = latest_run(tree.out)
    data = json.loads((d / "results.json").read_text())
    (entry,) = data["coverage"]["diff"]
    assert entry["kind"] == "kernel" and entry["ref"] == "v6.12"
    assert entry["uncovered_lines"] == [f"drivers/scsi/user.c:{n}" for n in NEVER_LINES]
    assert entry["unmeasured"] == {"drivers/scsi/Kconfig": "not C source"}
    by_file = {f["path"]: f for f in entry["files"]}
    assert by_file["drivers/scsi/user.c"]["lines"] == 8          # both functions
    assert by_file["drivers/scsi/user.c"]["lines_hit"] == 4
    assert "drivers/scsi/scsi.c" not in by_file                   # all excluded
    text = (d / "coverage/diff.txt").read_text()
    assert "  drivers/scsi/user.c:13: return y * 3;" in text
    assert "changed branches:" in text and "drivers/scsi/Kconfig: not C source" in text
    # diff-cover's JSON and Markdown read the Cobertura file: the same lines
    js = json.loads((d / "coverage/diff.json").read_text())
    assert js["src_stats"]["drivers/scsi/user.c"]["violation_lines"] == NEVER_LINES
    md = (d / "coverage/diff.md").read_text()
    assert md.startswith("**tgtsim diff coverage** (kernel tree: v6.12")
    assert "drivers/scsi/user.c:13: return y * 3;" in md
    assert "Missing lines 10,12-14" in md and len(md.splitlines()) < 40
    # Cobertura of the changed files only, paths of the user's tree
    xml = ET.parse(d / "coverage/diff-cobertura.xml").getroot()
    assert [c.get("filename") for c in xml.iter("class")] == ["drivers/scsi/user.c"]
    assert xml.find("sources/source").text == src_of(tree)   # type: ignore[union-attr]
    summary = (d / "summary.txt").read_text()
    assert "COVERAGE diff (kernel since v6.12) lines 50.0% (4/8), branches 50.0% (2/4)" \
        in summary
    assert summary.splitlines()[-1] == "7 passed, 0 failed, 0 skipped"


def test_fail_under_100_fails_naming_the_lines(tree: Paths, quiet) -> None:
    assert run_diff(tree, quiet, diff_base="v6.12", kernel_src=src_of(tree),
                    fail_under=100.0) == 1
    d = latest_run(tree.out)
    summary = (d / "summary.txt").read_text().splitlines()
    fail = [ln for ln in summary if ln.startswith("    FAIL diff-lines: ")]
    assert fail == ["    FAIL diff-lines: changed lines 50.0% (4/8), --fail-under 100%; "
                    "uncovered: drivers/scsi/user.c:10, drivers/scsi/user.c:12, "
                    "drivers/scsi/user.c:13, drivers/scsi/user.c:14"]
    assert summary[-1] == "7 passed, 2 failed, 0 skipped"   # diff-lines and diff-branches
    assert run_diff(tree, quiet, diff_base="v6.12", kernel_src=src_of(tree),
                    fail_under=50.0) == 0


def test_diff_since_the_first_commit(tree: Paths, quiet) -> None:
    """REF = the commit before the never-called function: only it is left."""
    base = git(Path(src_of(tree)), "rev-parse", "HEAD~1")
    assert run_diff(tree, quiet, diff_base=base, kernel_src=src_of(tree)) == 0
    (entry,) = json.loads((latest_run(tree.out) / "results.json").read_text())[
        "coverage"]["diff"]
    assert entry["lines"] == {"hit": 0, "total": 4, "percent": 0.0}


def test_tgtsim_diff(tree: Paths, quiet) -> None:
    """sim_lld/ of this checkout against its HEAD (uncommitted changes)."""
    assert run_diff(tree, quiet, diff_base_tgtsim="HEAD", fail_under=100.0) == 1
    d = latest_run(tree.out)
    (entry,) = json.loads((d / "results.json").read_text())["coverage"]["diff"]
    assert entry["kind"] == "tgtsim"
    assert entry["uncovered_lines"] == ["sim_lld/sim_lld.c:8", "sim_lld/sim_lld.c:10"]
    xml = ET.parse(d / "coverage/diff-tgtsim-cobertura.xml").getroot()
    assert [c.get("filename") for c in xml.iter("class")] == ["sim_lld/sim_lld.c"]
    js = json.loads((d / "coverage/diff-tgtsim.json").read_text())
    assert list(js["src_stats"]) == ["sim_lld/sim_lld.c"]
    assert "sim_lld/sim_lld&#46;c" in (d / "coverage/diff-tgtsim.md").read_text()
    summary = (d / "summary.txt").read_text()
    assert "FAIL diff-tgtsim-lines: changed lines 50.0% (2/4)" in summary


def test_bad_ref_is_a_usage_error(tree: Paths, quiet) -> None:
    with pytest.raises(UsageError, match=r"--diff-base nope: no such commit in .*kernel"):
        run_diff(tree, quiet, diff_base="nope", kernel_src=src_of(tree))
    with pytest.raises(UsageError, match=r"--diff-base-tgtsim nope: no such commit"):
        run_diff(tree, quiet, diff_base_tgtsim="nope")
    with pytest.raises(UsageError, match="not a revision"):
        run_diff(tree, quiet, diff_base="--all", kernel_src=src_of(tree))


def test_cli_tracefile_diff(tree: Paths, quiet, capsys, monkeypatch) -> None:
    """The gate on a recorded tracefile, no build: exit 1 naming the lines,
    a bad REF one message and exit 2, --fail-under alone exit 2."""
    assert run_diff(tree, quiet) == 0
    info = latest_run(tree.out) / "coverage/coverage.info"
    monkeypatch.setenv("TGTSIM_ROOT", str(tree.root))
    monkeypatch.setenv("KERNEL_SRC", src_of(tree))
    base = ["--build-dir", str(tree.build), "coverage", "--tracefile", str(info)]
    capsys.readouterr()
    assert cli.main([*base, "--diff-base", "v6.12", "--fail-under", "100"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[-2].startswith("FAIL tgtsim.coverage diff-lines: changed lines "
                                           "50.0% (4/8), --fail-under 100%; uncovered: "
                                           "drivers/scsi/user.c:10")
    assert (info.parent / "diff.md").is_file()
    assert cli.main([*base, "--diff-base", "v6.12", "--fail-under", "50"]) == 0
    for args, msg in ((["--diff-base", "no/such/ref"], "--diff-base no/such/ref: no such commit"),
                      (["--fail-under", "90"], "--fail-under needs --diff-base")):
        capsys.readouterr()
        assert cli.main([*base, *args]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # argparse: exit 2 and its message
    assert cli.main([*base, "--diff-base", "v6.12", "--fail-under", "101"]) == 2
    assert "must be in 0..100" in capsys.readouterr().err


def test_unmeasured_reasons() -> None:
    from tgtsim import lcovinfo
    ch = diffcov.Changes("kernel", "r", "b", "h", {"a/x.c": {1: ""}, "lib/y.c": {1: ""},
                                                    "a/z.h": {1: ""}, "a/Makefile": {1: ""}},
                         Path("/t"))
    data = {"a/x.c": lcovinfo.FileCoverage(lines={1: 1})}
    assert diffcov.unmeasured(ch, data, ["a/"]) == {
        "a/Makefile": "not C source", "a/z.h": "no executable line (no coverage data)",
        "lib/y.c": "outside the instrumented scope (add it to coverage/scope)"}

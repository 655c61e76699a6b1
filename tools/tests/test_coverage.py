"""`tgtsim coverage` end to end on a tiny tree: a patch adds C code to
drivers/scsi/scsi.c, a small program built with gcc --coverage plays the
kernel (it writes its .gcda at exit, as UML does) and prints a KTAP log; the
real gcov, lcov and genhtml make the reports."""

import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import DATA, gone, latest_run
from conftest import make_tree_files, patch_for
from tgtsim import cobertura, coverage, prepare, report, run
from tgtsim.errors import Status, UsageError
from tgtsim.results import FAILED, Case
from tgtsim.paths import Paths
from tgtsim.uml import BootOptions

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("gcc", "gcov", "lcov", "genhtml")),
    reason="needs gcc and lcov (tgtsim deps --install)")

SCSI_C = """int a;
int b;
int c;

int tgt_check(int x)
{
	if (x > 10)
		return 1;
	return 0;
}

int tgt_unused(int y)
{
	return y * 2;
}
"""
MAIN_C = """#include <stdlib.h>
int tgt_check(int x);
int main(int argc, char **argv)
{
	return tgt_check(argc > 1 ? atoi(argv[1]) : 3);
}
"""


def thresholds(paths: Paths, lines: float, branches: float, extra: str = "") -> None:
    (paths.root / "coverage").mkdir(exist_ok=True)
    (paths.root / "coverage/thresholds").write_text(
        f"patch-lines {lines}\npatch-branches {branches}\n{extra}")


def gcov_project(project: Paths, tmp_path: Path, quiet) -> Path:
    """Prepare `project` with a series that changes scsi.c and compile a gcov
    program from it in kbuild/coverage; returns that build directory."""
    (project.profiles / "coverage.config").write_text("CONFIG_GCOV=y\n")
    thresholds(project, 0, 0)

    def edit(repo: Path) -> None:
        (repo / "drivers/scsi/scsi.c").write_text(SCSI_C)

    text = patch_for(tmp_path, make_tree_files, edit, "scsi: tgt_check", "p1")
    (project.patches / "0001-tgt-check.patch").write_text(text)
    project.series.write_text("0001-tgt-check.patch\n")
    prepare.prepare(project, quiet)
    kb = project.kbuild("coverage")
    (kb / "drivers/scsi").mkdir(parents=True)
    (kb / "main.c").write_text(MAIN_C)
    # compiled in kbuild with a relative source path, like kbuild with ccache
    for cmd in (["gcc", "--coverage", "-O0", "-c", "../../linux/drivers/scsi/scsi.c",
                 "-o", "drivers/scsi/scsi.o"],
                ["gcc", "-O0", "-c", "main.c", "-o", "main.o"],
                ["gcc", "--coverage", "-o", "prog", "drivers/scsi/scsi.o", "main.o"]):
        subprocess.run(cmd, cwd=kb, check=True)
    return kb


@pytest.fixture
def cov(project: Paths, quiet, kunit_dir: Path, monkeypatch, tmp_path: Path) -> Paths:
    """A prepared project whose kbuild/coverage 'linux' runs a gcov program."""
    monkeypatch.setenv("TGTSIM_KUNIT_DIR", str(kunit_dir))
    gcov_project(project, tmp_path, quiet)
    set_kernel(project, "./prog\n")
    return project


def set_kernel(paths: Paths, body: str) -> None:
    exe = paths.kbuild("coverage") / "linux"
    exe.write_text(f"#!/bin/sh\n{body}cat {DATA / 'pass.log'}\n")
    exe.chmod(0o755)


def run_cov(paths: Paths, quiet, gate: bool = True) -> int:
    cov = coverage.for_profile(paths, "coverage", quiet, coverage.Options(gate=gate, jobs=1))
    assert cov is not None
    cov.reset()
    return run.run_profile(paths, "coverage", BootOptions(), quiet, cov).exit_code()


def test_gate_fails_naming_the_line(cov: Paths, quiet, capsys) -> None:
    thresholds(cov, 100, 100)
    assert run_cov(cov, quiet) == 1
    out = capsys.readouterr().out
    d = latest_run(cov.out)
    summary = (d / "summary.txt").read_text().splitlines()
    assert "FAIL tgtsim.coverage (2 cases, 2 failed)" in summary
    fail = [ln for ln in summary if ln.startswith("    FAIL patch-lines: ")]
    assert fail == ["    FAIL patch-lines: patch lines 50.0% (3/6), threshold 100.0%; "
                    "uncovered: drivers/scsi/scsi.c:8, drivers/scsi/scsi.c:12, "
                    "drivers/scsi/scsi.c:14"]
    assert any(ln.startswith("    FAIL patch-branches: patch branches 50.0% (1/2)")
               and "drivers/scsi/scsi.c:7 (1/2)" in ln for ln in summary)
    assert summary[-1] == "5 passed, 2 failed, 0 skipped"   # the closing line stays last
    assert any(ln.startswith("COVERAGE patch lines 50.0% (3/6, threshold 100.0%), "
                             "patch branches 50.0% (1/2, threshold 100.0%)  gate FAIL")
               for ln in summary)
    assert "    drivers/scsi/scsi.c" in "\n".join(summary)
    assert "uncovered: 8,12,14" in "\n".join(summary)
    assert out.splitlines()[-1] == "5 passed, 2 failed, 0 skipped"
    patch = (d / "coverage/patch.txt").read_text()
    assert "  drivers/scsi/scsi.c:8: return 1;" in patch
    assert "  drivers/scsi/scsi.c:7: 1/2 taken: if (x > 10)" in patch
    # JUnit: the gate is a failing testcase with the lines in its message
    junit = ET.parse(d / "junit.xml").getroot()
    tc = [t for t in junit.iter("testcase") if t.get("classname") == "tgtsim.coverage"]
    assert [t.get("name") for t in tc] == ["patch-lines", "patch-branches"]
    failure = tc[0].find("failure")
    assert failure is not None and "drivers/scsi/scsi.c:8" in failure.get("message", "")
    data = json.loads((d / "results.json").read_text())
    assert data["coverage"]["lines"] == {"hit": 3, "total": 6, "percent": 50.0,
                                         "threshold": 100.0, "ok": False}
    assert data["coverage"]["uncovered_lines"] == ["drivers/scsi/scsi.c:8",
                                                   "drivers/scsi/scsi.c:12",
                                                   "drivers/scsi/scsi.c:14"]
    assert data["exit_code"] == 1


def test_reports_and_passing_gate(cov: Paths, quiet) -> None:
    thresholds(cov, 50, 50)
    assert run_cov(cov, quiet) == 0
    d = latest_run(cov.out)
    assert (d / "coverage/html/index.html").is_file()
    assert (d / "coverage/html/drivers/scsi/scsi.c.gcov.html").is_file()
    html = (d / "coverage/html/index.html").read_text()
    assert "Branches" in html          # branch coverage on
    xml = d / "coverage/cobertura.xml"
    assert cobertura.check(xml) == []
    assert cobertura.filenames(xml) == ["drivers/scsi/scsi.c"]   # relative to the tree
    root = ET.parse(xml).getroot()
    lines = {int(ln.get("number", "")): int(ln.get("hits", "")) for ln in root.iter("line")}
    assert lines[8] == 0 and lines[9] == 1
    assert "BRDA:7," in (d / "coverage/coverage.info").read_text()
    summary = (d / "summary.txt").read_text()
    assert "PASS tgtsim.coverage (2 cases)" in summary and "gate PASS" in summary
    assert summary.splitlines()[-1] == "7 passed, 0 failed, 0 skipped"
    assert "COVERAGE sim_lld (driver, not its tests) lines" in summary
    assert (d / "coverage/sim_lld.txt").is_file()
    # `tgtsim report` re-parses the console and keeps the coverage parts
    (d / "summary.txt").unlink()
    assert run.reanalyze(cov, d, quiet).exit_code() == 0
    assert (d / "summary.txt").read_text() == summary


def test_counters_zeroed_before_each_run(cov: Paths, quiet) -> None:
    thresholds(cov, 0, 0)
    set_kernel(cov, "./prog 20 || true\n")       # covers line 8
    assert run_cov(cov, quiet) == 0
    first = json.loads((latest_run(cov.out) / "results.json").read_text())
    assert "drivers/scsi/scsi.c:8" not in first["coverage"]["uncovered_lines"]
    set_kernel(cov, "./prog\n")
    assert run_cov(cov, quiet) == 0
    second = json.loads((latest_run(cov.out) / "results.json").read_text())
    assert "drivers/scsi/scsi.c:8" in second["coverage"]["uncovered_lines"]


def test_two_boots_are_both_captured(cov: Paths, quiet) -> None:
    """The capture runs after all boots of the run: counters of a second
    program run in the same 'boot' (as a selftest boot would add) count."""
    set_kernel(cov, "./prog\n./prog 20 || true\n")
    assert run_cov(cov, quiet) == 0
    data = json.loads((latest_run(cov.out) / "results.json").read_text())
    assert data["coverage"]["lines"]["hit"] == 4


def test_no_gcda_is_infra_error(cov: Paths, quiet, capsys) -> None:
    set_kernel(cov, "")
    assert run_cov(cov, quiet) == 3
    d = latest_run(cov.out)
    summary = (d / "summary.txt").read_text()
    assert "CRASH coverage failed: no .gcda files" in summary
    assert "COVERAGE not available" in summary
    assert report.load(d)[0].status == Status.TOOL_FAILURE
    assert "coverage/coverage.log ---" in capsys.readouterr().err


def wrap_tools(tmp_path: Path, monkeypatch, **bodies: str) -> Path:
    """The tools named (gcov, genhtml, ...) on PATH are scripts running a
    shell snippet before or instead of the real tool ($REAL)."""
    bin_dir = tmp_path / "wrapped"
    bin_dir.mkdir()
    for name, body in bodies.items():
        exe = bin_dir / name
        exe.write_text(f"#!/bin/sh\nREAL={shutil.which(name)}\n{body}\n")
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return bin_dir


def test_genhtml_runs_beside_the_cobertura_file(cov: Paths, quiet, tmp_path: Path,
                                                monkeypatch) -> None:
    """genhtml waits until cobertura.xml is written: it would time out if
    the Cobertura file were written only after genhtml."""
    wrap_tools(tmp_path, monkeypatch, genhtml="""out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
i=0; while [ ! -e "$(dirname "$out")/cobertura.xml" ]; do
  i=$((i + 1)); [ $i -gt 300 ] && { echo "cobertura.xml not written meanwhile" >&2; exit 1; }
  sleep 0.1
done
exec $REAL "$@"
""")
    thresholds(cov, 50, 50)
    assert run_cov(cov, quiet) == 0
    d = latest_run(cov.out)
    assert cobertura.filenames(d / "coverage/cobertura.xml") == ["drivers/scsi/scsi.c"]
    assert cobertura.check(d / "coverage/cobertura.xml") == []
    log = (d / "coverage/coverage.log").read_text()
    # one log: the capture (gcov), lcov -e and genhtml
    assert log.count("$ ") == 3 and "gcov -b -c -x --json-format" in log
    assert "genhtml" in log and " -e " in log
    assert (d / "coverage/html/index.html").is_file()


def test_cobertura_has_the_counts_of_the_tracefile(cov: Paths, quiet) -> None:
    thresholds(cov, 0, 0)
    assert run_cov(cov, quiet) == 0
    d = latest_run(cov.out) / "coverage"
    root = ET.parse(d / "cobertura.xml").getroot()
    (cls,) = root.iter("class")
    lines = {int(ln.get("number", "")): int(ln.get("hits", "")) for ln in cls.iter("line")}
    from tgtsim import lcovinfo
    scoped = lcovinfo.relative_to_tree(lcovinfo.load(d / "scope.info"), cov.linux)
    assert lines == scoped["drivers/scsi/scsi.c"].lines
    assert lines[7] == 1 and lines[12] == 0      # tgt_check ran once, tgt_unused never
    (br,) = [ln for ln in cls.iter("line") if ln.get("branch") == "true"]
    assert (br.get("number"), br.get("condition-coverage")) == ("7", "50% (1/2)")
    assert (root.get("lines-valid"), root.get("branches-valid")) == (
        str(len(lines)), "2")


def test_failed_capture_is_reported(cov: Paths, quiet, tmp_path: Path, monkeypatch) -> None:
    wrap_tools(tmp_path, monkeypatch,
               gcov='echo "gcov: scsi.gcno: cannot open notes file" >&2; exit 1')
    assert run_cov(cov, quiet) == 3
    summary = (latest_run(cov.out) / "summary.txt").read_text()
    assert "CRASH coverage failed: gcov failed: gcov exited with 1" in summary
    log = (latest_run(cov.out) / "coverage/coverage.log").read_text()
    assert "cannot open notes file" in log


def test_failed_genhtml_stops_the_run(cov: Paths, quiet, tmp_path: Path,
                                      monkeypatch) -> None:
    wrap_tools(tmp_path, monkeypatch, genhtml='echo "genhtml: ERROR: no data" >&2; exit 2')
    assert run_cov(cov, quiet) == 3
    d = latest_run(cov.out)
    assert "CRASH coverage failed: genhtml failed (exit 2" in (d / "summary.txt").read_text()


def test_no_gate_reports_only(cov: Paths, quiet) -> None:
    thresholds(cov, 100, 100)
    assert run_cov(cov, quiet, gate=False) == 0
    summary = (latest_run(cov.out) / "summary.txt").read_text()
    assert "tgtsim.coverage" not in summary and "COVERAGE patch lines 50.0%" in summary


def test_bad_thresholds_fail_before_building(cov: Paths, quiet) -> None:
    (cov.root / "coverage/thresholds").write_text("patch-lines 200\npatch-branches 1\n")
    with pytest.raises(UsageError, match="percentage"):
        coverage.for_profile(cov, "coverage", quiet, coverage.Options())
    # only the coverage profile is measured: the others do not read the file
    assert coverage.for_profile(cov, "kunit", quiet, coverage.Options()) is None


def test_scope(tmp_path: Path) -> None:
    paths = Paths.make(tmp_path)
    assert coverage.read_scope(paths) == list(coverage.DEFAULT_SCOPE)
    (tmp_path / "coverage").mkdir()
    (tmp_path / "coverage/scope").write_text("# c\ndrivers/scsi/\nfs/seq_file.c # x\n")
    assert coverage.read_scope(paths) == ["drivers/scsi/", "fs/seq_file.c"]
    plines = {"drivers/scsi/a.c": {1: ""}, "lib/b.c": {1: ""}, "fs/seq_file.c": {1: ""},
              "drivers/scsi/Kconfig": {1: ""}, "include/x.h": {1: ""}, "Makefile": {1: ""}}
    assert coverage.outside_scope(coverage.read_scope(paths), plines) == ["include/x.h",
                                                                         "lib/b.c"]
    assert coverage.outside_scope(["*"], plines) == []
    for bad in ("/abs/", "../up/", "a b", "drivers/*.c", "a;b", "a\\b", "$(x)"):
        (tmp_path / "coverage/scope").write_text(bad + "\n")
        with pytest.raises(UsageError, match="coverage/scope:1"):
            coverage.read_scope(paths)
    (tmp_path / "coverage/scope").write_text("# nothing\n")
    with pytest.raises(UsageError, match="no path listed"):
        coverage.read_scope(paths)


def test_make_options(tmp_path: Path, monkeypatch) -> None:
    paths = Paths.make(tmp_path)
    (tmp_path / "coverage").mkdir()
    (tmp_path / "coverage/scope").write_text("drivers/scsi/\nfs/seq_file.c\nlib/c++/\n")
    monkeypatch.delenv("KCFLAGS", raising=False)
    (opt,) = coverage.make_options(paths)
    assert opt.startswith(f"KCFLAGS=-specs={tmp_path}/build/kbuild/gcov-scope-")
    specs = Path(opt.split("-specs=", 1)[1])
    assert specs.read_text() == ("*cc1_options:\n+ -fprofile-filter-files="
                                 "/drivers/scsi/;/fs/seq_file[.]c;/lib/c[+][+]/\n\n")
    assert coverage.build_options(paths, "coverage") == [opt]
    assert coverage.build_options(paths, "kunit") == []
    monkeypatch.setenv("KCFLAGS", "-Wno-foo")
    assert coverage.make_options(paths) == [f"KCFLAGS=-Wno-foo -specs={specs}"]
    # another scope: another file name, so kbuild sees a new command line
    (tmp_path / "coverage/scope").write_text("drivers/scsi/\n")
    (opt2,) = coverage.make_options(paths)
    assert opt2 != f"KCFLAGS=-Wno-foo -specs={specs}" and specs.is_file()
    (tmp_path / "coverage/scope").write_text("*\n")
    assert coverage.make_options(paths) == []


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_specs_limit_instrumentation(tmp_path: Path) -> None:
    """gcc instruments the files of the scope only."""
    specs = tmp_path / "s.specs"
    specs.write_text(coverage.specs_text(["drivers/scsi/", "lib/one.c"]))
    for rel in ("drivers/scsi/a.c", "block/b.c", "lib/one.c", "lib/onexc.c"):
        src = tmp_path / "linux" / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text("int f(int x)\n{\n\tif (x)\n\t\treturn 1;\n\treturn 0;\n}\n")
        subprocess.run(["gcc", f"-specs={specs}", "-fprofile-arcs", "-ftest-coverage", "-c",
                        str(src), "-o", str(src.with_suffix(".o"))], check=True, cwd=tmp_path)
    def instrumented(rel: str) -> bool:
        nm = subprocess.run(["nm", str(tmp_path / "linux" / rel)], stdout=subprocess.PIPE,
                            text=True, check=True).stdout
        return "__gcov0.f" in nm
    assert instrumented("drivers/scsi/a.o") and instrumented("lib/one.o")
    assert not instrumented("block/b.o") and not instrumented("lib/onexc.o")


def test_check_scope(cov: Paths, tmp_path: Path) -> None:
    """A C file of the series outside coverage/scope is instrumented all the
    same: the scope grows by it, and the run says so."""
    import io
    from tgtsim.progress import Progress
    assert coverage.check_scope(cov) == []    # drivers/scsi/scsi.c is in the default scope
    (cov.root / "coverage/scope").write_text("block/\n")
    err = io.StringIO()
    assert coverage.check_scope(cov, Progress(err, live=False)) == ["drivers/scsi/scsi.c"]
    assert "scope grows by" in err.getvalue() and "drivers/scsi/scsi.c" in err.getvalue()
    assert coverage.effective_scope(cov) == ["block/", "drivers/scsi/scsi.c"]
    (opt,) = coverage.make_options(cov)
    assert "/drivers/scsi/scsi[.]c" in Path(opt.split("-specs=", 1)[1]).read_text()
    # not prepared: the scope file alone
    assert coverage.effective_scope(Paths.make(tmp_path / "none")) == list(
        coverage.DEFAULT_SCOPE)


def test_sim_lld_report() -> None:
    from tgtsim import lcovinfo
    data = {"drivers/scsi/sim_lld/sim_lld.c": lcovinfo.FileCoverage(
                lines={1: 1, 2: 0}, branches={(1, 0, 0): 1, (1, 0, 1): None},
                functions={"f": 1, "g": 0}, function_lines={"f": 1, "g": 2}),
            # same line numbers in another file: the total adds them up
            "drivers/scsi/sim_lld/sim_lld.h": lcovinfo.FileCoverage(lines={1: 0, 2: 3, 3: 1}),
            "drivers/scsi/sim_lld/sim_lld_kunit.c": lcovinfo.FileCoverage(lines={1: 1, 9: 1}),
            "drivers/scsi/scsi.c": lcovinfo.FileCoverage(lines={1: 1})}
    rep = coverage.sim_lld_report(data)
    assert rep["files"]["sim_lld/sim_lld.c"] == {"lines": 2, "lines_hit": 1, "branches": 2,
                                                 "branches_hit": 1, "functions": 2,
                                                 "functions_hit": 1}
    assert sorted(rep["files"]) == ["sim_lld/sim_lld.c", "sim_lld/sim_lld.h",
                                    "sim_lld/sim_lld_kunit.c"]
    assert rep["total"] == {"lines": 5, "lines_hit": 3, "branches": 2, "branches_hit": 1,
                            "functions": 2, "functions_hit": 1}   # without the KUnit suite
    text = coverage.sim_lld_text(rep)
    assert "sim_lld/sim_lld.c            lines  50.0% (1/2)" in text
    assert "sim_lld/sim_lld_kunit.c      lines 100.0% (2/2)" in text and "(tests)" in text
    assert "total (without tests)        lines  60.0% (3/5)" in text


def tgtsim(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    from conftest import ROOT, TOOLS
    import os
    return subprocess.run([str(TOOLS / "bin" / "tgtsim"), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=ROOT,
                          env=dict(os.environ, **(env or {})))


def test_cli_help_has_example() -> None:
    cp = tgtsim("coverage", "--help")
    assert cp.returncode == 0
    assert "example: tgtsim coverage" in cp.stdout and "--tracefile FILE" in cp.stdout
    assert "exit codes:" in cp.stdout


@pytest.mark.parametrize("args,msg", [
    (["coverage", "--bogus"], "unrecognized arguments: --bogus"),
    (["coverage", "--timeout", "0"], "must be > 0"),
    (["coverage", "--tracefile"], "expected one argument"),
])
def test_cli_usage_errors(args: list[str], msg: str) -> None:
    cp = tgtsim(*args)
    assert cp.returncode == 2 and msg in cp.stderr and "Traceback" not in cp.stderr


def test_cli_tracefile_errors(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "coverage").mkdir(parents=True)
    env = {"TGTSIM_ROOT": str(root)}
    cp = tgtsim("--build-dir", str(tmp_path / "b"), "coverage", "--tracefile", "x.info", env=env)
    assert cp.returncode == 2 and "no coverage thresholds file" in cp.stderr
    (root / "coverage/thresholds").write_text("patch-lines 100\n")
    cp = tgtsim("--build-dir", str(tmp_path / "b"), "coverage", "--tracefile", "x.info", env=env)
    assert cp.returncode == 2 and "patch-branches is missing" in cp.stderr
    (root / "coverage/thresholds").write_text("patch-lines 100\npatch-branches 90\n")
    cp = tgtsim("--build-dir", str(tmp_path / "b"), "coverage", "--tracefile",
                str(tmp_path / "none.info"), env=env)
    assert cp.returncode == 2 and "no such tracefile" in cp.stderr
    info = tmp_path / "t.info"
    info.write_text("SF:/x.c\nDA:1,1\nend_of_record\n")
    cp = tgtsim("--build-dir", str(tmp_path / "b"), "coverage", "--tracefile", str(info), env=env)
    assert cp.returncode == 3 and "not prepared" in cp.stderr
    assert "Traceback" not in cp.stderr and cp.stderr.count("\n") == 1


def test_cli_tracefile_gate(cov: Paths, quiet) -> None:
    """--tracefile: the report of a recorded tracefile and the gate, no build."""
    assert run_cov(cov, quiet) == 0
    info = latest_run(cov.out) / "coverage/coverage.info"
    env = {"TGTSIM_ROOT": str(cov.root)}
    thresholds(cov, 50, 50)
    cp = tgtsim("--build-dir", str(cov.build), "coverage", "--tracefile", str(info), env=env)
    assert cp.returncode == 0, cp.stderr
    assert "patch lines:     50.0% (3/6)" in cp.stdout and "gate: PASS" in cp.stdout
    thresholds(cov, 60, 50)
    cp = tgtsim("--build-dir", str(cov.build), "coverage", "--tracefile", str(info), env=env)
    assert cp.returncode == 1
    assert cp.stdout.splitlines()[-1] == (
        "FAIL tgtsim.coverage patch-lines: patch lines 50.0% (3/6), threshold 60.0%; "
        "uncovered: drivers/scsi/scsi.c:8, drivers/scsi/scsi.c:12, drivers/scsi/scsi.c:14")
    cp = tgtsim("--build-dir", str(cov.build), "coverage", "--no-gate", "--tracefile", str(info),
                env=env)
    assert cp.returncode == 0


def test_cli_raise_thresholds(cov: Paths, quiet, monkeypatch) -> None:
    """--raise-thresholds after a passing run raises, never lowers; a failing
    run leaves the file alone."""
    from tgtsim import cli
    thresholds(cov, 10, 60, "# keep\nexclude x.c:1 reason\n")
    rcs = iter([0, 1])

    def fake_job(paths: Paths, opts: run.JobOptions, progress) -> report.Results:
        assert opts.profile == "coverage"
        run_cov(cov, quiet)                     # 50.0 % lines, 50.0 % branches
        res = report.Results()
        if next(rcs):      # a failed case
            res.cases.append(Case(suite="s", name="c", status=FAILED))
        return res

    monkeypatch.setattr(run, "main_job", fake_job)
    args = cli.parse(["coverage", "--raise-thresholds"])
    assert cli.cmd_coverage(cov, args, quiet) == 0
    text = (cov.root / "coverage/thresholds").read_text()
    assert text == "patch-lines 50.0\npatch-branches 60\n# keep\nexclude x.c:1 reason\n"
    (cov.root / "coverage/thresholds").write_text("patch-lines 10\npatch-branches 10\n")
    assert cli.cmd_coverage(cov, args, quiet) == 1
    assert (cov.root / "coverage/thresholds").read_text() == \
        "patch-lines 10\npatch-branches 10\n"

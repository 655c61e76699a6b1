"""The selftest boot: build via make, --list, KTAP of the selftest console
parsed by the tree's kunit_parser, per-test reporting of failures, program
timeouts, hangs and crashes, merged with the KUnit results of the same run.

A fake `linux` prints recorded consoles: the KUnit boot (pass.log) when its
arguments have no init=, the selftest boot (a selftests_*.log) otherwise."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import pytest

from lxml import etree

from conftest import DATA, latest_run
from tgtsim import cli, ktap, report, run, selftest_build, selftests, uml
from tgtsim.paths import Paths
from tgtsim.report import RunInfo
from tgtsim.results import CRASHED, FAILED, PASSED, SKIPPED, Results
from tgtsim.sanitizers import scan
from tgtsim.selftest_build import Program
from tgtsim.uml import BootOptions

PROGRAMS = [Program("001_data", "data both ways", ["data.small.to", "data.small.from",
                                                   "data.big.to"]),
            Program("002_fault", "faults at chunk N", ["fault.fail.to", "fault.busy.to"])]
NAMES = [(f"selftests.{p.name}", t) for p in PROGRAMS for t in p.tests]


def lines(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


def analyse(console: list[str], kunit_dir: Path, hang: str = "", rc: Optional[int] = 0):
    return selftests.analyse(console, ktap.parse(kunit_dir, console), PROGRAMS, hang=hang,
                             returncode=rc)


def analyze(name: str, kunit_dir: Path, hang: str = "", rc: Optional[int] = 0):
    return analyse(lines(name), kunit_dir, hang, rc)


def by_name(cases) -> dict:
    return {(c.suite, c.name): c for c in cases}


# ---------------------------------------------------------------- analyze

def test_passing_boot(kunit_dir: Path) -> None:
    cases, suites, crash = analyze("selftests_pass.log", kunit_dir)
    assert crash is None
    assert suites == ["selftests.001_data", "selftests.002_fault"]
    assert [(c.suite, c.name) for c in cases] == NAMES
    assert all(c.status == PASSED for c in cases)


def test_failing_test_has_its_assertion(kunit_dir: Path) -> None:
    cases, _, crash = analyze("selftests_fail.log", kunit_dir)
    assert crash is None
    c = by_name(cases)
    bad = c[("selftests.001_data", "data.small.from")]
    assert bad.status == FAILED
    assert bad.message == "tgt_selftest.h:860: len 1: err -5 result 0x70000 " \
                          "(Expected 0 (0) == r->err (-5))"
    # its console section: the kernel's complaint is in the log
    assert any("violates offset" in ln for ln in bad.log)
    others = [x for x in cases if x is not bad]
    assert all(x.status == PASSED for x in others) and len(others) == 4


def test_skipped_test_keeps_reason(kunit_dir: Path) -> None:
    cases, _, crash = analyze("selftests_skip.log", kunit_dir)
    c = by_name(cases)[("selftests.002_fault", "fault.fail.to")]
    assert crash is None
    assert (c.status, c.message) == (SKIPPED, "no fault injection on this kernel")


def test_program_skipping_itself_skips_its_tests_with_reason(kunit_dir: Path) -> None:
    cases, _, crash = analyze("selftests_program_skip.log", kunit_dir)
    c = by_name(cases)
    assert crash is None
    for name in ("fault.fail.to", "fault.busy.to"):
        assert (c[("selftests.002_fault", name)].status,
                c[("selftests.002_fault", name)].message) == (
                    SKIPPED, "sim_lld is not loaded (no /sys/kernel/debug/sim_lld)")
    assert c[("selftests.001_data", "data.small.to")].status == PASSED


def test_program_timeout_names_the_test_and_the_rest(kunit_dir: Path) -> None:
    cases, _, crash = analyze("selftests_timeout.log", kunit_dir)
    assert crash is None          # the boot itself went on
    c = by_name(cases)
    assert c[("selftests.001_data", "data.small.to")].status == PASSED
    running = c[("selftests.001_data", "data.small.from")]
    assert running.status == CRASHED
    assert running.message == "did not finish: program timed out after 120 s (killed)"
    assert "--- console tail ---" in running.log
    rest = c[("selftests.001_data", "data.big.to")]
    assert rest.status == CRASHED and rest.message.startswith("not run: program timed out")
    # the next program ran normally
    assert c[("selftests.002_fault", "fault.busy.to")].status == PASSED


def test_program_failing_after_its_tests_is_reported(kunit_dir: Path) -> None:
    cases, _, crash = analyze("selftests_after.log", kunit_dir)
    assert crash is None
    extra = [c for c in cases if c.name == "(program)"]
    assert len(extra) == 1 and extra[0].suite == "selftests.002_fault"
    assert extra[0].status == FAILED


def test_kernel_panic_during_a_test(kunit_dir: Path) -> None:
    cases, _, crash = analyze("selftests_panic.log", kunit_dir, rc=1)
    assert crash is not None and crash.where == "selftests"
    assert crash.reason == ("kernel crash during selftests: "
                            "BUG: kernel NULL pointer dereference, address: 0000000000000008")
    assert crash.tail[-1].startswith("Kernel panic")
    c = by_name(cases)
    assert c[("selftests.001_data", "data.small.to")].status == PASSED
    running = c[("selftests.001_data", "data.small.from")]
    assert running.status == CRASHED
    assert running.message.startswith("did not finish: kernel crash during selftests")
    assert running.log[-1].startswith("Kernel panic")
    for name in (("selftests.001_data", "data.big.to"), ("selftests.002_fault", "fault.fail.to"),
                 ("selftests.002_fault", "fault.busy.to")):
        assert c[name].status == CRASHED
        assert c[name].message.startswith("not run: kernel crash")
        assert "(during selftests.001_data/data.small.from)" in c[name].message
    assert len(cases) == 5


def test_boot_that_ends_early_is_a_crash(kunit_dir: Path) -> None:
    cases, _, crash = analyze("selftests_short.log", kunit_dir)
    assert crash is not None
    assert crash.reason == "selftest boot ended before all selftests reported"
    c = by_name(cases)
    assert c[("selftests.001_data", "data.big.to")].status == PASSED
    assert c[("selftests.002_fault", "fault.fail.to")].message.startswith("not run:")


def test_no_ktap_at_all(kunit_dir: Path) -> None:
    cases, _, crash = analyse(["Kernel panic - not syncing: No working init found."],
                              kunit_dir)
    assert crash is not None and crash.reason.startswith("kernel crash during selftests")
    assert len(cases) == 5 and all(c.status == CRASHED for c in cases)


def test_failure_message_prefers_the_assertion() -> None:
    log = ["    #  RUN           stress.mixed_10000 ...",
           "    # /w/selftests/007_stress.c:74:mixed_10000:seed 1 (kernel argument tgtsim_seed=N)",
           "sim_lld: host0: chunk 1 off 0 len 1 nents 1 violates offset",
           "    # /w/selftests/tgt_selftest.h:860:mixed_10000:Expected 0 (0) == r->err (-5)",
           "    # /w/selftests/tgt_selftest.h:861:mixed_10000:len 1: err -5 result 0x70000",
           "    # mixed_10000: Test terminated by assertion"]
    assert selftests.failure_message(log) == \
        "tgt_selftest.h:860: len 1: err -5 result 0x70000 (Expected 0 (0) == r->err (-5))"
    # a note not right after the assertion is not its note
    assert selftests.failure_message(log[:4] + log[5:]) == \
        "tgt_selftest.h:860: Expected 0 (0) == r->err (-5)"
    assert selftests.failure_message(log[:3]) == \
        "007_stress.c:74: seed 1 (kernel argument tgtsim_seed=N)"


def test_failure_message_without_assertion() -> None:
    assert selftests.failure_message(["    # to: Test terminated by timeout"]) == \
        "Test terminated by timeout"
    assert selftests.failure_message(["random"]) == "failed"


def test_options_args(quiet) -> None:
    o = BootOptions(selftest_timeout=40, selftest_filter="00[12]*", seed=9, kernel_args=["x=1"])
    a = uml.Uml(Path("linux"), quiet).selftest_args(o, Path("/p/selftests/init.sh"),
                                                    Path("/b/selftests"))
    assert a[:8] == uml.SELFTEST_ARGS
    assert "kunit.enable=0" in a and "init=/p/selftests/init.sh" in a
    assert "tgtsim_selftests=/b/selftests" in a and "tgtsim_timeout=40" in a
    assert "tgtsim_filter=00[12]*" in a and "tgtsim_seed=9" in a and a[-1] == "x=1"
    assert BootOptions(selftest_timeout=600).program_timeout == 120


def test_selected_by_glob() -> None:
    assert [p.name for p in selftest_build.selected(PROGRAMS, "002*")] == ["002_fault"]
    assert selftest_build.selected(PROGRAMS, "") == PROGRAMS


# ------------------------------------------------- the run, with a fake linux

FAKE_PROGRAM = """#!/bin/sh
if [ "$1" = --list ]; then printf '%s\\n' {tests}; exit 0; fi
echo "run me inside UML" >&2; exit 2
"""


def fake_selftests(root: Path, programs: list[Program] = PROGRAMS, broken: bool = False) -> None:
    """A selftests/ whose Makefile copies prepared programs into O."""
    d = root / "selftests"
    (d / "bin").mkdir(parents=True, exist_ok=True)
    (d / "init.sh").write_text("#!/bin/sh\n")
    rule = "\t@echo 'prog.c:1:1: error: expected declaration' >&2; exit 1\n" if broken else \
        "\tmkdir -p $(O) && cp bin/* $(O)/\n\ttest -d $(KSRC) || test -n '$(KSRC)'\n"
    (d / "Makefile").write_text("all:\n" + rule)
    (d / "bin" / "tests.list").write_text(
        "".join(f"{p.name}\t{p.description}\n" for p in programs))
    for p in programs:
        exe = d / "bin" / p.name
        exe.write_text(FAKE_PROGRAM.format(tests=" ".join(p.tests)))
        exe.chmod(0o755)


def fake_linux(kb: Path, selftest_body: str, kunit_log: str = "pass.log") -> Path:
    """A 'linux': the KUnit boot prints kunit_log, the selftest boot runs
    selftest_body; every call appends its arguments to args.log."""
    kb.mkdir(parents=True, exist_ok=True)
    exe = kb / "linux"
    exe.write_text("#!/bin/sh\n"
                   f'echo "$*" >> {kb}/args.log\n'
                   'case "$*" in\n'
                   f'*init=*) {selftest_body} ;;\n'
                   f'*) cat {DATA / kunit_log} ;;\n'
                   "esac\n")
    exe.chmod(0o755)
    (kb / "build.log").write_text("CC drivers/scsi/scsi.o\n")
    return exe


@pytest.fixture
def paths(run_paths: Paths) -> Paths:
    run_paths.linux.mkdir(parents=True)
    fake_selftests(run_paths.root)
    return run_paths


def opts(timeout: float = 300.0, filter_glob: str = "", **kw) -> BootOptions:
    """Boot options with the selftests (timeout and filter: theirs)."""
    return BootOptions(selftests=True, selftest_timeout=timeout, selftest_filter=filter_glob,
                       **kw)


def run_profile(paths: Paths, profile: str, o: BootOptions, progress) -> int:
    """The exit code of the run."""
    return run.run_profile(paths, profile, o, progress).exit_code()


def latest(paths: Paths) -> tuple[Results, RunInfo]:
    d = latest_run(paths.out)
    assert d is not None
    return report.load(d)


def test_run_merges_selftests_with_kunit(paths: Paths, quiet, capsys) -> None:
    kb = paths.kbuild("kunit")
    fake_linux(kb, f"cat {DATA / 'selftests_pass.log'}")
    o = BootOptions(seed=5, selftests=True)
    assert run_profile(paths, "kunit", o, quiet) == 0
    res, info = latest(paths)
    assert res.suites == ["scsi_lib_test", "scsi_proto", "selftests.001_data",
                          "selftests.002_fault"]
    assert (res.passed, res.failed, res.skipped) == (10, 0, 0)
    assert info.selftests is not None
    assert [p.name for p in info.selftests.programs] == ["001_data", "002_fault"]
    assert info.selftests.hang == "" and info.selftests.returncode == 0
    d = latest_run(paths.out)
    assert (d / "selftests-console.log").read_text() == (DATA / "selftests_pass.log").read_text()
    assert (d / "selftests.ktap").read_text().startswith("KTAP version 1\n# tgtsim selftests")
    assert (d / "selftests-build.log").is_file()
    junit = etree.parse(str(d / "junit.xml"))
    assert len(junit.xpath('//testcase[starts-with(@classname, "selftests.")]')) == 5
    assert junit.xpath('//testcase[@classname="selftests.002_fault"][@name="fault.busy.to"]')
    summary = (d / "summary.txt").read_text().splitlines()
    assert "PASS selftests.001_data (3 cases)" in summary
    assert summary[-1] == "10 passed, 0 failed, 0 skipped"
    # the two boots run side by side: their order in args.log is not fixed
    args = (kb / "args.log").read_text().splitlines()
    assert len(args) == 2
    kunit_args = next(a for a in args if "kunit.enable=1" in a)
    st_args = next(a for a in args if "kunit.enable=0" in a)
    assert "tgt_kunit.seed=5" in kunit_args
    assert "tgtsim_seed=5" in st_args
    assert f"init={paths.root}/selftests/init.sh" in st_args
    assert f"tgtsim_selftests={paths.build}/selftests" in st_args


def test_the_selftest_boot_runs_beside_the_kunit_boot(paths: Paths, quiet,
                                                     tmp_path: Path) -> None:
    """Each boot waits (at most 30 s) until the other one has started:
    booted one after the other, the first would give up and fail."""
    ku, st = tmp_path / "kunit-up", tmp_path / "selftests-up"

    def wait_for(marker: Path) -> str:
        return (f"i=0; while [ ! -e {marker} ]; do i=$((i + 1)); "
                f"[ $i -gt 300 ] && exit 1; sleep 0.1; done; ")

    kb = paths.kbuild("kunit")
    fake_linux(kb, f"touch {st}; {wait_for(ku)}cat {DATA / 'selftests_pass.log'}")
    exe = kb / "linux"
    exe.write_text(exe.read_text().replace(f"*) cat {DATA / 'pass.log'}",
                                           f"*) touch {ku}; {wait_for(st)}cat {DATA / 'pass.log'}"))
    assert run_profile(paths, "kunit", opts(), quiet) == 0
    res, info = latest(paths)
    assert (res.passed, res.failed) == (10, 0) and res.crash is None
    assert info.selftests is not None and info.selftests.returncode == 0


def test_failing_selftest_exit_1(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'selftests_fail.log'}")
    assert run_profile(paths, "kunit", opts(), quiet) == 1
    res, _ = latest(paths)
    bad = [c for c in res.cases if c.status == FAILED]
    assert [(c.suite, c.name) for c in bad] == [("selftests.001_data", "data.small.from")]
    out = capsys.readouterr().out
    assert "FAIL selftests.001_data (3 cases, 1 failed)" in out
    assert "    FAIL data.small.from: tgt_selftest.h:860: len 1: err -5" in out
    junit = (latest_run(paths.out) / "junit.xml").read_text()
    assert "violates offset" in junit   # the test's console lines are in its failure


def test_hanging_selftest_boot_is_killed_and_reported(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'selftests_head.log'}; sleep 60")
    t0 = time.monotonic()
    rc = run_profile(paths, "kunit", opts(idle_timeout=1.5, timeout=30), quiet)
    assert time.monotonic() - t0 < 20
    assert rc == 3
    res, info = latest(paths)
    # the KUnit results of the same run are kept
    assert [c.status for c in res.cases if not c.suite.startswith("selftests.")] == [PASSED] * 5
    assert res.crash is not None and res.crash.where == "selftests"
    assert res.crash.reason == "selftest boot hang: no console output for 1 s (killed)"
    c = {(x.suite, x.name): x for x in res.cases}
    running = c[("selftests.001_data", "data.small.from")]
    assert running.message == "did not finish: " + res.crash.reason
    assert "#  RUN           data.small.from ..." in "\n".join(running.log)
    assert c[("selftests.002_fault", "fault.busy.to")].message.startswith("not run: selftest boot hang")
    assert info.selftests is not None and info.selftests.hang == res.crash.reason
    err = capsys.readouterr().err
    assert "selftests-console.log" in err and "selftest boot hang" in err


def test_crashing_selftest_boot(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'selftests_panic.log'}; exit 1")
    assert run_profile(paths, "kunit", opts(), quiet) == 3
    res, _ = latest(paths)
    assert res.crash is not None and res.crash.reason.startswith("kernel crash during selftests")
    assert res.passed == 6 and res.count(CRASHED) == 4
    junit = (latest_run(paths.out) / "junit.xml").read_text()
    assert 'name="data.small.from"' in junit and "Kernel panic" in junit


def test_kunit_crash_is_kept_when_selftests_crash_too(paths: Paths, quiet) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'selftests_panic.log'}; exit 1",
               kunit_log="panic.log")
    assert run_profile(paths, "kunit", opts(), quiet) == 3
    res, _ = latest(paths)
    assert res.crash is not None and res.crash.where == "kernel"
    running = [c for c in res.cases if c.name == "data.small.from"][0]
    assert running.status == CRASHED and "kernel crash during selftests" in running.message


def test_build_error_exit_3_keeps_kunit(paths: Paths, quiet, capsys) -> None:
    fake_selftests(paths.root, broken=True)
    kb = paths.kbuild("kunit")
    fake_linux(kb, "echo should not boot")
    assert run_profile(paths, "kunit", opts(), quiet) == 3
    res, info = latest(paths)
    assert res.crash is not None and res.crash.where == "selftests-build"
    assert res.status.name == "TOOL_FAILURE"
    assert res.crash.reason.startswith("selftests build failed (make -C selftests, exit 2)")
    assert any("error: expected declaration" in ln for ln in res.crash.tail)
    assert res.passed == 5           # the KUnit results
    assert len((kb / "args.log").read_text().splitlines()) == 1   # no selftest boot
    assert "error: expected declaration" in \
        (latest_run(paths.out) / "selftests-build.log").read_text()
    err = capsys.readouterr().err
    assert "selftests build failed" in err and "selftests-build.log" in err


def test_filter_runs_only_matching_programs(paths: Paths, quiet) -> None:
    one = "\n".join(ln for ln in lines("selftests_pass.log"))
    # a console with only the second program (init.sh filtered)
    start = one.index("    KTAP version 1\n    # Subtest: 002_fault")
    text = one[:one.index("1..2")] + "1..1\n" + one[start:].replace("ok 2 002_fault",
                                                                   "ok 1 002_fault")
    log = paths.root / "filtered.log"
    log.write_text(text + "\n")
    kb = paths.kbuild("kunit")
    fake_linux(kb, f"cat {log}")
    assert run_profile(paths, "kunit", opts(filter_glob="002*"), quiet) == 0
    res, info = latest(paths)
    assert [s for s in res.suites if s.startswith("selftests.")] == ["selftests.002_fault"]
    assert "tgtsim_filter=002*" in (kb / "args.log").read_text()


def test_no_selftests_option(paths: Paths, quiet) -> None:
    kb = paths.kbuild("kunit")
    fake_linux(kb, "exit 1")
    assert run_profile(paths, "kunit", BootOptions(), quiet) == 0
    res, info = latest(paths)
    assert info.selftests is None and res.passed == 5
    d = latest_run(paths.out)
    assert d is not None and "selftests" not in json.loads((d / "results.json").read_text())


def test_report_reparses_the_selftest_console(paths: Paths, quiet, capsys) -> None:
    fake_linux(paths.kbuild("kunit"), f"cat {DATA / 'selftests_fail.log'}")
    assert run_profile(paths, "kunit", opts(), quiet) == 1
    d = latest_run(paths.out)
    before = json.loads((d / "results.json").read_text())
    (d / "junit.xml").unlink()
    assert run.reanalyze(paths, d, quiet).exit_code() == 1
    after = json.loads((d / "results.json").read_text())
    assert after["suites"] == before["suites"] and after["counts"] == before["counts"]
    assert after["selftests"]["programs"] == before["selftests"]["programs"]
    junit = etree.parse(str(d / "junit.xml"))
    assert len(junit.xpath('//testcase[starts-with(@classname, "selftests.")]')) == 5


def test_report_keeps_a_build_error(paths: Paths, quiet) -> None:
    fake_selftests(paths.root, broken=True)
    fake_linux(paths.kbuild("kunit"), "true")
    assert run_profile(paths, "kunit", opts(), quiet) == 3
    assert run.reanalyze(paths, latest_run(paths.out), quiet).exit_code() == 3
    res, _ = latest(paths)
    assert res.crash is not None and res.crash.where == "selftests-build"


def test_cli_options(monkeypatch) -> None:
    a = cli.parse(["run", "--selftest-timeout", "50", "--selftest-filter", "00[3]*",
                   "--seed", "3", "--kernel-arg", "k=v"])
    o = cli.boot_options(a)
    assert o.selftests is True
    assert (o.selftest_timeout, o.selftest_filter, o.seed) == (50, "00[3]*", 3)
    assert o.kernel_args == ["k=v"] and o.jobs == a.jobs
    assert cli.boot_options(cli.parse(["run", "--no-selftests"])).selftests is False
    with pytest.raises(SystemExit) as e:
        cli.parse(["run", "--selftest-timeout", "0"])
    assert e.value.code == 2


def test_sanitizer_reports_of_the_selftest_boot(paths: Paths, quiet, capsys,
                                                tmp_path: Path, kunit_dir: Path) -> None:
    """A KASAN report during a selftest and the kmemleak report init.sh
    prints at the end (the file's format) are failures of the run, located
    in selftests-console.log."""
    uaf = (DATA / "kasan_uaf.log").read_text().splitlines()
    kasan = scan(uaf, ktap.parse(kunit_dir, uaf)).reports[0].lines
    leak = ["unreferenced object 0xffff888101b3d800 (size 512):",
            '  comm "003_can_queue", pid 77, jiffies 4294893408',
            "  backtrace (crc 5a8b2c9d):",
            "    kmemleak_alloc+0x31/0x40",
            "    __kmalloc_noprof+0x30a/0x3c0",
            "    sim_lld_inject+0x1c2/0x5a0",
            "    full_proxy_write+0x6e/0xa0"]
    log = (DATA / "selftests_pass.log").read_text().splitlines()
    i = log.index("    ok 2 data.small.from")
    j = log.index("# tgtsim selftests: done")
    log = log[:i] + kasan + log[i:j] + leak + log[j:]
    console = tmp_path / "st.log"
    console.write_text("\n".join(log) + "\n")
    fake_linux(paths.kbuild("kunit"), f"cat {console}")
    assert run_profile(paths, "kunit", opts(), quiet) == 1
    res, _ = latest(paths)
    assert [(r.name, r.during, r.log) for r in res.sanitizer] == [
        ("kasan: slab-use-after-free in scsi_host_put_command",
         "selftests.001_data.data.small.from", "selftests-console.log"),
        ("kmemleak: unreferenced object allocated by sim_lld_inject", "after the selftests",
         "selftests-console.log")]
    out = capsys.readouterr().out
    assert "SANITIZER kasan: slab-use-after-free in scsi_host_put_command (during " \
           "selftests.001_data.data.small.from, selftests-console.log line 20)" in out
    assert out.splitlines()[-1] == "10 passed, 2 failed, 0 skipped"
    assert run.reanalyze(paths, latest_run(paths.out), quiet).exit_code() == 1
    assert len(latest(paths)[0].sanitizer) == 2


# ------------------------------------ scratch-tree boots (mutants, planted bugs)

def test_scratch_boot_runs_kunit_then_selftests_and_builds_them_once(
        paths: Paths, quiet, tmp_path: Path, kunit_dir: Path) -> None:
    kb = tmp_path / "scratch" / "kbuild"
    binary = fake_linux(kb, f"cat {DATA / 'selftests_fail.log'}")
    boot_fn = run.scratch_boot(paths, opts(), quiet)
    for n in (1, 2):
        d = tmp_path / f"m{n}"
        d.mkdir()
        res = boot_fn(binary, d, kunit_dir)
        assert "selftests.002_fault" in res.suites
        failed = {(c.suite, c.name) for c in res.cases if c.status == FAILED}
        assert failed == {("selftests.001_data", "data.small.from")}
        assert any(c.suite == "scsi_lib_test" and c.status == PASSED for c in res.cases)
        assert (d / "console.log").is_file() and (d / "selftests-console.log").is_file()
        assert (d / "ktap.log").read_text().startswith("KTAP version 1")
    assert (tmp_path / "m1" / selftest_build.BUILD_LOG).is_file()      # built on the first boot
    assert not (tmp_path / "m2" / selftest_build.BUILD_LOG).exists()   # and only then
    args = (kb / "args.log").read_text().splitlines()    # two boots side by side, twice
    assert len(args) == 4 and sum("init=" in a for a in args) == 2


def test_scratch_boot_without_selftests_boots_once(paths: Paths, quiet, tmp_path: Path,
                                                   kunit_dir: Path) -> None:
    kb = tmp_path / "scratch" / "kbuild"
    binary = fake_linux(kb, "exit 1")
    res = run.scratch_boot(paths, BootOptions(), quiet)(binary, tmp_path, kunit_dir)
    assert res.crash is None and res.failed == 0 and res.passed > 0
    assert not any(s.startswith("selftests") for s in res.suites)
    assert len((kb / "args.log").read_text().splitlines()) == 1


def test_mutants_and_planted_bugs_boot_the_selftests_unless_told_not_to() -> None:
    for argv, booted in ((["mutants"], True), (["mutants", "--no-selftests"], False),
                         (["planted-bugs"], True), (["planted-bugs", "--no-selftests"], False)):
        assert cli.boot_options(cli.parse(argv)).selftests is booted, argv

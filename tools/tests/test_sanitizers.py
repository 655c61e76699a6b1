"""Sanitizer reports from recorded console logs of the UML debug profile
(tools/tests/data/*.log, from real runs unless said otherwise)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import DATA, analyse as analyze
from tgtsim import ktap, report
from tgtsim.console import detect_crash, report_kind as start_kind
from tgtsim.sanitizers import ALLOW_LIST, Scan, kernel_path
from tgtsim.sanitizers import scan as scan_parsed

VIRT_PCI = "WARNING at arch/um/drivers/virt-pci.c:1005: " \
           "No virtio device ID configured for PCI - no PCI support"


def lines(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


def scan(console: list[str], kunit_dir: Path, log: str = "console.log",
         origin: str = "") -> Scan:
    """The reports of a console, placed by its parse (kunit_parser)."""
    return scan_parsed(console, ktap.parse(kunit_dir, console), log=log, origin=origin)


def test_start_kinds() -> None:
    assert start_kind("BUG: KASAN: slab-use-after-free in f+0x1/0x2") == "kasan"
    assert start_kind("BUG: sleeping function called from invalid context at mm/slub.c:1") \
        == "atomic-sleep"
    assert start_kind("WARNING: possible circular locking dependency detected") == "lockdep"
    assert start_kind("WARNING: inconsistent lock state") == "lockdep"
    assert start_kind("kmemleak: unreferenced object 0x83fead00 (size 128):") == "kmemleak"
    assert start_kind("unreferenced object 0xffff888101b3d800 (size 512):") == "kmemleak"
    assert start_kind("WARNING: CPU: 0 PID: 1 at kernel/x.c:3 f+0x1/0x2") == "warn"
    assert start_kind("UBSAN: shift-out-of-bounds in lib/x.c:3:4") == "ubsan"
    assert start_kind("BUG kmalloc-64 (Tainted: G    B   ): Poison overwritten") == "slub"
    assert start_kind("INFO: task kunit_try_catch:42 blocked for more than 90 seconds.") \
        == "hung-task"
    assert start_kind("rcu: INFO: rcu_sched self-detected stall on CPU") == "rcu-stall"
    # not reports: crashes, info lines, KTAP
    for text in ("BUG: kernel NULL pointer dereference, address: 0000000000000008",
                 "kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
                 "kmemleak: Kernel memory leak detector initialized (mem pool available: 15894)",
                 "hrtimer: interrupt took 61696 ns", "    ok 1 tgt_stress_get_put",
                 "# WARNING: not a report"):
        assert start_kind(text) is None, text


def test_kernel_path() -> None:
    assert kernel_path("../../linux/arch/um/drivers/virt-pci.c:1005") == \
        "arch/um/drivers/virt-pci.c:1005"
    assert kernel_path("../../../build/mutant/linux/mm/slub.c:12") == "mm/slub.c:12"
    assert kernel_path("drivers/scsi/scsi.c:3") == "drivers/scsi/scsi.c:3"


def test_boot_warn_is_allowed_precisely(kunit_dir: Path) -> None:
    """The UML virt-pci WARN at boot is allow-listed, with its reason."""
    found = scan(lines("kasan_panic.log"), kunit_dir)
    assert [r.summary for r in found.allowed] == [VIRT_PCI]
    rep = found.allowed[0]
    assert rep.during == "boot" and rep.allowed == ALLOW_LIST[0].reason
    assert rep.lines[0] == "------------[ cut here ]------------"
    assert rep.lines[-1] == "---[ end trace 0000000000000000 ]---"
    assert "um_pci_init" in rep.allowed


def _move_after_ktap(log: list[str], start: str, end: str) -> list[str]:
    """The same report, moved into the KTAP part of the log."""
    i = next(n for n, ln in enumerate(log) if ln.startswith(start))
    j = next(n for n, ln in enumerate(log) if ln.startswith(end) and n > i)
    block = log[i:j + 1]
    rest = log[:i] + log[j + 1:]
    k = next(n for n, ln in enumerate(rest) if ln.strip() == "ok 1 test_scsi_proto")
    return rest[:k] + block + rest[k:]


def test_allow_list_needs_the_whole_match(kunit_dir: Path) -> None:
    log = lines("kasan_panic.log")
    # the same WARN while the tests run is a failure, not the boot quirk
    moved = _move_after_ktap(log, "------------[ cut here ]", "---[ end trace")
    found = scan(moved, kunit_dir)
    assert found.allowed == []
    warn = [r for r in found.reports if r.kind == "warn"]
    assert [r.summary for r in warn] == [VIRT_PCI]
    assert warn[0].during == "scsi_proto.test_scsi_proto"
    # another message at the same place is a failure
    other = [ln.replace("No virtio device ID", "Some other problem") for ln in log]
    found = scan(other, kunit_dir)
    assert found.allowed == [] and [r.kind for r in found.reports][0] == "warn"
    # another file with the same message too
    other = [ln.replace("virt-pci.c:1005", "virt-pci2.c:1005") for ln in log]
    assert scan(other, kunit_dir).allowed == []


def test_kasan_report_with_panic(kunit_dir: Path) -> None:
    """A real KASAN use-after-free (sim_lld before its fix) followed by a
    panic: the panic is the crash (exit 3), the KASAN report a failure of
    its own with its whole trace."""
    log = lines("kasan_panic.log")
    res = analyze(log, kunit_dir)
    assert res.crash is not None
    assert res.crash.reason == "kernel crash: Kernel panic - not syncing: Segfault with no mm"
    assert res.exit_code() == 3
    assert [r.name for r in res.sanitizer] == ["kasan: slab-use-after-free in sim_lld_cmd_release"]
    rep = res.sanitizer[0]
    assert rep.title == "BUG: KASAN: slab-use-after-free in sim_lld_cmd_release.part.0+0x270/0x360"
    assert rep.lines[0].startswith("=====") and rep.lines[-1].startswith("=====")
    assert any("Read of size 8 at addr 00000000851da010" in ln for ln in rep.lines)
    assert any("kunit_cleanup" in ln for ln in rep.lines)
    assert not any("Kernel panic" in ln for ln in rep.lines)
    assert rep.during == "sim_lld (no result)"
    assert log[rep.line_no - 1] == rep.title


def test_kasan_line_is_not_a_crash() -> None:
    assert detect_crash(["BUG: KASAN: slab-use-after-free in f+0x1/0x2",
                         "BUG: sleeping function called from invalid context at x.c:1"]) is None
    assert detect_crash(["BUG: kernel NULL pointer dereference, address: 8"]) is not None


def test_reports_in_summary_and_junit(kunit_dir: Path) -> None:
    res = analyze(lines("kasan_panic.log"), kunit_dir)
    text = report.summary_text(res)
    assert "SANITIZER kasan: slab-use-after-free in sim_lld_cmd_release " \
           "(during sim_lld (no result), console.log line 124)" in text
    assert f"ALLOWED warn: {VIRT_PCI} (at boot, console.log line 34)" in text
    root = ET.fromstring(report.junit_xml(res))
    cases = [tc for tc in root.iter("testcase") if tc.get("classname") == "tgtsim.sanitizer"]
    assert [tc.get("name") for tc in cases] == \
        ["kasan: slab-use-after-free in sim_lld_cmd_release"]
    body = cases[0].findtext("failure") or ""
    assert "Read of size 8 at addr 00000000851da010" in body and "kunit_cleanup" in body
    assert int(root.get("failures", "")) == res.failed
    assert int(root.get("tests", "")) == len(res.cases) + 1 + 1


def test_roundtrip_keeps_reports(kunit_dir: Path) -> None:
    res = analyze(lines("kasan_panic.log"), kunit_dir)
    back = report.Results.from_dict(res.to_dict())
    assert [r.name for r in back.sanitizer] == [r.name for r in res.sanitizer]
    assert back.allowed[0].allowed == res.allowed[0].allowed
    assert back.closing_line() == res.closing_line()


def test_identical_reports_fold(kunit_dir: Path) -> None:
    log = lines("kasan_panic.log")
    moved = _move_after_ktap(log, "------------[ cut here ]", "---[ end trace")
    i = next(n for n, ln in enumerate(moved) if ln.startswith("------------[ cut here ]"))
    j = next(n for n, ln in enumerate(moved) if ln.startswith("---[ end trace"))
    twice = moved[:j + 1] + moved[i:j + 1] + moved[j + 1:]
    warn = [r for r in scan(twice, kunit_dir).reports if r.kind == "warn"]
    assert len(warn) == 1 and warn[0].count == 2


@pytest.mark.parametrize("reports, limit", [(30, 25)])
def test_too_many_distinct_reports_are_counted(reports: int, limit: int,
                                               kunit_dir: Path) -> None:
    log = ["KTAP version 1", "1..1"]
    for n in range(reports):
        log += [f"WARNING: CPU: 0 PID: 1 at drivers/x{n}.c:1 f{n}+0x1/0x2", f"message {n}",
                "---[ end trace 0000000000000000 ]---"]
    found = scan(log, kunit_dir)
    assert len(found.reports) == limit + 1 and found.dropped == reports - limit
    assert found.reports[-1].title == f"{reports - limit} more distinct sanitizer reports " \
                                      "(see console.log)"


def test_reports_of_the_selftest_console_name_it(kunit_dir: Path) -> None:
    found = scan(lines("kasan_panic.log"), kunit_dir, log="selftests-console.log",
                 origin="selftests")
    rep = found.reports[0]
    assert (rep.log, rep.during) == ("selftests-console.log", "selftests.sim_lld (no result)")
    assert found.allowed[0].during == "boot"


def test_kmemleak_report_of_the_end_of_run_scan(kunit_dir: Path) -> None:
    """A real leak found by the tgt_kmemleak scan (a test of tgt_cmd_tags
    leaked its getter; recorded, trimmed to two suites, plan line 1..2)."""
    res = analyze(lines("kmemleak.log"), kunit_dir, expect_kmemleak=True)
    assert res.crash is None and res.exit_code() == 1
    assert res.closing_line() == "20 passed, 1 failed, 0 skipped"
    assert [(r.name, r.count) for r in res.sanitizer] == [
        ("kmemleak: unreferenced object allocated by tgt_tags_blocking_get_woken_by_put", 3)]
    rep = res.sanitizer[0]
    assert rep.title == "kmemleak: unreferenced object 0x97846d00 (size 128):"
    assert rep.lines[-1] == "kmemleak:     new_thread_handler+0x1ff/0x370"
    assert "kmemleak:     tgt_tags_blocking_get_woken_by_put+0x126/0x1190" in rep.lines
    assert rep.during == "tgt_kmemleak.tgt_kmemleak_scan_after_all_suites"


def test_kmemleak_scan_must_run_last(kunit_dir: Path) -> None:
    log = lines("kmemleak.log")
    start = log.index("    # Subtest: tgt_cmd_tags") - 1
    end = log.index("ok 1 tgt_cmd_tags") + 1
    kstart = log.index("    # Subtest: tgt_kmemleak") - 1
    kend = log.index("ok 2 tgt_kmemleak") + 1
    swapped = log[:start] + log[kstart:kend] + log[start:end] + log[kend:]
    swapped = [{"ok 2 tgt_kmemleak": "ok 1 tgt_kmemleak",
                "ok 1 tgt_cmd_tags": "ok 2 tgt_cmd_tags"}.get(ln, ln) for ln in swapped]
    res = analyze(swapped, kunit_dir, expect_kmemleak=True)
    assert res.sanitizer[-1].title == "the kmemleak scan did not run last: tgt_cmd_tags ran " \
                                      "after tgt_kmemleak, its leaks are not checked"
    without = log[:kstart] + log[kend:]
    without = [ln.replace("1..2", "1..1") if ln == "1..2" else ln for ln in without]
    res = analyze(without, kunit_dir, expect_kmemleak=True)
    assert [r.title for r in res.sanitizer] == [
        "no end-of-run kmemleak scan: the tgt_kmemleak suite did not run"]
    assert analyze(without, kunit_dir, expect_kmemleak=False).sanitizer == []


def test_clean_debug_run(kunit_dir: Path) -> None:
    """A recorded run of the debug profile on the port (trimmed to its boot
    and the last two suites, plan line 1..2): no failure, the boot WARN
    allowed, the stress suite and the leak scan passed."""
    res = analyze(lines("debug_clean.log"), kunit_dir, expect_kmemleak=True)
    assert res.crash is None and res.sanitizer == []
    assert res.exit_code() == 0 and res.closing_line() == "4 passed, 0 failed, 0 skipped"
    assert [r.summary for r in res.allowed] == [VIRT_PCI]
    assert res.suites == ["tgt_cmd_stress", "tgt_kmemleak"]
    assert "SANITIZER" not in report.summary_text(res)


# recorded runs of the planted bugs (kunit/selftest-bugs/), trimmed around
# their reports (`tgtsim planted-bugs`)

def test_planted_use_after_free_kasan(kunit_dir: Path) -> None:
    found = scan(lines("kasan_uaf.log"), kunit_dir)
    assert [(r.kind, r.name) for r in found.reports] == [
        ("kasan", "kasan: slab-use-after-free in scsi_host_put_command")]
    rep = found.reports[0]
    assert rep.where == "scsi_host_put_command"
    assert rep.during == "sim_lld.sim_test_add_remove_100"
    body = "\n".join(rep.lines)
    # the allocation and free stacks (frame pointers) are part of it
    assert "Allocated by task 42:" in body and "Freed by task 21:" in body
    assert " kmem_cache_free+0x13a/0x560\n scsi_host_put_command+0x95/0x2b0" in body
    assert rep.lines[-1].startswith("=====")


def test_planted_lock_inversion_lockdep(kunit_dir: Path) -> None:
    found = scan(lines("lockdep_circular.log"), kunit_dir)
    assert [r.name for r in found.reports] == [
        "lockdep: possible circular locking dependency detected at scsi_host_put_command"]
    rep = found.reports[0]
    assert rep.lines[0].startswith("=====") and \
        rep.lines[1] == "WARNING: possible circular locking dependency detected"
    body = "\n".join(rep.lines)
    assert "-> #1 (&shost->free_list_lock){....}-{2:2}:" in body
    assert "       scsi_host_get_command+0x308/0x6d0" in body
    assert " *** DEADLOCK ***" in body and "Call Trace:" in body
    assert rep.lines[-1].strip().endswith("new_thread_handler+0x0/0x370")
    assert rep.during == "tgt_cmd_refcount.tgt_refcount_get_alloc_failure_takes_nothing"


def test_planted_sleep_in_atomic(kunit_dir: Path) -> None:
    found = scan(lines("atomic_sleep.log"), kunit_dir)
    assert [r.name for r in found.reports] == [
        "lockdep: inconsistent lock state at __kmalloc_noprof",
        "atomic-sleep: sleeping function called from invalid context at "
        "include/linux/sched/mm.h:321, in scsi_tgt_run"]
    sleep = found.reports[1]
    assert sleep.title == "BUG: sleeping function called from invalid context at " \
                          "../../linux/include/linux/sched/mm.h:321"
    assert sleep.lines[1] == "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 9, " \
                             "name: ksoftirqd/0"
    assert any("scsi_tgt_data_done+0x159/0x3b0" in ln for ln in sleep.lines)
    assert sleep.during == "sim_lld.sim_test_completion/softirq"
    # the two reports do not overlap (the first has its ==== line before its title)
    first = found.reports[0]
    assert first.lines[0].startswith("====")
    assert first.line_no + len(first.lines) - 2 < sleep.line_no

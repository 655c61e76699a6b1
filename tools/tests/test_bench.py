"""`tgtsim bench`: the kernel's tgt-bench records read into figures, the
issue's limits, --compare, bench.md and the plot; the harness parts on fake
kernels and a fake project (the real ones are `make bench` itself)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import DATA, ROOT, TOOLS, git, recorded
from tgtsim import bench, benchfig, cli, prepare
from tgtsim.errors import InfraError, UsageError
from tgtsim.paths import Paths
from tgtsim.progress import Progress

PFX = "    # tgt_bench_datapath.inline: "


def synthetic(reps: int = 3, per_cmd: float = 500.0, per_chunk: float = 200.0,
              per_page: float = 50.0, memcpy_ns_per_byte: float = 0.25) -> list[str]:
    """A console whose no-copy inline commands cost exactly
    per_cmd + per_chunk * chunks + per_page * pages ns, and memcpy 1 ns per
    byte / 4 (4 GB/s) unless told otherwise."""
    lines = ["KTAP version 1", PFX + "tgt-bench: v1 begin reps=3 min_ms=30 hz=100 hres=1 "
             "tick_chunks=64 page_size=4096",
             PFX + "tgt-bench: v1 lim name=default sg_tablesize=128 max_sectors=1024 "
             "max_segment_size=65536 dma_boundary=0xffffffff"]
    chunks = {"default": lambda s: max(1, s // (512 << 10)), "page": lambda s: s // 4096,
              "seg": lambda s: max(1, s // 65536)}
    for rep in range(reps):
        for size in benchfig.SIZES:
            lines.append(PFX + f"tgt-bench: v1 memcpy rep={rep} size={size} n=10 "
                         f"ns={int(10 * size * memcpy_ns_per_byte)}")
            for lim, ch in chunks.items():
                for d in ("to", "from"):
                    for copy in (1, 0):
                        c = ch(size)
                        ns = per_cmd + per_chunk * c + per_page * size / 4096
                        if copy:
                            ns += size / 4
                        lines.append(PFX + f"tgt-bench: v1 dp rep={rep} dir={d} lim={lim} "
                                     f"compl=inline copy={copy} size={size} n=4 "
                                     f"ns={int(ns * 4)} chunks={4 * c} bytes={4 * size}")
        lines.append("    # tgt_bench_stages: tgt-bench: v1 stage rep=%d name=bvec_alloc "
                     "size=4096 n=1000 ns=60000" % rep)
        for name, ns in (("bio_add", 90), ("rq_append", 300), ("sg_map", 500),
                         ("lld_data", 800), ("lld_response", 200), ("queue_command", 1400)):
            lines.append(f"    # tgt_bench_stages: tgt-bench: v1 stage rep={rep} name={name} "
                         f"size=4096 n=100 ns={ns * 100}")
        for ctx in ("task", "hardirq"):
            for free, stub in ((0, 0), (0, 1), (1, 1)):
                lines.append(f"    # tgt_bench_get_put: tgt-bench: v1 getput rep={rep} "
                             f"ctx={ctx} free={free} stub={stub} n=1000 ns={1000 * 500}")
    lines.append("    # tgt_bench_datapath.hrtimer: tgt-bench: v1 skip rep=0 dir=to lim=page "
                 "compl=hrtimer copy=1 size=16777216 chunks=4096 why=timer")
    return lines


def test_records_are_read_after_any_prefix() -> None:
    recs = benchfig.parse([
        "[    1.0] " + PFX + "tgt-bench: v1 memcpy rep=0 size=4096 n=10 ns=100",
        "# tgt-bench: v1 getput rep=1 ctx=task free=0 stub=0 n=5 ns=10",
        "tgt-bench: v2 memcpy rep=0 size=4096 n=1 ns=1",          # another version
        "    # tgt_bench: not a record",
        "xtgt-bench: v1 memcpy rep=0 size=1 n=1 ns=1"])            # not after a separator
    assert [r.kind for r in recs] == ["memcpy", "getput"]
    assert recs[0].fields == {"rep": "0", "size": "4096", "n": "10", "ns": "100"}
    assert recs[1].int("stub") == 0


def test_kernel_figures_from_records() -> None:
    figs = benchfig.Figures()
    data = benchfig.kernel_figures(benchfig.parse(synthetic()), figs)
    mc = figs.get("kernel.memcpy.1048576")
    assert mc is not None and len(mc.samples) == 3 and mc.median == pytest.approx(4000.0)
    # 1 MiB, default limits: 2 chunks, 256 pages
    core = figs.get("kernel.core.ns_per_cmd.to.1048576")
    assert core is not None and core.median == pytest.approx(500 + 2 * 200 + 256 * 50)
    ratio = figs.get("kernel.core.vs_memcpy.to.1048576")
    assert ratio is not None and ratio.median == pytest.approx(13700 / (1 << 20 >> 2))
    e2e = figs.get("kernel.e2e.vs_memcpy.from.1048576")
    assert e2e is not None and e2e.median == pytest.approx((13700 + (1 << 18)) / (1 << 18))
    mbps = figs.get(benchfig.dp_key("to", "page", "inline", 0, 4096) + ".MBps")
    assert mbps is not None and mbps.median == pytest.approx(4096 / 750 * 1e3)
    cmds = figs.get(benchfig.dp_key("to", "page", "inline", 0, 4096) + ".cmds")
    assert cmds is not None and cmds.median == pytest.approx(1e9 / 750)
    assert data.chunks[benchfig.dp_key("to", "page", "inline", 1, 1 << 20)] == 256
    assert data.lims["default"]["max_sectors"] == "1024"
    assert data.settings["hz"] == "100"
    assert data.skipped[0]["size"] == "16777216"
    # the fit gives back the cost per command, chunk and page
    for name, v in (("cmd", 500), ("chunk", 200), ("page", 50)):
        f = figs.get(f"kernel.core.fit.to.{name}_ns")
        assert f is not None and f.median == pytest.approx(v, rel=1e-6), name
    assert figs.get("kernel.stage.queue_command").median == 1400   # type: ignore[union-attr]
    gp = figs.get("kernel.getput.hardirq.stub_freelist")
    assert gp is not None and gp.median == pytest.approx(2e6)
    assert figs.get("kernel.getput.task.plain") is not None


def test_least_squares_refuses_dependent_columns() -> None:
    assert benchfig.least_squares([(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)], [1, 2, 3]) is None
    assert benchfig.least_squares([], []) is None
    assert benchfig.least_squares([(1.0, 0.0), (1.0, 1.0)], [1.0, 3.0]) == \
        pytest.approx([1.0, 2.0])


def test_checks_say_what_misses_and_what_was_not_measured() -> None:
    figs = benchfig.Figures()
    benchfig.kernel_figures(benchfig.parse(synthetic()), figs)
    for v in (14.0, 15.0, 16.0):
        figs.add("harness.make_warm.ratio", "r", "x", "lower", "harness", v / 10)
    by = {c.key: c for c in benchfig.checks(figs, duration=500.0)}
    assert by["harness.make_warm.ratio"].ok is True            # median 1.5 <= 1.5
    assert by["harness.make_incremental.s"].ok is None         # not measured
    assert by["kernel.core.ns_per_cmd.to.4096"].ok is False    # 750 ns
    assert by["kernel.core.vs_memcpy.to.1048576"].ok is True   # 0.052 <= 0.10
    assert by["kernel.core.vs_memcpy.to.1048576"].value == pytest.approx(13700 / 262144)
    assert by["duration_s"].ok is True
    d = by["kernel.e2e.vs_memcpy.to.1048576"].to_dict()
    assert d["op"] == "<=" and d["limit"] == 1.25 and d["ok"] is True   # 1.05


def _fig(key: str, better: str, samples: list[float]) -> benchfig.Figure:
    return benchfig.Figure(key, key, "u", better, "g", samples)


def test_compare_flags_more_than_20_percent_worse() -> None:
    old = {"a": _fig("a", "higher", [100, 100, 100]), "b": _fig("b", "lower", [10, 10, 10]),
           "c": _fig("c", "lower", [10, 10, 10]), "d": _fig("d", "higher", [100]),
           "gone": _fig("gone", "lower", [1])}
    new = {"a": _fig("a", "higher", [80, 82, 90]),      # cost 100/82 = 1.22: worse
           "b": _fig("b", "lower", [11, 11.9, 13]),     # 1.19: not
           "c": _fig("c", "lower", [12.5, 12.5, 12.5]),  # 1.25: worse
           "d": _fig("d", "higher", [200]),             # better
           "new": _fig("new", "lower", [1])}
    changes, only = benchfig.compare(old, new)
    assert {c.key for c in changes if c.worse} == {"a", "c"}
    assert only == ["gone", "new"]
    md = benchfig.compare_md(changes, only, Path("old.json"))
    assert "2 more than 20 % worse" in md and "**worse**" in md and "`gone`" in md


def test_compare_says_when_the_machine_itself_was_slower(tmp_path: Path, capsys) -> None:
    def figs_of(per_cmd: float = 500.0, memcpy_ns_per_byte: float = 0.25) -> benchfig.Figures:
        figs = benchfig.Figures()
        benchfig.kernel_figures(benchfig.parse(
            synthetic(per_cmd=per_cmd, memcpy_ns_per_byte=memcpy_ns_per_byte)), figs)
        return figs

    def by_key(figs: benchfig.Figures) -> dict[str, benchfig.Figure]:
        return {f.key: f for f in figs}
    old, code_slower, machine_slower = figs_of(), figs_of(per_cmd=1500), \
        figs_of(memcpy_ns_per_byte=0.5)
    changes, _ = benchfig.compare(by_key(old), by_key(code_slower))
    assert any(c.worse for c in changes) and benchfig.gauge_note(changes) is None
    assert "machine itself" not in benchfig.compare_md(changes, [], Path("old.json"))
    changes, _ = benchfig.compare(by_key(old), by_key(machine_slower))
    note = benchfig.gauge_note(changes)
    assert note is not None and "2,000 MB/s against 4,000 (cost x2.00)" in note
    assert f"**Note:** {note}." in benchfig.compare_md(changes, [], Path("old.json"))
    for name, figs in (("old", old), ("slow", machine_slower)):
        (tmp_path / f"{name}.json").write_text(json.dumps(benchfig.to_json(figs, {}, None, [])))
    assert cli.main(["--out", str(tmp_path / "out"), "bench", "--compare",
                     str(tmp_path / "old.json"), "--against", str(tmp_path / "slow.json")]) == 1
    assert "the machine itself was slower" in capsys.readouterr().err


def test_bench_json_round_trips_and_bad_files_are_usage_errors(tmp_path: Path) -> None:
    figs = benchfig.Figures()
    data = benchfig.kernel_figures(benchfig.parse(synthetic()), figs)
    d = benchfig.to_json(figs, {"id": "x"}, data, benchfig.checks(figs))
    p = tmp_path / "bench.json"
    p.write_text(json.dumps(d))
    back = benchfig.load(p)
    assert set(back) == {f.key for f in figs}
    f = back["kernel.memcpy.4096"]
    assert (f.min, f.median, f.max, f.better, f.unit) == (4000.0, 4000.0, 4000.0, "higher", "MB/s")
    assert d["kernel"]["chunks_per_cmd"][benchfig.dp_key("to", "seg", "inline", 1, 1 << 20)] == 16
    with pytest.raises(UsageError):
        benchfig.load(tmp_path / "nothere.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(UsageError):
        benchfig.load(tmp_path / "bad.json")
    (tmp_path / "v2.json").write_text(json.dumps({"version": 2, "figures": {}}))
    with pytest.raises(UsageError):
        benchfig.load(tmp_path / "v2.json")


def _write_bench_json(path: Path, scale: float) -> None:
    figs = benchfig.Figures()
    benchfig.kernel_figures(benchfig.parse(synthetic(per_cmd=500 * scale)), figs)
    path.write_text(json.dumps(benchfig.to_json(figs, {}, None, [])))


def test_cli_compare_against_exits_1_on_a_regression(tmp_path: Path, capsys) -> None:
    old, same, slow = tmp_path / "old.json", tmp_path / "same.json", tmp_path / "slow.json"
    _write_bench_json(old, 1.0)
    _write_bench_json(same, 1.0)
    _write_bench_json(slow, 3.0)       # 1000 ns more per command: 4 KiB figures much worse
    args = ["--out", str(tmp_path / "out"), "bench", "--compare"]
    assert cli.main([*args, str(old), "--against", str(same)]) == 0
    assert "0 more than 20 % worse" in capsys.readouterr().out
    assert cli.main([*args, str(old), "--against", str(slow)]) == 1
    out, err = capsys.readouterr()
    assert "more than 20 % worse" in out and "worse: " in err and "4 KiB" in err
    assert cli.main(["--out", str(tmp_path / "out"), "bench", "--against", str(old)]) == 2
    assert cli.main([*args, str(tmp_path / "none.json"), "--against", str(old)]) == 2
    assert cli.main(["bench", "--parts", "kernel,bogus", "--out", str(tmp_path / "o")]) == 2


def test_markdown_and_plot_of_recorded_figures(tmp_path: Path) -> None:
    figs = benchfig.Figures()
    data = benchfig.kernel_figures(benchfig.parse(synthetic()), figs)
    for v in (20.0, 21.0, 25.0):
        figs.add("harness.make_warm.s", "warm no-change `make`", "s", "lower", "harness", v)
    chk = benchfig.checks(figs, 300.0)
    md = benchfig.markdown(figs, data, chk, {"id": "ID", "reps": 3, "duration_s": 300.0,
                                             "when": "now", "errors": ["kernel: oops"]})
    for text in ("# tgtsim bench ID", "## Acceptance limits", "**missed**", "not measured",
                 "## What tgtsim costs", "| warm no-change `make` | 21.0 [20.0-25.0] | s |",
                 "### inline completion", "## Where the time of a 4 KiB command goes",
                 "| = the core's own time | 900 |", "## scsi_host_get_command()",
                 "| the rest of the core (its state, memset()s, calls, done) | 400 |",
                 "| not in a 4 KiB command: kmalloc_array() + kfree() of a bio_vec array "
                 "(a command of more than 4 pages) | 60.0 |",
                 "Not timed in hrtimer mode (a timer interrupt per chunk; more than 64 "
                 "chunks): to page copy=1 16 MiB (4096 chunks)", "kernel: oops", "| 1 MiB | seg | 16.0 |",
                 "a memcpy() of 4 KiB ran at 4,000 [4,000-4,000] MB/s"):
        assert text in md, text
    dat, present = benchfig.plot_data(figs)
    blocks = dat.split("\n\n\n")
    assert len(blocks) == len(benchfig.MODES) * 2 * len(benchfig.LIMS) + 1
    assert blocks[0].startswith("# inline copy default\n4096 ")
    assert blocks[-1].startswith("# memcpy\n4096 4000.0")
    assert "nan" in blocks[len(benchfig.LIMS) * 2]          # softirq: not in this console
    assert present.count(True) == 2 * len(benchfig.LIMS) + 1
    script = benchfig.plot_script("bench.dat", "bench.svg", present)
    assert script.count("\nplot ") == 2 and script.count("set multiplot next") == 4
    assert "index 18 using 1:2 with lines" in script
    if shutil.which("gnuplot") is None:
        pytest.skip("gnuplot not installed")
    assert bench.plot(tmp_path, figs) is None
    svg = (tmp_path / "bench.svg").read_text()
    assert svg.startswith("<?xml") and "memcpy" in svg and "default limits" in svg


def test_the_port_patch_edit_changes_one_comment_line() -> None:
    paths = Paths.make(ROOT)
    patch = bench.port_patch(paths)
    text = bench.edit_patch(patch.read_text(), "")    # as committed, also during a bench
    one = bench.edit_patch(text, "1")
    two = bench.edit_patch(one, "2")
    back = bench.edit_patch(two, "")
    assert back == text
    diff = [(a, b) for a, b in zip(text.split("\n"), two.split("\n")) if a != b]
    assert len(diff) == 1 and diff[0][1] == diff[0][0] + " [tgtsim bench 2]"
    assert diff[0][0].startswith("+ *")
    assert len(one.split("\n")) == len(text.split("\n"))
    with pytest.raises(InfraError):
        bench.edit_patch("+++ b/drivers/scsi/scsi_tgt_lib.c\n+int x;\ndiff --git a b\n+ * no", "1")


FAKE_UML = """#!/bin/sh
# a fake UML: prints its arguments and whether stdin is a pipe
echo "args: $*"
[ -p /dev/stdin ] && echo "stdin: pipe"
sleep 0.2
exit 0
"""


def test_bare_boots_are_the_recorded_boots_side_by_side(tmp_path: Path) -> None:
    paths = Paths.make(tmp_path, tmp_path / "build", tmp_path / "out")
    kb = paths.kbuild("kunit")
    kb.mkdir(parents=True)
    (kb / "linux").write_text(FAKE_UML)
    (kb / "linux").chmod(0o755)
    run = paths.out / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({
        "run_id": "r1", "profile": "kunit", "started": 0,
        "kernel_args": ["mem=1G", "kunit.enable=1"],
        "selftests": {"programs": [], "kernel_args": ["init=/x", "con=null"]}}))
    (paths.out / "latest").symlink_to("runs/r1")
    out = tmp_path / "bench"
    out.mkdir()
    took = bench.bare_boots(paths, "kunit", out, 0)
    assert 0.2 <= took < 5        # side by side: not 0.4 + start-up twice
    k = (out / "bare-0-kunit.log").read_text()
    s = (out / "bare-0-selftests.log").read_text()
    assert "args: mem=1G kunit.enable=1" in k and "stdin: pipe" in k
    assert "args: init=/x con=null" in s and "stdin: pipe" not in s
    with pytest.raises(InfraError):
        bench.bare_boots(paths, "coverage", out, 1)      # the run is of another profile


@pytest.mark.parametrize("repack", [False, True], ids=["packed-base", "loose-base"])
def test_scratch_tree_has_two_commits_one_file_apart(project: Paths, quiet: Progress,
                                                     tmp_path: Path, monkeypatch,
                                                     repack: bool) -> None:
    """build/linux's base in one pack: the clone hard-links it; a tree from
    before that (its base loose) is cloned and repacked."""
    if repack:
        monkeypatch.setattr(bench, "LOOSE_LIMIT", -1)
    (project.root / "patches/linux-6.12/series").write_text("")
    (project.root / "kunit/Kconfig").write_text("")
    prepare.prepare(project, quiet)
    # the fake tree has no scsi_lib.c: give the base one
    state = prepare.load_state(project.linux)
    git(project.linux, "checkout", "-q", state.base_commit)
    (project.linux / "drivers/scsi/scsi_lib.c").write_text("int lib;\n")
    git(project.linux, "add", "drivers/scsi/scsi_lib.c")
    git(project.linux, "commit", "-qm", "lib")
    state.base_commit = git(project.linux, "rev-parse", "HEAD")
    state.save(prepare.Git(project.linux))
    b = bench.Bench(project, bench.Options(profile="kunit"), quiet, tmp_path)
    src, a, bb = bench.scratch_tree(b)
    assert a == state.base_commit
    assert git(src, "diff", "--name-only", a, bb) == "drivers/scsi/scsi_lib.c"
    assert git(src, "show", f"{bb}:drivers/scsi/scsi_lib.c").endswith(
        "/* tgtsim bench: a commit to bisect over */")
    assert not (src / "drivers").exists()                 # no work tree was checked out
    # its objects are its own, packed: it outlives build/linux's objects
    assert not (src / ".git/objects/info/alternates").exists()
    objs = dict(ln.split(": ", 1) for ln in git(src, "count-objects", "-v").splitlines())
    assert objs["packs"] == "1" and int(objs["in-pack"]) > 0
    # loose: B's commit, its 3 trees and its blob (+ build/linux's own loose
    # objects, hard-linked: its trees and commits)
    linux_loose = 0 if repack else bench.loose_objects(project.linux)
    assert int(objs["count"]) == 5 + linux_loose
    assert (src / ".git" / bench.SCRATCH_MARK).read_text() == a + "\n"
    # kept for the next bench while it holds the base; a new base, a new clone
    (src / "kept").write_text("")
    assert bench.scratch_tree(b)[:2] == (src, a)
    assert (src / "kept").exists()
    git(project.linux, "commit", "-q", "--allow-empty", "-m", "another base")
    state.base_commit = git(project.linux, "rev-parse", "HEAD")
    state.save(prepare.Git(project.linux))
    assert bench.scratch_tree(b)[1] == state.base_commit
    assert not (src / "kept").exists()


def test_make_targets_and_deps_know_bench() -> None:
    mk = (ROOT / "Makefile").read_text()
    assert "\nbench:\n" in mk and "$(TGTSIM) bench" in mk
    from tgtsim import deps
    assert "gnuplot-nox" in deps.PACKAGES
    assert (ROOT / "kunit/profiles/bench.config").read_text().count("CONFIG_SCSI_TGT_BENCH=y") == 1
    assert "SCSI_TGT_BENCH" not in (ROOT / "kunit/profiles/base.config").read_text()


# -- a recorded console of the real suite (bench profile, `tgtsim bench`) ----------

def test_recorded_console_gives_every_figure() -> None:
    """Every figure the issue asks for is read from a real boot's console."""
    figs = benchfig.Figures()
    data = benchfig.kernel_figures(benchfig.parse(recorded("bench_console.log")), figs)
    reps = int(data.settings["reps"])
    assert reps >= 3 and set(data.lims) == set(benchfig.LIMS)
    for s in benchfig.SIZES:
        f = figs.get(f"kernel.memcpy.{s}")
        assert f is not None and len(f.samples) == reps
    skipped = {(k["dir"], k["lim"], k["copy"], int(k["size"])) for k in data.skipped}
    for mode in benchfig.MODES:
        for lim in benchfig.LIMS:
            for d in benchfig.DIRS:
                for copy in (0, 1):
                    for s in benchfig.SIZES:
                        key = benchfig.dp_key(d, lim, mode, copy, s)
                        f = figs.get(key + ".MBps")
                        if mode == "hrtimer" and (d, lim, str(copy), s) in skipped:
                            assert f is None, key         # not timed: too many ticks
                            continue
                        assert f is not None and len(f.samples) == reps, key
                        assert all(v > 0 for v in f.samples), key
    # chunks per command as the limits make them (1 MiB: 2 of 512 KiB, 256
    # pages, 16 segments of 64 KiB)
    for lim, n in (("default", 2), ("page", 256), ("seg", 16)):
        assert data.chunks[benchfig.dp_key("to", lim, "inline", 1, 1 << 20)] == n
    # hrtimer mode skips only commands of more than tick_chunks chunks
    tick = int(data.settings["tick_chunks"])
    assert data.skipped and all(int(k["chunks"]) > tick for k in data.skipped)
    for name in ("task.plain", "hardirq.plain", "task.stub_alloc", "task.stub_freelist",
                 "hardirq.stub_alloc", "hardirq.stub_freelist"):
        f = figs.get(f"kernel.getput.{name}")
        assert f is not None and len(f.samples) == reps and f.min > 0, name
    for stage in benchfig.STAGES:
        assert figs.get(f"kernel.stage.{stage}") is not None, stage
    by = {c.key: c for c in benchfig.checks(figs)}
    for key in ("kernel.core.vs_memcpy.to.1048576", "kernel.core.ns_per_cmd.from.4096",
                "kernel.e2e.vs_memcpy.to.1048576"):
        assert by[key].value is not None and by[key].ok is not None, key
    assert by["harness.make_warm.ratio"].ok is None            # not in a kernel console


def test_recorded_console_passes_as_kunit(kunit_dir: Path) -> None:
    """The suite itself passes in the recorded boot (its cases fail only when
    a command does not complete), and the run's parser reads it."""
    from conftest import analyse
    res = analyse(recorded("bench_console.log"), kunit_dir)
    assert res.crash is None and not res.failed and res.passed >= 5
    assert set(res.suites) == {"tgt_bench"}


def test_recorded_console_markdown_and_plot(tmp_path: Path) -> None:
    figs = benchfig.Figures()
    data = benchfig.kernel_figures(benchfig.parse(recorded("bench_console.log")), figs)
    md = benchfig.markdown(figs, data, benchfig.checks(figs), {"id": "rec", "reps": 3})
    for mode in benchfig.MODES:
        assert f"### {mode} completion" in md
    assert "| 16 MiB | page | 4,096 |" in md
    # recorded without high-resolution timers (no hres= in its begin record)
    assert "Not timed in hrtimer mode (the next tick of 100 Hz per chunk; more than 64" in md
    if shutil.which("gnuplot") is None:
        pytest.skip("gnuplot not installed")
    assert bench.plot(tmp_path, figs) is None
    svg = (tmp_path / "bench.svg").read_text()
    assert "scsi_tgt_queue_command()" in svg and "each chunk waits for a timer interrupt" in svg


def test_step_breakdown_counts_overlapping_steps_once() -> None:
    steps = [{"name": "build coverage", "start": 100.0, "seconds": 2.0},
             {"name": "boot selftests", "start": 103.0, "seconds": 10.0},
             {"name": "boot coverage", "start": 103.5, "seconds": 11.0},   # beside it
             {"name": "coverage: lcov", "start": 115.0, "seconds": 3.0}]
    out = dict(bench.step_breakdown(steps, 25.0))
    assert out["boot coverage"] == 11.0 and out["build coverage"] == 2.0
    # covered: 2 + (103..114.5) 11.5 + 3 = 16.5 of 25
    assert out["outside the steps (start-up, deps, prepare, reports)"] == pytest.approx(8.5)
    assert bench.step_breakdown([], 3.0) == [
        ("outside the steps (start-up, deps, prepare, reports)", 3.0)]
    assert bench._slug("outside the steps (start-up, deps)") == "outside_the_steps"
    assert bench._slug("coverage: lcov") == "coverage_lcov"


def test_end_to_end_is_split_into_core_and_copy() -> None:
    figs = benchfig.Figures()
    benchfig.kernel_figures(benchfig.parse(synthetic()), figs)
    core = figs.get("kernel.core.vs_memcpy.to.1048576")
    copy = figs.get("kernel.copy.vs_memcpy.to.1048576")
    e2e = figs.get("kernel.e2e.vs_memcpy.to.1048576")
    assert core is not None and copy is not None and e2e is not None
    assert copy.median == pytest.approx(1.0)          # the synthetic copy is a memcpy
    assert core.median + copy.median == pytest.approx(e2e.median)


def test_make_exit_2_is_read_from_its_error_line(tmp_path: Path) -> None:
    log = tmp_path / "make.log"
    log.write_text("374 passed, 1 failed, 0 skipped\nmake: *** [Makefile:53: all] Error 1\n")
    assert bench.tgtsim_code(2, log) == 1
    bench.make_ok(2, log, "make")                      # a failed gate: timed all the same
    log.write_text("tgtsim: error: build failed\nmake: *** [Makefile:53: all] Error 3\n")
    with pytest.raises(InfraError):
        bench.make_ok(2, log, "make")
    assert bench.tgtsim_code(0, log) == 0
    log.write_text("make: *** No rule to make target 'x'.  Stop.\n")
    assert bench.tgtsim_code(2, log) == 2


def test_a_make_that_built_is_not_a_warm_make(tmp_path: Path, monkeypatch, quiet) -> None:
    """The first `make` after a change builds the kernel: it is not counted
    (its steps say so) and is run again, once; the others are counted."""
    from types import SimpleNamespace
    paths = Paths.make(tmp_path / "proj")
    built_first = [{"name": "build coverage", "start": 0.0, "seconds": 20.0}]
    warm = [{"name": "boot coverage", "start": 0.0, "seconds": 9.0}]
    runs: list[Path] = []
    made = []

    def fake_timed(cmd, log, env=None):
        made.append(log.name)
        runs.append(tmp_path / f"run{len(runs)}")
        return (30.0 if len(runs) == 1 else 10.0), 0

    def fake_load(run):
        return None, SimpleNamespace(steps=built_first if run == runs[0] else warm)

    monkeypatch.setattr(bench, "timed", fake_timed)
    monkeypatch.setattr(bench.report, "latest", lambda _out: runs[-1] if runs else None)
    monkeypatch.setattr(bench.report, "load", fake_load)
    monkeypatch.setattr(bench, "bare_boots", lambda *_a: 8.0)
    b = bench.Bench(paths, bench.Options(profile="coverage", reps=3), quiet, tmp_path)
    bench.make_part(b)
    assert made == ["make-warm-0.log", "make-warm-1.log", "make-warm-2.log", "make-warm-3.log"]
    f = b.figs.get("harness.make_warm.s")
    assert f is not None and f.samples == [10.0, 10.0, 10.0]
    ratio = b.figs.get("harness.make_warm.ratio")
    assert ratio is not None and ratio.median == 1.25
    assert bench.built(built_first, "coverage") and not bench.built(warm, "coverage")


def test_bisect_steps_are_timed_and_broken_down(tmp_path: Path, monkeypatch, quiet) -> None:
    """Each repetition: a cold step in an emptied build directory, then the
    next commit in the same one; each step's recorded steps give where its
    time went, shown side by side in bench.md."""
    from types import SimpleNamespace
    paths = Paths.make(tmp_path / "proj")
    bdir = paths.build / bench.BENCH_SUBDIR / "bisect"
    cold = [{"name": "prepare: base", "start": 0.0, "seconds": 30.0},
            {"name": "build kunit", "start": 30.0, "seconds": 70.0},
            {"name": "boot kunit", "start": 100.0, "seconds": 6.0}]
    second = [{"name": "prepare: base", "start": 0.0, "seconds": 0.5},
              {"name": "build kunit", "start": 0.5, "seconds": 15.0},
              {"name": "boot kunit", "start": 15.5, "seconds": 6.0}]
    runs: list[tuple[Path, list[dict[str, Any]]]] = []
    seen = []

    def fake_timed(cmd, log, env=None):
        assert env is not None and env["CCACHE_BASEDIR"] == str(bdir.parent)
        step = "cold" if log.name.endswith("-cold.log") else "second"
        # a cold step starts in an empty build directory, the next in the same one
        seen.append((step, cmd[cmd.index("--commit") + 1], bdir.exists()))
        bdir.mkdir(parents=True, exist_ok=True)
        runs.append((tmp_path / f"run{len(runs)}", cold if step == "cold" else second))
        return (110.0 if step == "cold" else 25.0), 0

    monkeypatch.setattr(bench, "scratch_tree", lambda _b: (tmp_path / "src", "a" * 40, "b" * 40))
    monkeypatch.setattr(bench, "scratch_place", lambda _p, _g: (None, "on disk"))
    monkeypatch.setattr(bench, "timed", fake_timed)
    monkeypatch.setattr(bench.report, "latest", lambda _o: runs[-1][0] if runs else None)
    monkeypatch.setattr(bench.report, "load", lambda run: (None, SimpleNamespace(
        steps=dict(runs)[run])))
    b = bench.Bench(paths, bench.Options(profile="coverage", reps=3), quiet, tmp_path)
    bench.bisect_part(b)
    assert seen == [("cold", "a" * 40, False), ("second", "b" * 40, True)] * 3
    ratio = b.figs.get("harness.bisect.ratio")
    assert ratio is not None and ratio.samples == [25.0 / 110.0] * 3
    base = b.figs.get("harness.bisect.cold.step.prepare_base")
    assert base is not None and base.samples == [30.0] * 3
    out = b.figs.get("harness.bisect.second.step.outside_the_steps")
    assert out is not None and out.median == pytest.approx(25.0 - 21.5)
    md = benchfig.markdown(b.figs, None, [], {"id": "x", "reps": 3})
    assert "## Where the time of a `bisect-step` goes" in md
    assert "| prepare: base | 30.0 [30.0-30.0] | 0.500 [0.500-0.500] |" in md
    assert "| build kunit | 70.0 [70.0-70.0] | 15.0 [15.0-15.0] |" in md
    assert "| outside the steps (start-up, analysis, reports) | 4.00 [4.00-4.00] |" in md

    # a step that fails stops the part with the step's log named
    monkeypatch.setattr(bench, "timed", lambda cmd, log, env=None: (1.0, 3))
    with pytest.raises(InfraError, match=r"bisect-step at aaaaaaaaaaaa exited 3 \(log .*"
                                         r"bisect-0-cold\.log\)"):
        bench.bisect_part(b)


def test_bisect_builds_in_a_private_scratch_directory_removed_after(
        tmp_path: Path, monkeypatch, quiet) -> None:
    """With a scratch place (a tmpfs), the steps build in a directory of
    this process's own there, ccache keyed relative to it, removed when the
    part ends, also when a step fails; one left by a killed bench goes."""
    from types import SimpleNamespace
    paths = Paths.make(tmp_path / "proj")
    shm = tmp_path / "shm"
    shm.mkdir()
    stale = shm / "tgtsim-bench-999999999"       # no such process
    (stale / "bisect").mkdir(parents=True)
    live = shm / "tgtsim-bench-1"                # init: alive, kept
    live.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "bisect").mkdir(parents=True)
    link = shm / "tgtsim-bench-999999998"        # a symlink: not followed, kept
    link.symlink_to(elsewhere)
    bdir = shm / f"tgtsim-bench-{os.getpid()}" / "bisect"
    (bdir / "old").mkdir(parents=True)            # an earlier process with our pid
    seen = []

    def fake_timed(cmd, log, env=None):
        seen.append((cmd[cmd.index("--build-dir") + 1], env["CCACHE_BASEDIR"]))
        bdir.mkdir(parents=True, exist_ok=True)
        return 10.0, 0

    monkeypatch.setattr(bench, "scratch_tree", lambda _b: (tmp_path / "src", "a" * 40, "b" * 40))
    monkeypatch.setattr(bench, "timed", fake_timed)
    monkeypatch.setattr(bench.report, "latest", lambda _o: None)
    monkeypatch.setattr(bench.report, "load", lambda run: (None, SimpleNamespace(steps=[])))
    b = bench.Bench(paths, bench.Options(profile="coverage", reps=3, scratch=shm), quiet,
                    tmp_path)
    bench.bisect_part(b)
    assert seen == [(str(bdir), str(bdir.parent))] * 6
    assert not bdir.parent.exists() and not stale.exists() and live.exists()
    assert link.is_symlink() and (elsewhere / "bisect").is_dir()
    assert b.meta["bisect_scratch"].startswith(f"in {shm} (")

    def failing(cmd, log, env=None):
        bdir.mkdir(parents=True, exist_ok=True)
        return 1.0, 3

    monkeypatch.setattr(bench, "timed", failing)
    with pytest.raises(InfraError, match="exited 3"):
        bench.bisect_part(b)
    assert not bdir.parent.exists()


def test_scratch_place_is_a_roomy_tmpfs_that_allows_exec(tmp_path: Path, monkeypatch) -> None:
    paths = Paths.make(tmp_path / "proj")
    monkeypatch.setattr(bench, "SHM", Path("/dev/shm-test"))    # never touched: no such dir
    big = bench.SCRATCH_NEED
    mounts = {"fs": ("tmpfs", ["rw", "nosuid", "nodev"])}
    monkeypatch.setattr(bench, "_mount", lambda _p: mounts["fs"])
    monkeypatch.setattr(bench, "_free", lambda _p: big)
    monkeypatch.setattr(bench, "mem_available", lambda: big)
    assert bench.scratch_place(paths, None) == (
        bench.SHM, "on tmpfs, in /dev/shm-test (removed when the part ended)")
    monkeypatch.setattr(bench, "mem_available", lambda: big - 1)
    base, why = bench.scratch_place(paths, None)
    assert base is None and why.endswith("GiB of memory available; it needs 6 GiB)")
    assert why.startswith(f"on disk, in {paths.build / 'bench' / 'bisect'} (/dev/shm-test: ")
    monkeypatch.setattr(bench, "mem_available", lambda: big)
    mounts["fs"] = ("tmpfs", ["rw", "noexec"])
    assert bench.scratch_place(paths, None)[1].endswith("(/dev/shm-test does not allow exec)")
    mounts["fs"] = ("ext4", ["rw"])
    assert bench.scratch_place(paths, None)[1].endswith("(/dev/shm-test is not a tmpfs)")
    with pytest.raises(UsageError, match="--scratch .*nowhere: not a writable directory"):
        bench.scratch_place(paths, tmp_path / "nowhere")
    assert bench.scratch_place(paths, tmp_path)[0] == tmp_path


def test_mount_is_the_longest_mount_point_holding_the_path(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw,relatime 0 0\n"
                      "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n"
                      "tmpfs /dev/shmx tmpfs rw,noexec 0 0\n")
    assert bench._mount(Path("/dev/shm/x"), mounts) == ("tmpfs", ["rw", "nosuid", "nodev"])
    assert bench._mount(Path("/dev/shmy"), mounts) == ("ext4", ["rw", "relatime"])
    assert bench._mount(Path("/dev/shm"), tmp_path / "none") == ("", [])


def test_scratch_is_checked_before_anything_is_measured(tmp_path: Path, monkeypatch,
                                                        quiet) -> None:
    """A relative --scratch is made absolute (ccache refuses a relative
    CCACHE_BASEDIR); one that is not a writable directory, or does not
    allow exec, is a usage error before any part runs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s").mkdir()
    assert bench.check_scratch(Path("s")) == tmp_path / "s"
    monkeypatch.setattr(bench, "_mount", lambda _p: ("tmpfs", ["rw", "noexec"]))
    with pytest.raises(UsageError, match="--scratch s: its filesystem does not allow exec"):
        bench.check_scratch(Path("s"))
    ran = []
    monkeypatch.setattr(bench, "kernel_part", lambda b: ran.append("kernel"))
    paths = Paths.make(tmp_path / "proj")
    with pytest.raises(UsageError, match="--scratch nowhere: not a writable directory"):
        bench.run_bench(paths, bench.Options(profile="coverage", scratch=Path("nowhere")),
                        quiet)
    assert ran == [] and not (paths.out / "bench").exists()


def test_a_private_directory_someone_else_made_is_refused(tmp_path: Path) -> None:
    """In a world-writable /dev/shm the name may be taken (a directory or a
    symlink another user put there): the bench refuses it, uses nothing."""
    other = tmp_path / "other"
    other.mkdir()
    (tmp_path / f"tgtsim-bench-{os.getpid()}").symlink_to(other)
    with pytest.raises(InfraError, match="cannot create the bench's scratch directory"):
        bench._private_dir(tmp_path)
    assert list(other.iterdir()) == []
    (tmp_path / f"tgtsim-bench-{os.getpid()}").unlink()
    own = bench._private_dir(tmp_path)
    assert own.is_dir() and (own.stat().st_mode & 0o777) == 0o700


def test_packing_runs_beside_the_bench_build_and_ends_before_anything_timed(
        tmp_path: Path, monkeypatch, quiet) -> None:
    """The first bench of a checkout packs the scratch tree while the
    kernel part builds the bench profile; the boot and every later part
    start only after it ended."""
    import threading
    from types import SimpleNamespace
    built = threading.Event()
    events: list[str] = []

    def pack(_p: Paths, _progress: Progress, base: str) -> Path:
        events.append(f"pack {base[:1]} beside the build: {built.wait(30)}")
        return tmp_path / "src"

    def build(*_a: Any, **_k: Any) -> Path:
        built.set()
        events.append("build")
        return tmp_path / "linux"

    class Boot:
        def __init__(self, *_a: Any) -> None:
            pass

        def kunit_args(self, _opts: Any) -> list[str]:
            return []

        def boot(self, *_a: Any, **_k: Any) -> None:
            events.append(f"boot, packing: {b_seen()}")
            raise InfraError("no kernel here")

    runs: list[bench.Bench] = []
    real_bench = bench.Bench

    def make_bench(*a: Any, **k: Any) -> bench.Bench:
        runs.append(real_bench(*a, **k))
        return runs[-1]

    def b_seen() -> str:
        return "running" if runs[0].packing is not None else "ended"

    monkeypatch.setattr(bench, "Bench", make_bench)
    monkeypatch.setattr(bench.prepare, "keep_base", lambda *_a: None)
    monkeypatch.setattr(bench.prepare, "load_state",
                        lambda _t: SimpleNamespace(base_commit="a" * 40))
    monkeypatch.setattr(bench, "_packed_clone_of", lambda _s, _c: False)
    monkeypatch.setattr(bench, "pack_scratch", pack)
    monkeypatch.setattr(bench.build, "build", build)
    monkeypatch.setattr(bench, "Uml", Boot)
    for part in ("make", "incremental", "bisect"):
        monkeypatch.setattr(bench, f"{part}_part",
                            lambda b, part=part: events.append(f"{part}, packing: {b_seen()}"))
    paths = Paths.make(tmp_path / "proj")
    (paths.profiles).mkdir(parents=True)
    (paths.profiles / "base.config").write_text("")
    (paths.profiles / "coverage.config").write_text("")
    assert bench.run_bench(paths, bench.Options(profile="coverage"), quiet) == bench.EXIT_INFRA
    assert events == ["build", "pack a beside the build: True", "boot, packing: ended",
                      "make, packing: ended", "incremental, packing: ended",
                      "bisect, packing: ended"]
    # without the kernel part, the first part timed waits for it
    events.clear()
    runs.clear()
    bench.run_bench(paths, bench.Options(profile="coverage", parts=("make", "bisect")), quiet)
    assert events == ["pack a beside the build: True", "make, packing: ended",
                      "bisect, packing: ended"]
    # packed already, or no bisect part: nothing is started
    events.clear()
    monkeypatch.setattr(bench, "_packed_clone_of", lambda _s, _c: True)
    bench.run_bench(paths, bench.Options(profile="coverage"), quiet)
    monkeypatch.setattr(bench, "_packed_clone_of", lambda _s, _c: False)
    bench.run_bench(paths, bench.Options(profile="coverage", parts=("kernel", "make")), quiet)
    assert not any(e.startswith("pack") for e in events)

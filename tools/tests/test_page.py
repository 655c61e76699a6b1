"""The HTML report: chunk traces (the tgt-chunks format), the page of a run
drawn from recorded consoles, out/index.html and its retention."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Optional

import pytest

from conftest import DATA, analyse
from tgtsim import chunktrace, cli, page, report, runindex, svg
from tgtsim.errors import InfraError
from tgtsim.report import RunInfo
from tgtsim.results import Results

# a trace as tgt_chunk_trace.h prints it through kunit_info()
TRACE = """\
    # tgt_offsets_chunks_match_block_layer: tgt-chunks: v1 begin dir=to len=524289 max_sectors=1024 sg_tablesize=128 max_segment_size=65536 dma_boundary=0xffffffff name=default ms=1024 off=0 len=524289 to-dev inline
    # tgt_offsets_chunks_match_block_layer: tgt-chunks: chunk off=0 len=524288 nents=8 at=task
    # tgt_offsets_chunks_match_block_layer: tgt-chunks: chunk off=524287 len=2 nents=1 at=task
    # tgt_offsets_chunks_match_block_layer: tgt-chunks: model off=0 len=524288 nents=8
    # tgt_offsets_chunks_match_block_layer: tgt-chunks: model off=524288 len=1 nents=1
    # tgt_offsets_chunks_match_block_layer: tgt-chunks: resp after=2
    # tgt_offsets_chunks_match_block_layer: tgt-chunks: end chunks=2 model=2 err=0 verdict=fail
"""


def test_parse_format_v1() -> None:
    (t,) = chunktrace.parse(TRACE.splitlines())
    assert (t.dir, t.len, t.max_sectors, t.sg_tablesize, t.max_segment_size,
            t.dma_boundary) == ("to", 524289, 1024, 128, 65536, 0xffffffff)
    assert t.name == "default ms=1024 off=0 len=524289 to-dev inline"
    assert [(c.off, c.len, c.nents, c.at) for c in t.chunks] == \
        [(0, 524288, 8, "task"), (524287, 2, 1, "task")]
    assert [(m.off, m.len) for m in t.model] == [(0, 524288), (524288, 1)]
    assert [(r.after, r.count) for r in t.resp] == [(2, 1)]
    assert (t.ended, t.err, t.verdict, t.failed) == (True, 0, "fail", True)
    problems = t.problems()
    assert "1 B before the end of the previous chunk" in problems[1][0]
    assert "model: off 524288 len 1 nents 1" in problems[1]
    assert 0 not in problems


def test_parse_runs_and_selftest_prefix() -> None:
    lines = ["# tgt-chunks: v1 begin dir=from len=12289 max_sectors=8 sg_tablesize=1 "
             "max_segment_size=4096 dma_boundary=0xfff",
             "# tgt-chunks: chunk off=0 len=4096 nents=1 n=3",
             "# tgt-chunks: chunk off=12288 len=1 nents=1 res=0x70000 why=offset",
             "# tgt-chunks: end chunks=4 err=-5 verdict=fail",
             "# tgt-chunks: chunk off=0 len=1 nents=1",        # outside a trace: ignored
             "# tgt-chunks: v2 begin dir=to len=1"]            # another version: ignored
    (t,) = chunktrace.parse(lines)
    assert [c.off for c in t.chunks] == [0, 4096, 8192, 12288]
    assert t.chunks[3].res == 0x70000 and t.chunks[3].why == "offset"
    assert t.err == -5 and not t.resp
    assert any("LLD: result 0x70000 offset" in p for p in t.problems()[3])


def test_runaway_sequence_is_capped() -> None:
    lines = ["# tgt-chunks: v1 begin dir=to len=1 max_sectors=8 sg_tablesize=1 "
             "max_segment_size=4096 dma_boundary=0xfff",
             f"# tgt-chunks: chunk off=0 len=0 nents=0 n={chunktrace.MAX_CHUNKS + 5}"]
    (t,) = chunktrace.parse(lines)
    assert len(t.chunks) == chunktrace.MAX_CHUNKS and t.truncated == 5
    assert t.verdict == "" and t.failed      # cut short: no end line


def test_human_sizes() -> None:
    assert chunktrace.human(4096) == "4 KiB"
    assert chunktrace.human(524289) == "512 KiB + 1"
    assert chunktrace.human(100) == "100 B"
    assert chunktrace.human(3 << 20) == "3 MiB"


class Svgs(HTMLParser):
    """The <svg> elements of a page, each with the elements inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[tuple[dict[str, Optional[str]], list[tuple[str, dict[str, Any]]]]] = []
        self.depth = 0
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.tags.append(tag)
        if tag == "svg":
            self.svgs.append((dict(attrs), []))
            self.depth += 1
        elif self.depth:
            self.svgs[-1][1].append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.tags.append(tag)
        if self.depth:
            self.svgs[-1][1].append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Svgs:
    p = Svgs()
    p.feed(html)
    return p


def test_chunk_svg_draws_wrong_chunk_and_model() -> None:
    (t,) = chunktrace.parse(TRACE.splitlines())
    p = parsed(svg.chunks(t, "x"))
    ((attrs, elements),) = p.svgs
    fills = [a.get("fill") for tag, a in elements if tag == "rect"]
    assert svg.RED in fills and svg.BLUE in fills and svg.RED_BG in fills
    outlines = [a for tag, a in elements if tag == "rect" and a.get("class") == "model"]
    assert len(outlines) == 2                      # the two model chunks
    assert "response" in "".join(p.text)


def test_chunk_svg_many_chunks_as_polygons() -> None:
    lines = ["# tgt-chunks: v1 begin dir=to len=4194304 max_sectors=8 sg_tablesize=1 "
             "max_segment_size=4096 dma_boundary=0xffffffff",
             "# tgt-chunks: chunk off=0 len=4096 nents=1",
             "# tgt-chunks: chunk off=4095 len=4096 nents=1 n=1023",
             "# tgt-chunks: chunk off=4194303 len=1 nents=1",
             "# tgt-chunks: model off=0 len=4096 nents=1 n=1024",
             "# tgt-chunks: resp after=1025",
             "# tgt-chunks: end chunks=1025 model=1024 err=0 verdict=fail"]
    (t,) = chunktrace.parse(lines)
    text = svg.chunks(t)
    p = parsed(text)
    ((_a, elements),) = p.svgs
    runs = [a for tag, a in elements if tag == "line" and a.get("stroke") == svg.RED]
    assert runs, "the wrong run of chunks is not drawn in red"
    assert any(a.get("class") == "model" for tag, a in elements if tag == "line")
    assert len(elements) < 2000 and len(text) < 200_000


def write_run(run_dir: Path, res: Results, info: Optional[RunInfo] = None,
              extra: Optional[dict[str, Any]] = None) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    report.write(run_dir, res, info or RunInfo(run_id=run_dir.name, profile="kunit",
                                               started=1796030989.0, duration=12.5))
    if extra:
        data = json.loads((run_dir / "results.json").read_text())
        data.update(extra)
        (run_dir / "results.json").write_text(json.dumps(data))
    return page.write(run_dir)


def recorded_run(kunit_dir: Path, tmp_path: Path, name: str,
                 info: Optional[RunInfo] = None, extra: Optional[dict[str, Any]] = None,
                 run_name: str = "20261130T100000Z-kunit") -> tuple[str, Results]:
    lines = (DATA / name).read_text().splitlines()
    res = analyse(lines, kunit_dir)
    d = tmp_path / "out" / "runs" / run_name
    d.mkdir(parents=True, exist_ok=True)
    (d / "console.log").write_text("\n".join(lines) + "\n")
    return write_run(d, res, info, extra).read_text(), res


def no_outside_resources(html: str) -> None:
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"\bsrc=", html)
    assert not re.search(r"(?:href|url)\s*[=(]\s*['\"]?(?:https?:)?//", html)
    assert html.count("<html") == 1 and "<style>" in html


def test_page_of_passing_run(kunit_dir: Path, tmp_path: Path) -> None:
    html, res = recorded_run(kunit_dir, tmp_path, "pass.log")
    no_outside_resources(html)
    assert "5 passed, 0 failed, 0 skipped" in html
    assert "class='verdict pass'>PASS" in html
    assert "scsi_lib_test_any_sense" in html
    assert "href='console.log'" in html and "href='results.json'" in html
    assert "href='../../index.html'" in html
    assert "no provenance recorded" in html          # degrades without provenance
    assert "<details class='suite' id='suite-scsi_lib_test'>" in html   # closed


def test_page_of_failing_offsets_case(kunit_dir: Path, tmp_path: Path) -> None:
    """Recorded from `tgtsim mutants 04` (the core sends the second chunk
    one byte short): tgt_offsets_chunks_match_block_layer, 7 parameters."""
    html, res = recorded_run(kunit_dir, tmp_path, "offsets_fail.log")
    no_outside_resources(html)
    assert "class='verdict fail'>FAIL" in html
    assert (res.passed, res.failed) == (1, 6) and res.closing_line() in html
    one_byte = [c for c in res.cases if c.name.endswith("len one chunk + 1")][0]
    (to, frm) = chunktrace.parse(one_byte.log)
    assert [(c.off, c.len) for c in to.chunks] == [(0, 524288), (524287, 2)]
    assert [(m.off, m.len) for m in to.model] == [(0, 524288), (524288, 1)]
    runaway = [c for c in res.cases if c.name.endswith("len 1")][0]
    t = chunktrace.parse(runaway.log)[0]
    assert [c.off for c in t.chunks] == [0] * 5 and t.chunks[-1].why == "stopped"
    assert "zoom on chunk 1: bytes" in html and "overlaps by 1 B" in html
    p = parsed(html)
    chunk_svgs = [(a, els) for a, els in p.svgs if a.get("class") == "chunks"]
    assert chunk_svgs, "no chunk picture on the page of a failing offsets case"
    attrs, elements = chunk_svgs[0]
    assert any(tag == "rect" and a.get("fill") == svg.RED for tag, a in elements), \
        "the wrong chunk is not drawn in red"
    assert re.search(r"<details class='case' id='case-\d+' open>", html)  # opened
    assert "EXPECTATION FAILED" in html
    assert "chunk-trace lines drawn above" in html


def test_page_of_kasan_report(kunit_dir: Path, tmp_path: Path) -> None:
    html, res = recorded_run(kunit_dir, tmp_path, "kasan_uaf.log")
    no_outside_resources(html)
    assert res.sanitizer
    assert "Sanitizer reports" in html
    assert "slab-use-after-free in scsi_host_put_command" in html
    assert "kasan_report+0xd9/0x130" in html            # the trace


def test_page_of_crash(kunit_dir: Path, tmp_path: Path) -> None:
    html, res = recorded_run(kunit_dir, tmp_path, "panic.log")
    no_outside_resources(html)
    assert res.crash and "class='verdict crash'>CRASH" in html
    assert "<h2 id='crash'>Crash</h2>" in html and "href='#crash'" in html
    assert "Kernel panic - not syncing: Segfault with no mm" in html
    assert "RIP: 0033:scsi_host_put_command+0x1c/0x80" in html


def test_kernel_text_is_escaped(kunit_dir: Path, tmp_path: Path) -> None:
    res = Results.from_dict({"suites": [{"name": "s<b>", "cases": [
        {"suite": "s<b>", "name": "c<script>alert(1)</script>", "status": "failed",
         "message": "x & <img src=x onerror=alert(1)>",
         "log": ["<script>alert(2)</script>", "a & b"]}]}],
        "crash": {"reason": "<b>oops</b>", "tail": ["</pre><script>x</script>"]}})
    html = write_run(tmp_path / "r", res).read_text()
    assert "<script" not in html and "<img" not in html and "<b>oops" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "x &amp; &lt;img src=x" in html


def test_provenance_shown_when_present(tmp_path: Path) -> None:
    prov = {"kernel_commit": "0123456789abcdef0123", "kernel_base": "v6.12",
            "series_hash": "feedbeef", "profile": "coverage", "cell": "kunit/x86",
            "seed": 42, "tgtsim_commit": "cafe1234"}
    html = write_run(tmp_path / "out/runs/20261130T100000Z-kunit", Results(),
                     extra={"schema_version": 2, "provenance": prov}).read_text()
    for v in ("0123456789abcdef0123", "v6.12", "feedbeef", "kunit/x86", "cafe1234"):
        assert f"<code>{v}</code>" in html
    assert "no provenance recorded" not in html
    assert "kernel commit" in html and "series hash" in html


def test_steps_bar_chart(tmp_path: Path) -> None:
    info = RunInfo(run_id="r", profile="kunit", steps=[
        {"name": "build kunit", "start": 100.0, "seconds": 30.0, "ok": True},
        {"name": "boot kunit", "start": 131.0, "seconds": 12.0, "ok": True},
        {"name": "boot selftests", "start": 131.5, "seconds": 14.0, "ok": False}])
    html = write_run(tmp_path / "r", Results(), info).read_text()
    p = parsed(html)
    (steps,) = [els for a, els in p.svgs if a.get("class") == "steps"]
    assert sum(1 for tag, _a in steps if tag == "rect") == 3
    assert "boot selftests" in html and "14 s failed" in html
    assert page.wall_time(info) == 45.5


def test_progress_records_steps_for_the_run() -> None:
    import io
    from tgtsim.progress import Progress
    pr = Progress(io.StringIO(), live=False)
    with pr.step("a"):
        pass
    with pytest.raises(RuntimeError):
        with pr.step("b"):
            raise RuntimeError()
    assert [(s["name"], s["ok"]) for s in pr.timings.session] == [("a", True), ("b", False)]


def make_runs(out: Path, names: list[str], failing: tuple[int, ...] = ()) -> None:
    """Runs of a growing suite; those numbered in `failing` with 2 failures."""
    for i, name in enumerate(names):
        bad = 2 if i in failing else 0
        res = Results.from_dict({"suites": [{"name": "s", "cases": [
            {"suite": "s", "name": f"c{k}", "status": "passed"} for k in range(280 + 4 * i)]
            + [{"suite": "s", "name": f"bad{k}", "status": "failed", "message": "m"}
               for k in range(bad)]}]})
        info = RunInfo(run_id=name, profile="coverage", started=1796030989.0 + i,
                       duration=40.0 + 3 * i - 5 * bad,
                       coverage={"lines": {"percent": min(100.0, 90.0 + 2 * i), "hit": 1,
                                           "total": 1},
                                 "branches": {"percent": min(100.0, 84.0 + 2 * i), "hit": 1,
                                              "total": 1}})
        prov = {"kernel_commit": f"{0x6b36f9bb2360 + i:x}", "series_hash": "ab12",
                "profile": "coverage", "seed": 20061125}
        write_run(out / "runs" / name, res, info, {"schema_version": 2, "provenance": prov})


def test_index_newest_first_and_trends(tmp_path: Path) -> None:
    out = tmp_path / "out"
    names = [f"20261130T10000{i}Z-coverage" for i in range(4)]
    make_runs(out, names)
    report.switch_latest(out, out / "runs" / names[-1])
    html = runindex.update(out, keep=20).read_text()
    no_outside_resources(html)
    table = html[html.index("<table class='runs'>"):]
    positions = [table.index(n) for n in reversed(names)]
    assert positions == sorted(positions), "runs not newest first"
    assert "(latest)" in html and "class='latest'" in html
    assert "96.0%" in html and "90.0%" in html       # coverage of the newest
    assert "6b36f9bb2363" in html                     # its kernel commit
    p = parsed(html)
    assert len([a for a, _e in p.svgs if a.get("class") == "trend"]) == 3
    assert f"href='runs/{names[-1]}/index.html'" in html


def test_keep_removes_older_runs_never_latest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    names = [f"20261130T10000{i}Z-kunit" for i in range(5)] + ["20261130T100004Z-kunit-2"]
    make_runs(out, names)
    (out / "runs" / "notarun").mkdir()
    report.switch_latest(out, out / "runs" / names[0])      # latest is the oldest
    runindex.update(out, keep=2)
    left = sorted(d.name for d in (out / "runs").iterdir())
    assert left == sorted([names[0], names[4], names[5], "notarun"])
    assert (out / "latest" / "results.json").is_file()
    html = (out / "index.html").read_text()
    assert names[1] not in html and names[5] in html
    with pytest.raises(InfraError):
        runindex.prune(out, 0)


def test_index_survives_a_broken_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    make_runs(out, ["20261130T100000Z-kunit"])
    (out / "runs/20261130T100001Z-kunit").mkdir()
    (out / "runs/20261130T100001Z-kunit/results.json").write_text("{not json")
    html = runindex.update(out).read_text()
    assert "no readable results.json" in html


def test_cli_keep_and_trace_chunks() -> None:
    args = cli.parse(["run", "--trace-chunks", "--keep", "3"])
    assert args.keep == 3
    opts = cli.boot_options(args)
    for a in chunktrace.KERNEL_ARGS:
        assert a in opts.kernel_args
    assert cli.parse(["all"]).keep == runindex.DEFAULT_KEEP
    assert cli.job_options(cli.parse(["all", "--keep", "5"])).keep == 5
    assert not any("trace_chunks" in a for a in cli.boot_options(cli.parse(["run"])).kernel_args)
    with pytest.raises(SystemExit):
        cli.parse(["run", "--keep", "0"])


def test_first_param_keeps_its_lines(kunit_dir: Path) -> None:
    """kunit_parser files the first parameter's lines in its case's header:
    they go back to the parameter (its assertion, its trace)."""
    res = analyse((DATA / "offsets_first_param.log").read_text().splitlines(), kunit_dir)
    first = [c for c in res.cases if c.status == "failed"][0]
    assert first.name.endswith("/default, len one chunk + 1")
    assert "EXPECTATION FAILED" in first.message
    assert chunktrace.parse(first.log)

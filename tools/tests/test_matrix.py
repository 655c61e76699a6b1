"""The matrix, shards and the merge: matrix.toml's cells, deterministic and
balanced shares, `run --cell`, and `tgtsim merge` of cells run in shards
giving what one unsharded run gives (fake kernels; a gcov program plays the
coverage kernel, as in test_coverage.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

from conftest import DATA, ROOT, TOOLS
from test_coverage import cov, thresholds  # noqa: F401  (the fixture)
from tgtsim import cobertura, lcovinfo, matrix, merge, provenance, shard
from tgtsim.errors import UsageError
from tgtsim.paths import Paths
from tgtsim.uml import BootOptions

SCHEMA = json.loads((Path(provenance.__file__).parent / "results.schema.json").read_text())
PROFILES = ROOT / "kunit" / "profiles"


def tgtsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tgtsim", *args], cwd=ROOT,
                          env={"PYTHONPATH": str(TOOLS), "PATH": "/usr/bin:/bin"},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


# -- the file ----------------------------------------------------------------

def test_the_default_matrix() -> None:
    cells = matrix.load(matrix.default_path(ROOT), PROFILES)
    by_profile: dict[str, list[matrix.Cell]] = {}
    for c in cells:
        by_profile.setdefault(c.profile, []).append(c)
    assert {p: len(cs) >= 2 for p, cs in by_profile.items()} == \
        {"kunit": True, "coverage": True, "debug": True}
    # the suites split into cells; together the coverage cells run them all
    cov_cells = by_profile["coverage"]
    assert {c.kunit for c in cov_cells} == {"tgt_*", "s*"}
    assert any(c.selftests == "*" for c in cov_cells)
    # the seeded random tests again, with other seeds
    seeded = [c for c in cells if c.seed is not None]
    assert {c.kunit for c in seeded} >= {"tgt_cmd_offsets.tgt_offsets_random_matrix",
                                        "tgt_cmd_stress"}
    assert any(c.selftests == "007*" for c in seeded)
    assert len({c.seed for c in seeded}) >= 2


BAD_FILES = {
    "not toml": ("[[cell]\nid = 1\n", "not TOML"),
    "no cells": ("", "no [[cell]] table"),
    "unknown key": ('[[cell]]\nid = "a"\nprofile = "kunit"\nkunit = "x"\nsuite = "y"\n',
                    "unknown key(s) suite"),
    "unknown profile": ('[[cell]]\nid = "a"\nprofile = "fast"\nkunit = "x"\n',
                        "unknown profile 'fast'"),
    "no kunit": ('[[cell]]\nid = "a"\nprofile = "kunit"\n', "`kunit`"),
    "bad id": ('[[cell]]\nid = "A b"\nprofile = "kunit"\nkunit = "x"\n', "id 'A b'"),
    "twice": ('[[cell]]\nid = "a"\nprofile = "kunit"\nkunit = "x"\n' * 2, "used twice: a"),
    "bad seed": ('[[cell]]\nid = "a"\nprofile = "kunit"\nkunit = "x"\nseed = "7"\n', "seed"),
    "bad args": ('[[cell]]\nid = "a"\nprofile = "kunit"\nkunit = "x"\nargs = "a=1"\n', "args"),
}


@pytest.mark.parametrize("text,msg", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_malformed_matrix_is_one_message_exit_2(tmp_path: Path, text: str, msg: str) -> None:
    f = tmp_path / "m.toml"
    f.write_text(text)
    with pytest.raises(matrix.MatrixError) as e:
        matrix.load(f, PROFILES)
    assert msg in e.value.message and e.value.exit_code == 2
    cp = tgtsim("matrix", "list", "--matrix", str(f))
    assert cp.returncode == 2 and "Traceback" not in cp.stderr
    assert cp.stderr.count("\n") == 1 and msg in cp.stderr


@pytest.mark.parametrize("args,msg", [
    (["run", "--cell", "999"], "no cell '999'"),
    (["shard", "--index", "5", "--total", "4"], "--index must be between 1 and --total 4"),
    (["shard", "--index", "0", "--total", "4"], "--index must be between 1"),
    (["shard", "--index", "1", "--total", "0"], "--total must be >= 1"),
    (["shard", "--index", "1", "--total", "2", "--cells", "nope*"], "matches no cell"),
    (["run", "kunit", "--cell", "debug-sim"], "is of profile debug"),
])
def test_bad_cells_and_shards_exit_2(args: list[str], msg: str) -> None:
    cp = tgtsim(*args)
    assert cp.returncode == 2, cp.stderr
    assert msg in cp.stderr and "Traceback" not in cp.stderr


def test_matrix_list_and_dry_run() -> None:
    cp = tgtsim("matrix", "list", "--total", "4")
    assert cp.returncode == 0
    ids = [ln.split()[0] for ln in cp.stdout.splitlines()]
    assert ids == [c.id for c in matrix.load(matrix.default_path(ROOT), PROFILES)]
    cp = tgtsim("shard", "--index", "2", "--total", "3", "--dry-run", "--cells", "coverage-*")
    assert cp.returncode == 0 and cp.stdout.startswith("shard 2/3: 1 of 2 cells")


# -- shares --------------------------------------------------------------------

def cells_of(costs: list[float]) -> list[matrix.Cell]:
    return [matrix.Cell(id=f"c{i:02d}", profile="kunit", kunit="x", cost=c)
            for i, c in enumerate(costs)]


def test_shares_are_deterministic_complete_and_balanced() -> None:
    cells = cells_of([150, 50, 40, 30, 30, 30, 12, 10, 10, 60])
    for total in range(1, 7):
        parts = matrix.shares(cells, total)
        assert parts == matrix.shares(list(cells), total)
        ids = sorted(c.id for p in parts for c in p)
        assert ids == sorted(c.id for c in cells)
        loads = [sum(c.estimate for c in p) for p in parts]
        ideal = sum(c.estimate for c in cells) / total
        assert max(loads) <= max(ideal, 150) + 60      # LPT's bound, loosely
    assert matrix.shares(cells, 1) == [cells]
    assert [c.id for c in matrix.share(cells, 1, 3)] == ["c00"]       # the big one alone
    with pytest.raises(UsageError):
        matrix.share(cells, 4, 3)


def test_cell_options() -> None:
    c = matrix.Cell(id="a", profile="kunit", kunit="tgt_cmd_stress", selftests="007*", seed=3,
                    args=("tgt_kunit.stress_ops=5",))
    o = shard.cell_options(c, BootOptions(timeout=9, kernel_args=["x=1"]))
    assert (o.filter_glob, o.seed, o.selftests, o.selftest_filter, o.timeout) == \
        ("tgt_cmd_stress", 3, True, "007*", 9)
    assert o.kernel_args == ["x=1", "tgt_kunit.stress_ops=5"]
    assert not shard.cell_options(matrix.Cell(id="b", profile="kunit", kunit="s*"),
                                  BootOptions(selftests=True)).selftests


# -- cells, shards, merge (a gcov program as the coverage kernel) ---------------

FAKE = ('[[cell]]\nid = "cov-low"\nprofile = "coverage"\nkunit = "low*"\ncost = 10\n'
        '[[cell]]\nid = "cov-high"\nprofile = "coverage"\nkunit = "high*"\ncost = 10\n'
        '[[cell]]\nid = "cov-pass"\nprofile = "coverage"\nkunit = "pass*"\nseed = 4\n'
        'cost = 5\n')


def fake_cells(paths: Paths) -> list[matrix.Cell]:
    f = paths.root / "matrix.toml"
    f.write_text(FAKE)
    exe = paths.kbuild("coverage") / "linux"
    # the 'kernel' takes one branch of tgt_check() or the other by its cell's glob
    exe.write_text('#!/bin/sh\ncase "$*" in *filter_glob=high*) ./prog 20;; *) ./prog 3;; '
                   f'esac\ncase "$*" in *filter_glob=low*) cat {DATA / "fail.log"};; *) '
                   f'cat {DATA / "pass.log"};; esac\n')
    exe.chmod(0o755)
    return matrix.load(f, paths.profiles)


def run_in(paths: Paths, out: Path, cells: list[matrix.Cell], quiet) -> None:
    p = Paths(root=paths.root, build=paths.build, out=out, tarball=paths.tarball)
    for c in cells:
        shard.run_cell(p, c, BootOptions(), quiet, 1)


def merged(paths: Paths, out: Path, dirs: list[Path], quiet, expect=None) -> dict:
    rc = merge.merge(paths, dirs, out, quiet, expect=expect)
    data = json.loads((out / "results.json").read_text())
    assert data["exit_code"] == rc
    return data


def case_set(data: dict) -> set[tuple[str, str, str, str]]:
    return {(s["cell"], c["suite"], c["name"], c["status"]) for s in data["suites"]
            for c in s["cases"]}


def test_four_shards_merge_like_one_run(cov: Paths, quiet, tmp_path: Path,  # noqa: F811
                                        capsys) -> None:
    thresholds(cov, 100, 100)
    cells = fake_cells(cov)
    # one unsharded run of the cells
    run_in(cov, tmp_path / "one", cells, quiet)
    one = merged(cov, tmp_path / "merged-one", [tmp_path / "one"], quiet)
    # the same cells as 4 shards, each its own out/ (runners), then the merge
    dirs = []
    for k, part in enumerate(matrix.shares(cells, 4), 1):
        run_in(cov, tmp_path / f"shard{k}", part, quiet)
        dirs.append(tmp_path / f"shard{k}")
    four = merged(cov, tmp_path / "merged-four", [d for d in dirs if d.exists()], quiet,
                  expect=[c.id for c in cells])
    assert case_set(one) == case_set(four)
    assert {c for c in case_set(four) if c[0] == "cov-low" and c[3] == "failed"}
    assert one["coverage"]["lines"] == four["coverage"]["lines"]
    assert one["coverage"]["branches"] == four["coverage"]["branches"]
    # each cell alone takes one branch of tgt_check(); merged, both
    assert four["coverage"]["branches"]["hit"] == four["coverage"]["branches"]["total"]
    a = lcovinfo.load(tmp_path / "merged-one/coverage/coverage.info")
    b = lcovinfo.load(tmp_path / "merged-four/coverage/coverage.info")
    assert {f: (c.lines, c.branches, c.functions) for f, c in a.items()} == \
        {f: (c.lines, c.branches, c.functions) for f, c in b.items()}
    assert [c["id"] for c in four["cells"]] == sorted(c.id for c in cells)
    jsonschema.Draft202012Validator(SCHEMA).validate(four)
    assert four["provenance"]["cell"] is None and four["exit_code"] == 1


def test_merge_outputs(cov: Paths, quiet, tmp_path: Path) -> None:  # noqa: F811
    thresholds(cov, 100, 100)
    cells = fake_cells(cov)
    run_in(cov, tmp_path / "a", cells[:2], quiet)
    out = tmp_path / "merged"
    data = merged(cov, out, [tmp_path / "a"], quiet, expect=[c.id for c in cells])
    for f in ("summary.txt", "results.json", "junit.xml", "coverage/cobertura.xml",
              "coverage/html/index.html", "coverage/coverage.info", "coverage/patch.txt"):
        assert (out / f).is_file() and not (out / f).is_symlink(), f
    assert cobertura.check(out / "coverage/cobertura.xml") == []
    assert cobertura.filenames(out / "coverage/cobertura.xml") == ["drivers/scsi/scsi.c"]
    root = etree.parse(str(out / "junit.xml")).getroot()
    etree.XMLSchema(etree.parse(str(Path(provenance.__file__).parent / "junit.xsd"))) \
        .assertValid(root)
    suites = [ts.get("name") for ts in root.iter("testsuite")]
    assert suites == ["cov-high", "cov-low", "merge"]
    props = {p.get("name"): p.get("value") for p in root.find("testsuite").iter("property")}
    assert props["cell"] == "cov-high" and props["profile"] == "coverage"
    # the missing cell is a failure of the merge itself
    missing = [c for c in data["suites"] if c["cell"] == "merge"
               and c["name"] == merge.SUITE][0]["cases"]
    assert [c["name"] for c in missing] == ["cell cov-pass"]
    assert (out / "summary.txt").read_text().splitlines()[-1].endswith("skipped")


def test_merge_refuses_other_kernels_and_nothing(cov: Paths, quiet, tmp_path: Path  # noqa: F811
                                                 ) -> None:
    cells = fake_cells(cov)
    run_in(cov, tmp_path / "a", cells[:2], quiet)
    f = next((tmp_path / "a/runs").rglob("results.json"))
    data = json.loads(f.read_text())
    data["provenance"]["kernel_base"] = "0" * 40
    f.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="runs of one kernel only"):
        merge.merge(cov, [tmp_path / "a"], tmp_path / "m", quiet)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no run of a matrix cell"):
        merge.merge(cov, [tmp_path / "empty"], tmp_path / "m", quiet)


def test_tracefiles_of_another_checkout_path_are_merged(cov: Paths, quiet,  # noqa: F811
                                                        tmp_path: Path) -> None:
    cells = fake_cells(cov)
    run_in(cov, tmp_path / "a", cells[:1], quiet)
    run_dir = next((tmp_path / "a/runs").rglob("results.json")).parent
    info = run_dir / "coverage/coverage.info"
    other = "/builds/elsewhere/build/linux"
    info.write_text(info.read_text().replace(str(cov.linux), other))
    data = json.loads((run_dir / "results.json").read_text())
    data["coverage"]["tree"] = other
    (run_dir / "results.json").write_text(json.dumps(data))
    out = merged(cov, tmp_path / "m", [tmp_path / "a"], quiet)
    assert out["coverage"]["lines"]["hit"] > 0
    shutil.rmtree(tmp_path / "m")

"""tools/check_ci.py: the commands of the CI templates are found and
checked (programs, scripts of the checkout, tgtsim's parser, make targets);
the templates themselves pass."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

import check_ci


def test_simple_commands() -> None:
    script = ('apt-get update -q && apt-get install -y git\n'
              'tools/bin/tgtsim --out "out/shard-${{ matrix.shard }}" shard --index $I\n'
              'X=1 make deps | tee log; cat "$GITHUB_STEP_SUMMARY"  # a comment\n')
    assert check_ci.simple_commands(script) == [
        ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "git"],
        ["tools/bin/tgtsim", "--out", "out/shard-1", "shard", "--index", "1"],
        ["make", "deps"], ["tee", "log"], ["cat", "1"]]


@pytest.mark.parametrize("words,why", [
    (["tools/bin/tgtsim", "shard", "--index", "1", "--totl", "2"], "parser refuses"),
    (["tools/bin/tgtsim", "no-such-command"], "parser refuses"),
    (["tools/bin/nope"], "no executable file"),
    (["bash", "ci/nope.sh"], "no such script"),
    (["no-such-program-here", "x"], "not found on this machine"),
    (["make", "no-such-target"], "no such target"),
])
def test_a_missing_command_is_found(words: list[str], why: str) -> None:
    assert why in check_ci.check_command(words)


def test_existing_commands_pass() -> None:
    for words in (["tools/bin/tgtsim", "merge", "shards", "--expect", "", "--out-dir", "m"],
                  ["tools/bin/tgtsim", "--build-dir", "b", "prepare"], ["bash", "ci/setup.sh"],
                  ["make", "deps"], ["$SUDO", "apt-get", "update"]):
        assert check_ci.check_command(words) == "", words


def test_the_templates_commands_exist() -> None:
    checks = check_ci.Checks()
    check_ci.check_commands("github", check_ci.github_scripts(
        yaml.safe_load(check_ci.GITHUB.read_text())), checks)
    check_ci.check_commands("gitlab", check_ci.gitlab_scripts(
        yaml.safe_load(check_ci.GITLAB.read_text())), checks)
    assert [s for _n, s, _d in checks.items] == ["PASS", "PASS"], checks.items
    gitlab = yaml.safe_load(check_ci.GITLAB.read_text())
    assert gitlab["shard"]["parallel"]["matrix"][0]["SHARD"] == ["1", "2", "3", "4"]
    assert gitlab["merge"]["artifacts"]["reports"]["coverage_report"]["coverage_format"] \
        == "cobertura"
    github = yaml.safe_load(check_ci.GITHUB.read_text())
    assert github["jobs"]["shard"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert "--ipc=host" in github["jobs"]["shard"]["container"]["options"]


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_static_checks_pass() -> None:
    cp = subprocess.run([sys.executable, str(check_ci.TOOLS / "check_ci.py"), "--static"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                        timeout=300)
    assert cp.returncode == 0, cp.stdout
    last = cp.stdout.splitlines()[-1]
    assert last.startswith("ci: 4 passed, 0 failed, 1 skipped") or "npm" in cp.stdout


def _merged(d, scope_branches: str, um_branch: str, patch_hit: int = 10):
    import json
    cov = d / "coverage"
    cov.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"coverage": {
        "lines": {"hit": patch_hit, "total": 10}, "branches": {"hit": 4, "total": 4}}}))
    scope = ("SF:/k/drivers/scsi/scsi.c\nDA:1,1\nDA:2,0\nBRDA:1,0,0,1\nBRDA:1,0,1,"
             + scope_branches + "\nend_of_record\n")
    um = "SF:/k/arch/um/os-Linux/signal.c\nDA:5,3\nBRDA:5,0,1," + um_branch + "\nend_of_record\n"
    (cov / "scope.info").write_text(scope)
    (cov / "coverage.info").write_text(scope + um)
    return d


def test_same_coverage_ignores_umls_own_timing_branches(tmp_path) -> None:
    a = _merged(tmp_path / "a", scope_branches="2", um_branch="1")
    b = _merged(tmp_path / "b", scope_branches="2", um_branch="-")
    same, detail = check_ci.same_coverage(a, b)
    assert same
    assert "0 differ), branches taken 2 vs 2 (0 differ)" in detail
    assert "outside the scope (not compared): 0 lines, 1 branches differ in " \
        "/k/arch/um/os-Linux/signal.c" in detail


@pytest.mark.parametrize("scope_b,patch_b", [("-", 10), ("2", 9)])
def test_same_coverage_fails_on_a_scope_or_patch_difference(tmp_path, scope_b, patch_b) -> None:
    a = _merged(tmp_path / "a", scope_branches="2", um_branch="1")
    b = _merged(tmp_path / "b", scope_branches=scope_b, um_branch="1", patch_hit=patch_b)
    same, detail = check_ci.same_coverage(a, b)
    assert not same
    assert ("patch lines 10/10 vs 9/10" in detail) == (patch_b == 9)
    assert ("first: scsi.c:(1, 0, 1)" in detail) == (scope_b == "-")

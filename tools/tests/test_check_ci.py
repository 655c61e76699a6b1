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

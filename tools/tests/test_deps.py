import io

import pytest

from tgtsim import deps
from tgtsim.errors import InfraError
from tgtsim.progress import Progress


def test_check_reports_missing(monkeypatch) -> None:
    monkeypatch.setattr(deps, "installed_packages", lambda names: set(names) - {"ccache", "bc"})
    st = deps.check()
    assert st.missing == ["bc", "ccache"]
    assert st.install_line() == "apt-get install -y bc ccache"


def test_real_dpkg_query() -> None:
    have = deps.installed_packages(["dpkg", "no-such-package-xyz"])
    assert "dpkg" in have and "no-such-package-xyz" not in have


def test_without_install_prints_line(monkeypatch) -> None:
    monkeypatch.setattr(deps, "installed_packages", lambda names: set(names) - {"lcov"})
    with pytest.raises(InfraError, match="apt-get install -y lcov"):
        deps.run_deps(False, Progress(io.StringIO(), live=False))


def test_install_needs_root(monkeypatch) -> None:
    monkeypatch.setattr(deps.os, "geteuid", lambda: 1000)
    with pytest.raises(InfraError, match="not root"):
        deps.install(["lcov"], Progress(io.StringIO(), live=False))


def test_install_runs_apt(monkeypatch) -> None:
    calls = []

    class R:
        returncode, lines = 0, list[str]()

    def fake(cmd, **kw):
        calls.append((cmd, kw["env"]["DEBIAN_FRONTEND"]))
        return R()
    monkeypatch.setattr(deps.os, "geteuid", lambda: 0)
    monkeypatch.setattr(deps, "run_watched", fake)
    deps.install(["lcov"], Progress(io.StringIO(), live=False))
    assert calls[0] == (["apt-get", "update"], "noninteractive")
    assert calls[1][0][:3] == ["apt-get", "install", "-y"] and calls[1][0][-1] == "lcov"


def test_all_present(monkeypatch) -> None:
    monkeypatch.setattr(deps, "installed_packages", lambda names: set(names))
    assert deps.run_deps(False, Progress(io.StringIO(), live=False)) == 0


def test_every_python_module_has_its_package() -> None:
    assert set(deps.MODULES.values()) <= set(deps.PACKAGES)
    assert deps.missing_modules() == []


def test_missing_modules_are_installed_only_by_the_dependency_step(monkeypatch) -> None:
    quiet = Progress(io.StringIO(), live=False)
    installed: list[list[str]] = []
    monkeypatch.setattr(deps, "missing_modules", lambda: ["python3-unidiff"] if not installed
                        else [])
    monkeypatch.setattr(deps, "install", lambda missing, progress: installed.append(missing))
    with pytest.raises(InfraError, match="missing Python packages: python3-unidiff"):
        deps.ensure_modules(["report"], quiet)
    with pytest.raises(InfraError, match="tgtsim deps --install"):
        deps.ensure_modules(["all", "--no-deps"], quiet)
    deps.ensure_modules(["-j", "2", "all", "--profile", "kunit"], quiet)
    assert installed == [["python3-unidiff"]]


def test_a_fresh_machine_gets_a_message_not_an_import_error(tmp_path) -> None:
    """python3 -m tgtsim without the Python packages it imports (hidden
    here): one clear message and exit 3."""
    import os
    import subprocess
    import sys
    from conftest import TOOLS
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\nclass Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('junitparser', 'unidiff', 'lxml'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n")
    env = dict(os.environ, PYTHONPATH=f"{hide}:{TOOLS}")
    cp = subprocess.run([sys.executable, "-m", "tgtsim", "report"], env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert cp.returncode == 3 and "Traceback" not in cp.stderr
    assert "missing Python packages: python3-junitparser python3-lxml python3-unidiff" \
        in cp.stderr

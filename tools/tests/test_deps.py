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
        returncode, lines = 0, []

    def fake(cmd, **kw):
        calls.append((cmd, kw["env"]["DEBIAN_FRONTEND"]))
        return R()
    monkeypatch.setattr(deps.os, "geteuid", lambda: 0)
    import tgtsim.procs
    monkeypatch.setattr(tgtsim.procs, "run_watched", fake)
    deps.install(["lcov"], Progress(io.StringIO(), live=False))
    assert calls[0] == (["apt-get", "update"], "noninteractive")
    assert calls[1][0][:3] == ["apt-get", "install", "-y"] and calls[1][0][-1] == "lcov"


def test_all_present(monkeypatch) -> None:
    monkeypatch.setattr(deps, "installed_packages", lambda names: set(names))
    assert deps.run_deps(False, Progress(io.StringIO(), live=False)) == 0

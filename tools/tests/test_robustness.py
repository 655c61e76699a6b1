"""tgtsim itself under trouble, with a fake `linux` (a shell script) in a
scratch project, driven through the real command line in a subprocess:
Ctrl-C and SIGTERM leave no process of the kernel's group behind, two runs
at once in different output directories do not interfere, an unwritable
out/ and a full disk give one clear error (exit 3), never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATA, TOOLS, eventually, latest_run
from test_signals import defaults

PASS_LOG = DATA / "pass.log"


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(d.name))
    return out


def group_gone(pgid: int, within: float = 5.0) -> bool:
    """Process group `pgid` has no live member within `within` seconds
    (SIGKILL is asynchronous: killed processes may still be exiting)."""
    return eventually(lambda: not group_members(pgid), within)


def error_of(err: str) -> str:
    """The one error line tgtsim printed (stderr also has progress lines)."""
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("tgtsim: error:")]
    assert len(errors) == 1, err
    return errors[0]


def wait_for(path: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


@pytest.fixture
def project(tmp_path: Path, kunit_dir: Path) -> Path:
    root = tmp_path / "proj"
    (root / "kunit/profiles").mkdir(parents=True)
    (root / "kunit/profiles/base.config").write_text("CONFIG_KUNIT=y\n")
    (root / "kunit/profiles/kunit.config").write_text("")
    (root / "build/kbuild/kunit").mkdir(parents=True)
    return root


def fake_linux(root: Path, body: str) -> None:
    exe = root / "build/kbuild/kunit/linux"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)


def tgtsim(root: Path, kunit_dir: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, TGTSIM_ROOT=str(root), TGTSIM_KUNIT_DIR=str(kunit_dir),
               PYTHONPATH=str(TOOLS), CI="true")
    env.pop("TGTSIM_DEBUG", None)
    # SIGINT and SIGTERM at their defaults, whatever this process inherited:
    # started as a background job, pytest has SIGINT ignored, and so would
    # tgtsim (which then keeps ignoring it: test_signals.py)
    return subprocess.Popen([sys.executable, "-m", "tgtsim", "--build-dir", str(root / "build"),
                             *args], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=defaults())


# a kernel that prints the start of its KTAP, starts a helper process (as
# UML does) and hangs; it tells its process group and the helper's pid
HANGING = f"""head -n 12 {PASS_LOG}
sleep 300 &
echo "$(ps -o pgid= $$) $!" > "$TGTSIM_TEST_PIDS.tmp"
mv "$TGTSIM_TEST_PIDS.tmp" "$TGTSIM_TEST_PIDS"
wait
"""


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated")])
def test_signal_leaves_no_kernel_process(project: Path, kunit_dir: Path, tmp_path: Path,
                                         monkeypatch, sig: int, code: int, word: str) -> None:
    pids = tmp_path / "pids"
    monkeypatch.setenv("TGTSIM_TEST_PIDS", str(pids))
    fake_linux(project, HANGING)
    p = tgtsim(project, kunit_dir, "--out", str(tmp_path / "out"), "run", "kunit", "--no-selftests",
               "--idle-timeout", "100")
    try:
        wait_for(pids)
        pgid, helper = (int(x) for x in pids.read_text().split())
        assert group_members(pgid), "the fake kernel is not running"
        t0 = time.monotonic()
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert time.monotonic() - t0 < 10
    assert p.returncode == code, err
    assert err.strip().endswith(f"tgtsim: {word}") and "Traceback" not in err
    assert group_gone(pgid)
    assert helper not in group_members(pgid)


# a kernel that waits until the other run's kernel is running too, so that
# both runs really overlap, then reports its own marker
TWIN = f"""m=none
for a in "$@"; do case "$a" in twin=*) m="${{a#twin=}}";; esac; done
touch "$TGTSIM_TEST_DIR/started-$m"
n=0
while [ "$(ls "$TGTSIM_TEST_DIR" | grep -c '^started-')" -lt 2 ] && [ $n -lt 400 ]; do
  sleep 0.05; n=$((n + 1))
done
echo "twin run $m"
cat {PASS_LOG}
"""


def test_two_runs_at_once_do_not_interfere(project: Path, kunit_dir: Path, tmp_path: Path,
                                           monkeypatch) -> None:
    rendezvous = tmp_path / "rv"
    rendezvous.mkdir()
    monkeypatch.setenv("TGTSIM_TEST_DIR", str(rendezvous))
    fake_linux(project, TWIN)
    procs = {m: tgtsim(project, kunit_dir, "--out", str(tmp_path / f"out-{m}"), "run", "kunit", "--no-selftests",
                       "--kernel-arg", f"twin={m}") for m in ("A", "B")}
    results = {m: p.communicate(timeout=60) for m, p in procs.items()}
    assert sorted(p.name for p in rendezvous.iterdir()) == ["started-A", "started-B"]
    for m, p in procs.items():
        other = "B" if m == "A" else "A"
        out = tmp_path / f"out-{m}"
        assert p.returncode == 0, results[m][1]
        runs = list((out / "runs").iterdir())
        assert len(runs) == 1 and (out / "latest").resolve() == runs[0].resolve()
        console = (out / "latest/console.log").read_text()
        assert f"twin run {m}" in console and f"twin run {other}" not in console
        data = json.loads((out / "results.json").read_text())
        assert f"twin={m}" in data["kernel_args"] and data["counts"]["passed"] == 5
        assert results[m][0].splitlines()[-1] == "5 passed, 0 failed, 0 skipped"


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.call(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                           stderr=subprocess.DEVNULL) == 0


def _run_cli(project: Path, kunit_dir: Path, out: Path) -> tuple[int, str, str]:
    p = tgtsim(project, kunit_dir, "--out", str(out), "run", "kunit", "--no-selftests")
    o, e = p.communicate(timeout=60)
    return p.returncode, o, e


def test_out_is_not_a_directory(project: Path, kunit_dir: Path, tmp_path: Path) -> None:
    fake_linux(project, f"cat {PASS_LOG}\n")
    out = tmp_path / "out"
    out.write_text("a file where out/ should be\n")
    rc, _o, err = _run_cli(project, kunit_dir, out)
    assert rc == 3
    assert error_of(err).startswith(f"tgtsim: error: cannot write to {out}:")


def test_read_only_out(project: Path, kunit_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ro"
    if not _mount_tmpfs(out, "ro,size=64k"):
        pytest.skip("cannot mount a read-only tmpfs here (not root?)")
    try:
        fake_linux(project, f"cat {PASS_LOG}\n")
        rc, _o, err = _run_cli(project, kunit_dir, out)
    finally:
        subprocess.call(["umount", str(out)])
    assert rc == 3
    assert error_of(err) == f"tgtsim: error: cannot write to {out}: Read-only file system"


def test_disk_full_during_boot_tmpfs(project: Path, kunit_dir: Path, tmp_path: Path) -> None:
    """A real full file system: out/ on a 64 KiB tmpfs, the kernel prints more."""
    out = tmp_path / "small"
    if not _mount_tmpfs(out, "size=64k"):
        pytest.skip("cannot mount a tmpfs here (not root?)")
    pids = tmp_path / "pids"
    try:
        fake_linux(project, f"""echo "$(ps -o pgid= $$)" > {pids}
cat {PASS_LOG}
i=0; while [ $i -lt 4000 ]; do echo "console line $i of a chatty kernel ........................"; i=$((i+1)); done
sleep 300
""")
        t0 = time.monotonic()
        rc, _o, err = _run_cli(project, kunit_dir, out)
        elapsed = time.monotonic() - t0
    finally:
        subprocess.call(["umount", str(out)])
    assert rc == 3, err
    msg = error_of(err)
    assert msg.startswith(f"tgtsim: error: cannot write {out}/runs/")
    assert msg.endswith("/console.log: No space left on device") and elapsed < 30
    assert group_gone(int(pids.read_text()))


def test_disk_full_during_boot_dev_full(project: Path, kunit_dir: Path, tmp_path: Path,
                                        monkeypatch, capsys) -> None:
    """ENOSPC from a real write (/dev/full) without mounting anything: the
    console log of the run is /dev/full. In-process, through cli.main."""
    from tgtsim import cli, report
    pids = tmp_path / "pids"
    fake_linux(project, f"""echo "$(ps -o pgid= $$)" > {pids}
cat {PASS_LOG}
sleep 300
""")
    real = report.new_run_dir

    def run_dir_on_full_disk(out: Path, profile: str) -> Path:
        d = real(out, profile)
        (d / "console.log").symlink_to("/dev/full")
        return d

    monkeypatch.setattr(report, "new_run_dir", run_dir_on_full_disk)
    monkeypatch.setenv("TGTSIM_ROOT", str(project))
    monkeypatch.setenv("TGTSIM_KUNIT_DIR", str(kunit_dir))
    t0 = time.monotonic()
    rc = cli.main(["--build-dir", str(project / "build"), "--out", str(tmp_path / "out"),
                   "run", "kunit", "--no-selftests"])
    assert rc == 3 and time.monotonic() - t0 < 30
    msg = error_of(capsys.readouterr().err)
    assert msg.startswith("tgtsim: error: cannot write ")
    assert msg.endswith("/console.log: No space left on device")
    assert group_gone(int(pids.read_text()))
    assert not (tmp_path / "out/latest").exists()


def test_disk_full_writing_reports_keeps_previous_run(project: Path, kunit_dir: Path,
                                                      tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    from tgtsim import cli, report
    fake_linux(project, f"cat {PASS_LOG}\n")
    monkeypatch.setenv("TGTSIM_ROOT", str(project))
    monkeypatch.setenv("TGTSIM_KUNIT_DIR", str(kunit_dir))
    argv = ["--build-dir", str(project / "build"), "--out", str(tmp_path / "out"), "run", "kunit", "--no-selftests"]
    assert cli.main(argv) == 0
    first = latest_run(tmp_path / "out")
    real = report.new_run_dir

    def reports_on_full_disk(out: Path, profile: str) -> Path:
        d = real(out, profile)
        (d / "summary.txt").symlink_to("/dev/full")
        return d

    monkeypatch.setattr(report, "new_run_dir", reports_on_full_disk)
    capsys.readouterr()
    assert cli.main(argv) == 3
    msg = error_of(capsys.readouterr().err)
    assert msg.startswith("tgtsim: error: cannot write reports to ")
    assert msg.endswith("No space left on device")
    assert latest_run(tmp_path / "out") == first

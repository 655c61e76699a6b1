"""The selftest boot of a real UML kernel cannot change the host: its root
is the host's / read-only (hostfs `ro`), the programs get a tmpfs (ramfs)
inside UML for scratch and write results only into the run directory
(selftests-out/, TGTSIM_OUT).

A program (a shell script, as any selftest program runs) tries every kind
of write outside its run directory: each fails with EROFS and nothing on
the host changes; its scratch and run-directory writes work. The boot goes
through tgtsim's own command line (uml.Uml.boot_selftests) and the real
selftests/init.sh.

Needs a built UML kernel: $TGTSIM_UML_KERNEL, else the first of
build/kbuild/{kunit,coverage,debug}/linux of this checkout (skipped
without one; `make check` runs it after the main job built one)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest

from conftest import ROOT
from tgtsim.uml import SELFTEST_OUT, BootOptions, Uml

pytestmark = pytest.mark.uml


def uml_kernel() -> Optional[Path]:
    env = os.environ.get("TGTSIM_UML_KERNEL")
    if env:
        return Path(env)
    for profile in ("kunit", "coverage", "debug"):
        p = ROOT / "build/kbuild" / profile / "linux"
        if p.is_file():
            return p
    return None


# each check is "what" and a command that must fail with EROFS
WRITES = [
    ("append", 'echo x >> "$V/victim.txt"'),
    ("truncate", ': > "$V/victim.txt"'),
    ("create", 'echo y > "$V/new.txt"'),
    ("remove", 'rm -f "$V/victim.txt"'),
    ("rename", 'mv "$V/victim.txt" "$V/moved.txt"'),
    ("chmod", 'chmod 777 "$V/victim.txt"'),
    ("touch", 'touch "$V/victim.txt"'),
    ("mkdir", 'mkdir "$V/newdir"'),
    ("symlink", 'ln -s victim.txt "$V/link"'),
    ("dd", 'dd if=/dev/zero of="$V/victim.txt" bs=1 count=1 conv=notrunc'),
    ("the program itself", 'echo x >> "$0"'),
    ("the checkout", f'touch "{ROOT}/tools/README.md"'),
    ("the host's /etc", 'touch /etc/tgtsim-was-here'),
]

PROGRAM = """#!/bin/sh
V={victim_dir}
export V
echo "TAP version 13"
echo "1..{n}"
n=0
check() {{
	n=$((n + 1))
	if sh -c "$2" 2>"$TMPDIR/err"; then
		echo "not ok $n $1: the write went through"
	elif grep -q "Read-only file system" "$TMPDIR/err"; then
		echo "ok $n $1: $(cat "$TMPDIR/err")"
	else
		echo "not ok $n $1: not EROFS: $(cat "$TMPDIR/err")"
	fi
}}
{checks}
n=$((n + 1))
if echo scratch > "$TMPDIR/scratch" && [ "$(cat "$TMPDIR/scratch")" = scratch ]; then
	echo "ok $n scratch $TMPDIR is writable"
else
	echo "not ok $n scratch $TMPDIR"
fi
n=$((n + 1))
if [ -n "$TGTSIM_OUT" ] && echo result > "$TGTSIM_OUT/result.txt"; then
	echo "ok $n run directory $TGTSIM_OUT is writable"
else
	echo "not ok $n run directory: TGTSIM_OUT=$TGTSIM_OUT"
fi
"""


def snapshot(d: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under `d`: mode, mtime and content hash."""
    out = {}
    for p in sorted(d.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        out[str(p.relative_to(d))] = (st.st_mode, st.st_mtime_ns, digest)
    return out


def test_program_writing_outside_the_run_directory_gets_erofs(tmp_path: Path, quiet) -> None:
    kernel = uml_kernel()
    if kernel is None or not kernel.is_file():
        pytest.skip("no UML kernel built (build/kbuild/*/linux; $TGTSIM_UML_KERNEL)")
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc (the poweroff helper)")
    victim_dir = tmp_path / "host"
    victim_dir.mkdir()
    (victim_dir / "victim.txt").write_text("the host's file\n")
    progs = tmp_path / "progs"
    progs.mkdir()
    subprocess.run(["gcc", "-O2", "-o", str(progs / "poweroff"),
                    str(ROOT / "selftests/poweroff.c")], check=True)
    checks = "\n".join(f"check {what!r} {cmd!r}" for what, cmd in WRITES)
    prog = progs / "001_writer"
    prog.write_text(PROGRAM.format(victim_dir=victim_dir, n=len(WRITES) + 2, checks=checks))
    prog.chmod(0o755)
    (progs / "tests.list").write_text("001_writer\twrites outside its run directory\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    before = snapshot(victim_dir), snapshot(progs), (ROOT / "tools/README.md").stat()
    boot = Uml(kernel, quiet).boot_selftests(
        BootOptions(selftest_timeout=120, idle_timeout=120), ROOT / "selftests/init.sh",
        progs, run_dir / "selftests-console.log")
    console = boot.lines
    text = "\n".join(console)
    assert not boot.hang, text[-3000:]
    assert "rootfstype=hostfs" in boot.args and "ro" in boot.args and "rw" not in boot.args
    assert f"tgtsim_out={run_dir / SELFTEST_OUT}" in boot.args
    header = [ln for ln in console if ln.startswith("# tgtsim selftests: 1 programs")]
    assert header and ", root ro, " in header[0], text[-3000:]
    results = [ln.strip() for ln in console if ln.startswith("    ok ") or
               ln.startswith("    not ok ")]
    assert len(results) == len(WRITES) + 2, text[-3000:]
    assert [r for r in results if r.startswith("not ok")] == []
    assert "ok 1 001_writer" in console
    # nothing on the host changed but the run directory
    assert (snapshot(victim_dir), snapshot(progs), (ROOT / "tools/README.md").stat()) == before
    assert not Path("/etc/tgtsim-was-here").exists()
    assert (run_dir / SELFTEST_OUT / "result.txt").read_text() == "result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["host", "progs", "run"]

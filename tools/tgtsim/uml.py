"""A built UML kernel and its boots, as kunit_kernel.py's
LinuxSourceTreeOperationsUml has one place for them: the command lines of
the KUnit boot and of the selftest boot, one boot() under a watchdog (the
whole process group is killed on a timeout, a hang or Ctrl-C) with the raw
console saved as it comes, and why the watchdog stopped a boot."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tgtsim.errors import InfraError
from tgtsim.procs import Result, run_watched
from tgtsim.progress import Progress

# what kunit_kernel.LinuxSourceTreeOperationsUml.start passes, plus kunit.enable
# and printk's time on each line (the cases' durations; analysis strips it)
KUNIT_ARGS = ["mem=1G", "console=tty", "kunit_shutdown=halt", "kunit.enable=1",
              "printk.time=1"]
# selftests/init.sh as PID 1 on the host's / (hostfs), read-only: a program
# (or the kernel under test, through the VFS) cannot change a host file; the
# programs write to a tmpfs inside UML and to the run directory's
# selftests-out/ (tgtsim_out=, mounted read-write by init.sh); stdin is
# /dev/null, the console fd 0/1
SELFTEST_ARGS = ["mem=256M", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro",
                 "con=null", "con0=fd:0,fd:1", "kunit.enable=0"]
SELFTEST_OUT = "selftests-out"      # in the run directory
# the module parameters of the seeded KUnit suites (kunit/tgt_test_host.c,
# sim_lld/sim_lld_data_kunit.c); the selftests get tgtsim_seed=N
SEED_PARAMS = ("tgt_kunit.seed", "sim_lld_kunit.seed")
SEED_MAX = 2**32 - 1        # sim_lld_kunit.seed is an unsigned int
PROGRAM_TIMEOUT = 120       # seconds, at most, for one selftest program
KERNEL, SELFTEST_BOOT = "kernel", "selftest boot"    # what a hang reason names


@dataclass
class BootOptions:
    """How to boot for a run: the KUnit boot and the selftest boot beside it."""
    timeout: float = 600.0              # the KUnit boot, in all
    idle_timeout: float = 120.0         # either boot: no console output
    filter_glob: str = ""               # KUnit tests (kunit.filter_glob)
    seed: Optional[int] = None          # both boots
    kernel_args: list[str] = field(default_factory=list)   # both boots
    selftests: bool = False             # boot the selftests beside KUnit
    selftest_timeout: float = 300.0     # the selftest boot, in all
    selftest_filter: str = ""           # selftest programs (init.sh tgtsim_filter)
    jobs: int = 2                       # make -j of the selftest programs

    @property
    def program_timeout(self) -> int:
        return max(1, int(min(PROGRAM_TIMEOUT, self.selftest_timeout)))


@dataclass
class BootResult:
    """One boot: its command line, console lines, exit and hang reason."""
    args: list[str]
    lines: list[str]
    returncode: Optional[int]
    duration: float
    hang: str = ""      # why the watchdog killed it ('' if it did not)


def hang_reason(res: Result, what: str, timeout: float, idle_timeout: float) -> str:
    """Why the watchdog killed `what` ('' if it did not)."""
    if res.idle_timed_out:
        return f"{what} hang: no console output for {int(idle_timeout)} s (killed)"
    if res.timed_out:
        return f"{what} timeout: still running after {int(timeout)} s (killed)"
    return ""


class Uml:
    """The UML binary `binary` (kbuild/PROFILE/linux) and its boots."""

    def __init__(self, binary: Path, progress: Progress) -> None:
        self.binary = binary
        self.progress = progress

    def kunit_args(self, opts: BootOptions) -> list[str]:
        a = list(KUNIT_ARGS)
        if opts.filter_glob:
            a.append(f"kunit.filter_glob={opts.filter_glob}")
        if opts.seed is not None:
            # every seeded KUnit suite: tgt_kunit's and sim_lld's
            a += [f"{param}={opts.seed}" for param in SEED_PARAMS]
        return a + list(opts.kernel_args)

    def selftest_args(self, opts: BootOptions, init: Path, programs_dir: Path,
                      out_dir: Optional[Path] = None) -> list[str]:
        a = list(SELFTEST_ARGS) + [f"init={init}", f"tgtsim_selftests={programs_dir}",
                                   f"tgtsim_timeout={opts.program_timeout}"]
        if out_dir is not None:
            a.append(f"tgtsim_out={out_dir}")
        if opts.selftest_filter:
            a.append(f"tgtsim_filter={opts.selftest_filter}")
        if opts.seed is not None:
            a.append(f"tgtsim_seed={opts.seed}")
        return a + list(opts.kernel_args)

    def boot(self, args: list[str], console: Path, what: str, timeout: float,
             idle_timeout: float, stdin_pipe: bool = False) -> BootResult:
        """Boot with `args`, the console saved to `console` as it comes."""
        cmd = [str(self.binary), *args]
        self.progress.info("boot: " + " ".join(cmd))
        try:
            res = run_watched(cmd, cwd=self.binary.parent, log=console,
                              on_line=self.progress.output, timeout=timeout,
                              idle_timeout=idle_timeout, stdin_pipe=stdin_pipe)
        finally:
            if stdin_pipe and sys.stdin is not None and sys.stdin.isatty():
                subprocess.call(["stty", "sane"], stderr=subprocess.DEVNULL)
        return BootResult(args=args, lines=res.lines, returncode=res.returncode,
                          duration=res.duration,
                          hang=hang_reason(res, what, timeout, idle_timeout))

    def boot_kunit(self, opts: BootOptions, console: Path) -> BootResult:
        """The KUnit boot (stdin a pipe: UML leaves the terminal alone)."""
        return self.boot(self.kunit_args(opts), console, KERNEL, opts.timeout,
                         opts.idle_timeout, stdin_pipe=True)

    def boot_selftests(self, opts: BootOptions, init: Path, programs_dir: Path,
                       console: Path) -> BootResult:
        """The selftest boot: `init` (selftests/init.sh) runs the programs
        of `programs_dir` as PID 1 of the same kernel; what they write to
        $TGTSIM_OUT lands in selftests-out/ beside `console`."""
        out_dir = console.parent / SELFTEST_OUT
        try:
            out_dir.mkdir(exist_ok=True)
        except OSError as e:
            raise InfraError(f"cannot write {out_dir}: {e.strerror or e}") from None
        return self.boot(self.selftest_args(opts, init, programs_dir, out_dir), console,
                         SELFTEST_BOOT, opts.selftest_timeout, opts.idle_timeout)

    def has_kmemleak(self) -> bool:
        """The kernel was built with kmemleak (the debug profile)."""
        try:
            config = (self.binary.parent / ".config").read_text().splitlines()
        except OSError:
            return False
        return "CONFIG_DEBUG_KMEMLEAK=y" in config

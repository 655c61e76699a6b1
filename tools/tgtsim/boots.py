"""The boots of a run: the KUnit boot and, beside it, the selftest boot of
the same kernel (two UML processes, each on its own console; with gcov,
the kernel merges their counters at exit under a lock). Nothing is
analysed here: the boots' consoles and exits go to the analysis."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from tgtsim.procs import Background
from tgtsim.progress import Progress
from tgtsim.selftest_build import Program, Programs
from tgtsim.uml import BootOptions, BootResult, Uml

CONSOLE = "console.log"
SELFTEST_CONSOLE = "selftests-console.log"


@dataclass
class SelftestInfo:
    """The selftest side of a run, as results.json records it: the programs
    and either how their boot went or why they did not build."""
    programs: list[Program]
    duration: Optional[float] = None
    returncode: Optional[int] = None
    hang: Optional[str] = None
    kernel_args: Optional[list[str]] = None
    build_error: Optional[str] = None
    build_detail: Optional[str] = None
    lines: list[str] = field(default_factory=list, repr=False)   # the console, not recorded

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"programs": [asdict(p) for p in self.programs]}
        for key in ("duration", "returncode", "hang", "kernel_args", "build_error",
                    "build_detail"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SelftestInfo":
        return cls(programs=[Program(**p) for p in d.get("programs", [])],
                   **{k: d[k] for k in ("duration", "returncode", "hang", "kernel_args",
                                        "build_error", "build_detail") if k in d})

    @classmethod
    def booted(cls, programs: list[Program], boot: BootResult) -> "SelftestInfo":
        return cls(programs=programs, duration=round(boot.duration, 1),
                   returncode=boot.returncode, hang=boot.hang, kernel_args=boot.args,
                   lines=boot.lines)


@dataclass
class Boots:
    kunit: BootResult
    selftests: Optional[SelftestInfo]    # None: no selftests in this run


def boot_all(kernel: Uml, opts: BootOptions, run_dir: Path, init: Path,
             programs: Optional[Programs], progress: Progress, label: str) -> Boots:
    """The KUnit boot and, with `programs` built, the selftest boot beside
    it; their consoles go to run_dir. Programs that did not build are
    recorded as such (the KUnit boot happens all the same)."""
    selftests: Optional[SelftestInfo] = None
    side: Optional[Background] = None
    done: list[SelftestInfo] = []
    if programs is not None:
        chosen = programs.selected(opts.selftest_filter)
        error = programs.error
        if error is not None:
            selftests = SelftestInfo(programs=chosen, build_error=error.message,
                                     build_detail=error.detail)
        else:
            out_dir = programs.out_dir

            def boot_selftests() -> None:
                with progress.step("boot selftests"):
                    boot = kernel.boot_selftests(opts, init, out_dir,
                                                 run_dir / SELFTEST_CONSOLE)
                done.append(SelftestInfo.booted(chosen, boot))

            side = Background(boot_selftests)
            side.start()
    try:
        with progress.step(label):
            kunit = kernel.boot_kunit(opts, run_dir / CONSOLE)
    except BaseException:
        if side is not None:       # interrupted: stop the selftest boot too
            side.abandon()
        raise
    if side is not None:
        side.wait()
        selftests = done[0]
    return Boots(kunit=kunit, selftests=selftests)

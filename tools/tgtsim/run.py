"""`tgtsim run [PROFILE]`: boot the built UML once, under a watchdog, and
report. The console is saved raw; KTAP is parsed by the tree's kunit_parser.
A panic, an oops, a hang or truncated KTAP is a reported failure (exit 3)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from tgtsim import kunit_tools, profiles, report, sanitizers, selftests
from tgtsim.errors import InfraError
from tgtsim.paths import Paths
from tgtsim.procs import Background, Result, run_watched, watchdog_reason
from tgtsim.progress import Progress
from tgtsim.results import Results, analyze

# what kunit_kernel.LinuxSourceTreeOperationsUml.start passes, plus kunit.enable
UML_ARGS = ["mem=1G", "console=tty", "kunit_shutdown=halt", "kunit.enable=1"]
DEFAULT_TIMEOUT = 600.0
DEFAULT_IDLE = 120.0


@dataclass
class RunOptions:
    timeout: float = DEFAULT_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE
    filter_glob: str = ""
    seed: Optional[int] = None
    kernel_args: list[str] = field(default_factory=list)
    # the selftest boot after the KUnit boot (None: no selftests)
    selftests: Optional[selftests.SelftestOptions] = None

    def args(self) -> list[str]:
        a = list(UML_ARGS)
        if self.filter_glob:
            a.append(f"kunit.filter_glob={self.filter_glob}")
        if self.seed is not None:
            a.append(f"tgt_kunit.seed={self.seed}")
        a.extend(self.kernel_args)
        return a


def boot(binary: Path, opts: RunOptions, console_log: Path, progress: Progress,
         cwd: Optional[Path] = None) -> Result:
    cmd = [str(binary), *opts.args()]
    progress.info("boot: " + " ".join(cmd))
    try:
        return run_watched(cmd, cwd=cwd or binary.parent, log=console_log,
                           on_line=progress.output, timeout=opts.timeout,
                           idle_timeout=opts.idle_timeout, stdin_pipe=True)
    finally:
        if sys.stdin is not None and sys.stdin.isatty():
            subprocess.call(["stty", "sane"], stderr=subprocess.DEVNULL)


def hang_reason(res: Result, opts: RunOptions) -> str:
    return watchdog_reason(res, "kernel", opts.timeout, opts.idle_timeout)


def kunit_dir(paths: Paths) -> Path:
    return kunit_tools.locate([paths.kunit_tool], paths.tarball, paths.build)


def finish(paths: Paths, run_dir: Path, res: Results, meta: dict, progress: Progress,
           switch: bool = True) -> int:
    """Write the reports, switch out/latest, print the summary."""
    notes: list[str] = []
    if meta.get("coverage"):
        from tgtsim import coverage
        notes = coverage.apply(res, meta["coverage"])
    report.write(run_dir, res, meta, notes)
    if switch:
        report.switch_latest(paths.out, run_dir)
    text = report.summary_text(res, notes=notes)
    body, closing = text.rstrip("\n").rsplit("\n", 1) if "\n" in text.rstrip("\n") \
        else ("", text.rstrip("\n"))
    if res.crash:
        log = {"kernel": "console.log", "selftests": selftests.CONSOLE,
               "selftests-build": selftests.BUILD_LOG,
               "coverage": "coverage/coverage.log"}.get(res.crash.where, "build.log")
        sys.stdout.flush()
        sys.stderr.write(f"tgtsim: error: {res.crash.reason}\n"
                         f"--- last {len(res.crash.tail)} lines of {run_dir}/{log} ---\n"
                         + "".join(f"  {ln}\n" for ln in res.crash.tail) + "---\n")
        sys.stderr.flush()
    if body:
        sys.stdout.write(body + "\n")
    color = "green" if res.exit_code() == 0 else "red"
    sys.stdout.write(f"reports: {run_dir}\n")
    sys.stdout.write(progress.paint(closing, color) + "\n")
    sys.stdout.flush()
    return res.exit_code()


Collector = Callable[[Path, Results, dict[str, Any]], None]


def run_profile(paths: Paths, profile: str, opts: RunOptions, progress: Progress,
                collect: Optional[Collector] = None) -> int:
    """Boot, analyze, write the reports. `collect(run_dir, results, meta)`
    runs after all boots of the run, before the reports are written
    (coverage capture)."""
    profiles.fragments(paths.profiles, profile)  # unknown profile -> exit 2
    kb = paths.kbuild(profile)
    binary = kb / "linux"
    if not binary.is_file():
        raise InfraError(f"no kernel built for profile '{profile}' ({binary}): "
                         f"run `tgtsim build {profile}` first")
    kdir = kunit_dir(paths)
    run_dir = report.new_run_dir(paths.out, profile)
    if (kb / "build.log").is_file():
        _write(run_dir / "build.log", lambda p: shutil.copyfile(kb / "build.log", p))
    started = time.time()
    st = opts.selftests
    prep = selftests.prepare(paths, run_dir, st, progress) if st else None
    res, results, expect_kmemleak, st_meta = boot_all(paths, binary, opts, run_dir, kdir, prep,
                                                      progress, f"boot {profile}")
    meta = {"run_id": run_dir.name, "profile": profile, "started": started,
            "duration": round(res.duration, 1), "kernel_args": opts.args(),
            "returncode": res.returncode, "expect_kmemleak": expect_kmemleak, **st_meta}
    if collect is not None:     # after all boots of the run
        collect(run_dir, results, meta)
    return finish(paths, run_dir, results, meta, progress)


BootFn = Callable[[Path, Path, Path], Results]


def scratch_boot(paths: Paths, opts: RunOptions, progress: Progress) -> BootFn:
    """The boot of a scratch-tree build (mutants, planted bugs):
    `boot_fn(binary, run_dir, kunit_dir)` boots KUnit and, unless
    `opts.selftests` is None, the selftests, with the console, KTAP and
    selftest files in run_dir, analysed like any run. The selftests are
    built once, on the first call: they depend on sim_lld's uapi header and
    the tree's kselftest harness, which no scratch tree changes."""
    st = opts.selftests
    built: list[selftests.Prepared] = []

    def boot_fn(binary: Path, run_dir: Path, kdir: Path) -> Results:
        if st is not None and not built:
            built.append(selftests.prepare(paths, run_dir, st, progress))
        return boot_all(paths, binary, opts, run_dir, kdir, built[0] if built else None,
                        progress, f"boot {binary.parent.name}")[1]   # kbuild/PROFILE/linux
    return boot_fn


def boot_all(paths: Paths, binary: Path, opts: RunOptions, run_dir: Path, kdir: Path,
             prep: Optional[selftests.Prepared], progress: Progress, label: str
             ) -> tuple[Result, Results, bool, dict[str, Any]]:
    """The KUnit boot and, with `prep` and `opts.selftests`, the selftest
    boot beside it: two UMLs of one kernel, each on its own console (gcov
    merges their counters at exit under a lock). Returns the KUnit boot, the
    merged results (the KUnit boot's crash, if any, stays the run's), whether
    the end-of-run leak scan was expected, and the selftests' meta. A
    selftest build error is reported after the KUnit boot."""
    st = opts.selftests
    st_results, st_meta = Results(), {}
    side: Optional[Background] = None
    if st and prep and prep.error is None:
        side = Background(lambda: boot_selftests(paths, binary, run_dir, prep, st, kdir,
                                                 st_results, st_meta, progress))
        side.start()
    try:
        with progress.step(label):
            res, results, expect_kmemleak = boot_kunit(binary, opts, run_dir, kdir, progress)
    except BaseException:
        if side is not None:       # interrupted: stop the selftest boot too
            side.abandon()
        raise
    if side is not None:
        side.wait()
        selftests.merge(results, st_results.cases, st_results.suites, st_results.crash)
        results.sanitizer.extend(st_results.sanitizer)
        results.allowed.extend(st_results.allowed)
    elif st and prep:
        boot_selftests(paths, binary, run_dir, prep, st, kdir, results, st_meta, progress)
    return res, results, expect_kmemleak, st_meta


def boot_kunit(binary: Path, opts: RunOptions, run_dir: Path, kdir: Path,
               progress: Progress) -> tuple[Result, Results, bool]:
    """The KUnit boot: console.log and ktap.log in run_dir, the analysed
    results, and whether the end-of-run leak scan was expected."""
    res = boot(binary, opts, run_dir / "console.log", progress)
    # the end-of-run leak scan is a suite: --filter may leave it out
    expect_kmemleak = has_kmemleak(binary.parent) and not opts.filter_glob
    results = analyze(res.lines, kdir, hang=hang_reason(res, opts), returncode=res.returncode,
                      expect_kmemleak=expect_kmemleak)
    write_ktap(run_dir / "ktap.log", res.lines)
    return res, results, expect_kmemleak


def boot_selftests(paths: Paths, binary: Path, run_dir: Path, prep: selftests.Prepared,
                   st: selftests.SelftestOptions, kdir: Path, results: Results,
                   meta: dict[str, Any], progress: Progress) -> None:
    """The selftest boot of the same kernel, merged into results, its
    sanitizer reports included."""
    selftests.run(binary, paths.root / "selftests" / "init.sh", run_dir, prep, st, kdir,
                  results, meta, progress)
    add_selftest_reports(results, run_dir)


def add_selftest_reports(results: Results, run_dir: Path) -> None:
    """Sanitizer reports of the selftest boot are failures too."""
    found = sanitizers.scan_console(run_dir / selftests.CONSOLE, origin="selftests")
    results.sanitizer.extend(found.reports)
    results.allowed.extend(found.allowed)


def has_kmemleak(kbuild: Path) -> bool:
    """The kernel built in `kbuild` has kmemleak (the debug profile)."""
    try:
        return "CONFIG_DEBUG_KMEMLEAK=y" in (kbuild / ".config").read_text().splitlines()
    except OSError:
        return False


def _write(path: Path, write) -> None:
    """Run `write(path)`; a full disk or a read-only out/ is an InfraError."""
    try:
        write(path)
    except OSError as e:
        raise InfraError(f"cannot write {path}: {e.strerror or e}") from None


def write_ktap(path: Path, lines: list[str]) -> None:
    """The KTAP part of the console (from the first 'KTAP version' line)."""
    start = next((i for i, ln in enumerate(lines) if "KTAP version" in ln or "TAP version" in ln),
                 None)
    text = "" if start is None else "\n".join(lines[start:]) + "\n"
    _write(path, lambda p: p.write_text(text))


def record_failure(paths: Paths, profile: str, where: str, message: str, detail: str,
                   progress: Progress, logs: Optional[dict[str, Path]] = None) -> Path:
    """A run directory for a run that failed before booting (prepare, build)."""
    from tgtsim.results import Crash
    run_dir = report.new_run_dir(paths.out, profile)
    for name, src in (logs or {}).items():
        if src.is_file():
            _write(run_dir / name, lambda p, src=src: shutil.copyfile(src, p))
    res = Results(crash=Crash(reason=f"{where} failed: {message}",
                              tail=detail.splitlines()[-60:], where=where))
    report.write(run_dir, res, {"run_id": run_dir.name, "profile": profile,
                                "started": time.time(), "failed_step": where})
    report.switch_latest(paths.out, run_dir)
    return run_dir


def reanalyze(paths: Paths, run_dir: Path, progress: Progress) -> int:
    """`tgtsim report`: re-parse a run's console.log and rewrite its reports."""
    res, meta = report.load(run_dir)
    console = run_dir / "console.log"
    if console.is_file() and "failed_step" not in meta:
        lines = console.read_text(errors="backslashreplace").splitlines()
        hang = ""
        if res.crash and res.crash.reason.startswith(("kernel hang", "kernel timeout")):
            hang = res.crash.reason
        kdir = kunit_dir(paths)
        res = analyze(lines, kdir, hang=hang, returncode=meta.get("returncode", 0),
                      expect_kmemleak=bool(meta.get("expect_kmemleak")))
        selftests.reanalyze(run_dir, meta, kdir, res)
        if isinstance(meta.get("selftests"), dict):
            add_selftest_reports(res, run_dir)
    keep = {k: v for k, v in meta.items() if k not in ("counts", "crash", "suites", "exit_code")}
    is_latest = report.latest(paths.out) == run_dir.resolve()
    return finish(paths, run_dir, res, keep, progress, switch=is_latest)

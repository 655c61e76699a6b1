"""`tgtsim lint`: the series is fit to send.

1. every patch of patches/linux-6.12 passes `scripts/checkpatch.pl --strict`;
2. with --build (the default), every step of the series (base, base + patch
   1, ...) compiles the C files the series touches with W=1 and sparse
   (C=1), and no step has a diagnostic the base does not have; the last step
   is also built with CONFIG_SCSI_TGT disabled;
3. every mutant (kunit/mutants/) and planted bug (kunit/selftest-bugs/)
   applies to the port, so that `tgtsim mutants` and `tgtsim planted-bugs`
   never meet a break that has gone stale after a change of the series.

The builds use a scratch worktree of build/linux (build/lint/linux) and
build/lint/kbuild/{w1,w1-notgt}, laid out like build/{linux,kbuild/PROFILE}
so that ccache hits.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tgtsim import build, prepare, series
from tgtsim.errors import BuildError, InfraError, UsageError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths
from tgtsim.procs import run_watched
from tgtsim.progress import Progress

TOTALS = re.compile(r"^total: (\d+) errors?, (\d+) warnings?, (?:(\d+) checks?, )?\d+ lines checked")
DIAG = re.compile(r"^(?:\S*?/)?(?P<file>(?:arch|block|drivers|fs|include|init|kernel|lib|mm|net"
                  r"|scripts|security|sound|tools|usr|virt)/[^:\s]+):\d+:(?:\d+:)? "
                  r"(?P<kind>warning|error): (?P<msg>.*)$")
DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)$")
TGT_OPTION = "SCSI_TGT"
# KUNIT: the VISIBLE_IF_KUNIT functions of the port are then non-static
CONFIG_ON = ["SCSI", "KUNIT", TGT_OPTION]

Diag = tuple[str, str]   # file, "warning: message"


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def checkpatch_totals(output: str) -> tuple[int, int, int]:
    """errors, warnings, checks from checkpatch's summary line."""
    for line in output.splitlines():
        m = TOTALS.match(line.strip())
        if m:
            return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    raise InfraError("checkpatch.pl printed no summary line", detail=output[-2000:])


def diagnostics(lines: list[str]) -> Counter[Diag]:
    """Compiler and sparse diagnostics, without line numbers (they move)."""
    found: Counter[Diag] = Counter()
    for line in lines:
        m = DIAG.match(line.strip())
        if m:
            found[(m.group("file"), f"{m.group('kind')}: {m.group('msg').strip()}")] += 1
    return found


def new_diagnostics(base: Counter[Diag], step: Counter[Diag]) -> list[Diag]:
    return sorted((step - base).elements())


def touched_c_files(patch_texts: list[str]) -> list[str]:
    """The .c files a series adds or changes."""
    files = []
    for text in patch_texts:
        for line in text.splitlines():
            m = DIFF_FILE.match(line)
            if m and m.group(2).endswith(".c") and m.group(2) not in files:
                files.append(m.group(2))
    return files


_CONFIG_OBJS = re.compile(r"^[\w-]+-\$\(CONFIG_(?P<opt>\w+)\)\s*[+:]?=\s*(?P<objs>.*)$")


def built_only_with(makefile_text: str, option: str) -> set[str]:
    """The objects a kbuild Makefile builds only with CONFIG_<option>
    (`obj-$(CONFIG_X) += a.o`, `scsi_mod-$(CONFIG_X) += b.o`)."""
    objs: set[str] = set()
    for line in makefile_text.splitlines():
        m = _CONFIG_OBJS.match(line.strip())
        if m and m.group("opt") == option:
            objs.update(w for w in m.group("objs").split() if w.endswith(".o"))
    return objs


def without_option(tree: Path, c_files: list[str], option: str) -> list[str]:
    """`c_files` minus those whose object only CONFIG_<option> builds: a build
    with the option off does not compile them (make would, if asked)."""
    keep = []
    for f in c_files:
        mk = tree / Path(f).parent / "Makefile"
        only = built_only_with(mk.read_text(errors="replace"), option) if mk.is_file() else set()
        if Path(f).with_suffix(".o").name not in only:
            keep.append(f)
    return keep


def checkpatch(paths: Paths, patches: list[series.Patch], progress: Progress,
               rep: Report) -> None:
    script = paths.linux / "scripts" / "checkpatch.pl"
    if not script.is_file():
        raise InfraError(f"{script} missing: run `tgtsim prepare` first")
    # checkpatch runs scripts/spdxcheck.py with `python3`: use Debian's
    env = dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""))
    for p in patches:
        cp = subprocess.run(["perl", str(script), "--strict", "--color=never", str(p.path)],
                            cwd=paths.linux, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="backslashreplace")
        errors, warnings, checks = checkpatch_totals(cp.stdout)
        for junk in paths.linux.glob(".checkpatch-camelcase.*"):
            junk.unlink()
        if errors or warnings or checks:
            shown = [ln for ln in cp.stdout.splitlines()
                     if ln.startswith(("ERROR:", "WARNING:", "CHECK:"))]
            rep.problems.append(f"checkpatch --strict: {p.name}: {errors} errors, "
                                f"{warnings} warnings, {checks} checks\n    "
                                + "\n    ".join(shown[:10]))
        else:
            rep.notes.append(f"checkpatch --strict: {p.name}: clean")
        progress.info(f"lint: checkpatch {p.name}: {errors} errors, {warnings} warnings, "
                      f"{checks} checks")


def breaks_apply(paths: Paths, progress: Progress, rep: Report) -> None:
    """Every deliberate break applies to the port (build/linux's HEAD)."""
    git = Git(paths.linux)
    patches = [p for kind in ("mutants", "selftest-bugs")
               for p in sorted((paths.root / "kunit" / kind).glob("[0-9][0-9]-*.patch"))]
    total = len(patches)
    stale = [f"kunit/{p.parent.name}/{p.name}: {err}"
             for p, err in git.apply_checks(git.head(), patches).items() if err]
    progress.info(f"lint: {total - len(stale)} of {total} mutants and planted bugs apply")
    if stale:
        rep.problems.append(f"{len(stale)} of {total} mutants and planted bugs do not apply to "
                            "the port (regenerate them against build/linux)\n    "
                            + "\n    ".join(stale))
    else:
        rep.notes.append(f"mutants and planted bugs: all {total} apply to the port")


class StepBuilder:
    """Builds a few objects of one commit of the series with W=1 C=1."""

    def __init__(self, paths: Paths, progress: Progress, jobs: int) -> None:
        self.paths, self.progress, self.jobs = paths, progress, jobs
        self.tree = paths.build / "lint" / "linux"
        self.kbuild_root = paths.build / "lint" / "kbuild"

    def checkout(self, commit: str) -> None:
        if self.tree.exists() and not Git(self.tree).is_repo():
            shutil.rmtree(self.tree)
        if not self.tree.exists():
            linux = Git(self.paths.linux)
            linux.run("worktree", "prune")
            linux.run("worktree", "add", "-q", "--detach", str(self.tree), commit)
        g = Git(self.tree)
        g.run("checkout", "-q", "--detach", "-f", commit)
        g.run("clean", "-q", "-fd")

    def configure(self, name: str, enable: list[str], disable: list[str]) -> Path:
        """UML defconfig with `enable` on and `disable` off, made in the tree as
        it is now (the last step, where every option exists) and saved as
        .config.lint: each step starts from it, and kbuild's syncconfig
        drops what that step does not know yet."""
        kb = self.kbuild_root / name
        kb.mkdir(parents=True, exist_ok=True)
        env = build.build_env(self.paths)
        cfg = self.tree / "scripts" / "config"
        for cmd in (["make", "ARCH=um", f"O={kb}", "defconfig"],
                    [str(cfg), "--file", str(kb / ".config"),
                     *[a for o in enable for a in ("-e", o)],
                     *[a for o in disable for a in ("-d", o)]],
                    ["make", "ARCH=um", f"O={kb}", "olddefconfig"]):
            res = run_watched(cmd, cwd=self.tree, env=env, timeout=900)
            if res.returncode != 0:
                raise BuildError(f"lint: kernel configuration failed ({' '.join(cmd[:3])})",
                                 detail="\n".join(res.lines[-20:]))
        text = (kb / ".config").read_text()
        for o in enable:
            if f"CONFIG_{o}=y" not in text:
                raise BuildError(f"lint: CONFIG_{o} did not make it into {kb / '.config'}")
        shutil.copyfile(kb / ".config", kb / ".config.lint")
        return kb

    def compile(self, kb: Path, c_files: list[str]) -> tuple[int, list[str]]:
        objs = [f[:-2] + ".o" for f in c_files if (self.tree / f).is_file()]
        shutil.copyfile(kb / ".config.lint", kb / ".config")
        for o in objs:
            (kb / o).unlink(missing_ok=True)
        cmd = ["make", "ARCH=um", f"O={kb}", f"-j{self.jobs}", "W=1", "C=1",
               *build.ccache_options(True), *objs]
        res = run_watched(cmd, cwd=self.tree, env=build.build_env(self.paths),
                          on_line=self.progress.output)
        return res.returncode or 0, res.lines


def build_steps(paths: Paths, progress: Progress, jobs: int, rep: Report) -> None:
    state = prepare.load_state(paths.linux)
    steps = [("base", state.base_commit)] + [(p["name"], p["commit"]) for p in state.patches]
    c_files = touched_c_files([p.path.read_text() for p in series.read_series(paths.series)])
    if not c_files:
        rep.notes.append("W=1/sparse: the series touches no C file")
        return
    sb = StepBuilder(paths, progress, jobs)
    sb.checkout(steps[-1][1])
    kb = sb.configure("w1", CONFIG_ON, [])
    kb_off = sb.configure("w1-notgt", CONFIG_ON[:-1], [TGT_OPTION])
    base: Counter[Diag] = Counter()
    for i, (name, commit) in enumerate(steps):
        sb.checkout(commit)
        with progress.step(f"lint: W=1 C=1 {name}"):
            rc, lines = sb.compile(kb, c_files)
        found = diagnostics(lines)
        if rc != 0:
            errs = [ln for ln in lines if ": error:" in ln][:10] or lines[-10:]
            rep.problems.append(f"W=1: {name} does not build\n    " + "\n    ".join(errs))
            continue
        if i == 0:
            base = found
            rep.notes.append(f"W=1/sparse: base has {sum(found.values())} diagnostics "
                             f"in {', '.join(c_files)} (the reference)")
            continue
        new = new_diagnostics(base, found)
        if new:
            rep.problems.append(f"W=1/sparse: {name} adds {len(new)} diagnostics\n    "
                                + "\n    ".join(f"{f}: {m}" for f, m in new[:20]))
        else:
            rep.notes.append(f"W=1/sparse: {name}: nothing new")
    with progress.step("lint: W=1 C=1 without CONFIG_SCSI_TGT"):
        rc, lines = sb.compile(kb_off, without_option(sb.tree, c_files, TGT_OPTION))
    new = new_diagnostics(base, diagnostics(lines))
    if rc != 0 or new:
        rep.problems.append("W=1/sparse without CONFIG_SCSI_TGT: "
                            + ("does not build" if rc else f"{len(new)} new diagnostics")
                            + "\n    " + "\n    ".join(f"{f}: {m}" for f, m in new[:20]))
    else:
        rep.notes.append("W=1/sparse without CONFIG_SCSI_TGT: nothing new")


def lint(paths: Paths, progress: Progress, jobs: int, do_build: bool = True) -> int:
    patches = series.read_series(paths.series)
    if not patches:
        raise UsageError(f"no patches in {paths.series}")
    prepare.keep_base(paths, progress)
    rep = Report()
    checkpatch(paths, patches, progress, rep)
    breaks_apply(paths, progress, rep)
    if do_build:
        build_steps(paths, progress, jobs, rep)
    for n in rep.notes:
        print(f"ok    {n}")
    for p in rep.problems:
        print(f"FAIL  {p}")
    print(f"lint: {len(rep.problems)} problems ({len(patches)} patches)")
    return 1 if rep.problems else 0

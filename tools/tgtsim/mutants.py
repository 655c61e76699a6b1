"""`tgtsim mutants`: prove the suites can fail by breaking the port on purpose.

Each `kunit/mutants/NN-name.patch` is a deliberate break of the port (its
first line says which). The unmutated port and every mutant are built from a
scratch worktree of build/linux (build/mutant/linux, so build/linux stays
clean) into build/mutant/kbuild/PROFILE, booted, and parsed like any run. A
case catches a mutant when it passes on the port and fails, or is never
reported (crash, hang), under the mutant; a sanitizer report (kmemleak,
KASAN, lockdep, atomic-sleep, ... with the debug profile) that the port's
run does not have catches it too. A run that failed for the tool's sake
(Status.TOOL_FAILURE) catches nothing. The table of which case or report
catches which mutant goes to out/mutants/<id>/table.md and, with
--update-readme, between the markers of kunit/README.md.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Protocol, Sequence, TypeVar

from tgtsim import build, page, prepare, report
from tgtsim.errors import BuildError, InfraError, Status, UsageError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths
from tgtsim.progress import Progress
from tgtsim.report import RunInfo
from tgtsim.results import PASSED, Results
from tgtsim.run import BootFn

MUTANT_RE = re.compile(r"^\d\d-[A-Za-z0-9._-]+\.patch$")
BEGIN = "<!-- mutant-table:begin -->"
END = "<!-- mutant-table:end -->"
KILLED, SURVIVED, STILLBORN, STALE = "killed", "survived", "does not build", "does not apply"
TOOL_FAILED = "tool failure"
SANITIZERS = "sanitizers"     # the table's column of new sanitizer reports


@dataclass
class Mutant:
    name: str          # NN-name
    path: Path
    description: str
    profile: str = ""  # "Profile: P" on its second line: always run with P


PROFILE_RE = re.compile(r"^Profile:\s*(\S+)\s*$")


@dataclass
class Outcome:
    name: str
    description: str
    status: str                       # KILLED, SURVIVED, STILLBORN, STALE, TOOL_FAILED
    caught: dict[str, list[str]] = field(default_factory=dict)   # suite.case -> params
    crash: str = ""
    reports: list[str] = field(default_factory=list)   # new sanitizer reports (names)


def discover(directory: Path) -> list[Mutant]:
    out = []
    for p in sorted(directory.glob("*.patch")):
        if MUTANT_RE.match(p.name):
            head = [ln.strip() for ln in p.read_text().splitlines()[:3] if ln.strip()]
            m = PROFILE_RE.match(head[1]) if len(head) > 1 else None
            out.append(Mutant(name=p.stem, path=p, description=head[0] if head else "",
                              profile=m.group(1) if m else ""))
    return out


def by_profile(mutants: list[Mutant], default: str) -> dict[str, list[Mutant]]:
    """The mutants grouped by the profile they run with, the default's
    group first."""
    groups: dict[str, list[Mutant]] = {}
    for m in sorted(mutants, key=lambda m: (m.profile or default) != default):
        groups.setdefault(m.profile or default, []).append(m)
    return groups


class Named(Protocol):
    name: str


N = TypeVar("N", bound=Named)


def select(items: list[N], wanted: list[str], what: str = "mutant") -> list[N]:
    """Items (NN-name patches) named by number ("03") or name; all if none
    named."""
    if not wanted:
        return items
    chosen: list[N] = []
    for w in wanted:
        hits = [i for i in items if i.name == w or i.name.startswith(w if "-" in w else w + "-")]
        if len(hits) != 1:
            known = ", ".join(i.name for i in items) or "none"
            raise UsageError(f"{what} '{w}' {'is ambiguous' if hits else 'not found'} "
                             f"(known: {known})")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def _key(suite: str, name: str) -> tuple[str, str]:
    """suite.case and the parameter ('' if none) of a result."""
    case, _, param = name.partition("/")
    return f"{suite}.{case}", param


def caught(base: Results, mutant: Results) -> dict[str, list[str]]:
    """Cases (suite.case) passing on the port that fail or vanish under the
    mutant, with the parameters that did."""
    ok = {(c.suite, c.name) for c in mutant.cases if c.status == PASSED}
    red: dict[str, list[str]] = {}
    for c in base.cases:
        if c.status == PASSED and (c.suite, c.name) not in ok:
            case, param = _key(c.suite, c.name)
            red.setdefault(case, [])
            if param:
                red[case].append(param)
    return red


def new_reports(base: Results, mutant: Results) -> list[str]:
    """The mutant's sanitizer reports (kind, place, message) that the
    port's run does not have."""
    known = {r.key for r in base.sanitizer}
    return [r.name for r in mutant.sanitizer if r.key not in known]


def verdict(name: str, description: str, base: Results, mutant: Optional[Results],
            applied: bool = True) -> Outcome:
    if not applied:
        return Outcome(name, description, STALE)
    if mutant is None:
        return Outcome(name, description, STILLBORN)
    crash = mutant.crash.reason if mutant.crash else ""
    if mutant.status == Status.TOOL_FAILURE:
        return Outcome(name, description, TOOL_FAILED, crash=crash)
    red = caught(base, mutant)
    reports = new_reports(base, mutant)
    return Outcome(name, description, KILLED if red or reports else SURVIVED, red, crash,
                   reports)


SELFTESTS = "selftests"


def columns(base: Results) -> list[str]:
    """The table's columns: each suite with a case passing on the port, the
    selftest programs (suites selftests.NNN_name) folded into one."""
    cols: list[str] = []
    for s in base.suites:
        if not any(c.status == PASSED for c in base.suite_cases(s)):
            continue
        col = SELFTESTS if s.startswith(SELFTESTS + ".") else s
        if col not in cols:
            cols.append(col)
    return cols


def render(base: Results, outcomes: list[Outcome], suites: list[str]) -> str:
    """Markdown: one row per mutant, red case count per suite and, when a
    sanitizer caught one, the kinds of its new reports."""
    passing = sum(1 for c in base.cases if c.status == PASSED)
    killed = sum(1 for o in outcomes if o.status == KILLED)
    sanitizers = any(o.reports for o in outcomes)
    heads = suites + ([SANITIZERS] if sanitizers else [])
    lines = [f"Unmutated port: {passing}/{len(base.cases)} cases pass. "
             f"Mutants killed: {killed}/{len(outcomes)}.", "",
             "| mutant | " + " | ".join(heads) + " | verdict |",
             "|---" * (len(heads) + 2) + "|"]
    for o in outcomes:
        cells = []
        for s in suites:
            n = sum(1 for case in o.caught if case.startswith(s + "."))
            cells.append(f"**{n} red**" if n else "-")
        if sanitizers:
            kinds = sorted({r.split(":", 1)[0] for r in o.reports})
            cells.append(f"**{', '.join(kinds)}**" if kinds else "-")
        lines.append(f"| {o.name} | " + " | ".join(cells) + f" | {o.status} |")
    lines += ["", "Cases that catch each mutant:", ""]
    for o in outcomes:
        lines.append(f"- **{o.name}**: {o.description}")
        if o.crash:
            lines.append(f"  - the boot did not finish: {o.crash}")
        if o.status != KILLED:
            lines.append(f"  - {o.status.upper()}")
        for case, params in sorted(o.caught.items()):
            shown = "; ".join(params[:3]) + (" ..." if len(params) > 3 else "")
            lines.append(f"  - `{case}`" + (f" [{shown}]" if shown else ""))
        for rep in o.reports:
            lines.append(f"  - sanitizer report `{rep}`")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text or text.index(BEGIN) > text.index(END):
        raise UsageError(f"{readme}: the markers {BEGIN} ... {END} are missing")
    start = text.index(BEGIN) + len(BEGIN)
    readme.write_text(text[:start] + "\n" + table + text[text.index(END):])


class Runner:
    """Builds and boots the port and its mutants from a scratch worktree."""

    def __init__(self, paths: Paths, profile: str, progress: Progress, jobs: int,
                 boot_fn: BootFn, use_ccache: bool = True, kind: str = "mutant",
                 make_options: Sequence[str] = ()) -> None:
        self.paths, self.profile, self.progress = paths, profile, progress
        self.jobs, self.use_ccache, self.boot_fn = jobs, use_ccache, boot_fn
        self.make_options = list(make_options)
        # the same layout as build/{linux,kbuild/PROFILE}: ccache (with
        # CCACHE_BASEDIR) then sees the same relative paths and hits
        self.tree = paths.build / kind / "linux"
        self.kbuild = paths.build / kind / "kbuild" / profile

    def reset(self, head: str) -> None:
        linux = Git(self.paths.linux)
        if self.tree.exists() and not Git(self.tree).is_repo():
            shutil.rmtree(self.tree)   # left over from an earlier build/linux
        if not self.tree.exists():
            linux.run("worktree", "prune")
            linux.run("worktree", "add", "-q", "--detach", str(self.tree), head)
        tree = Git(self.tree)
        tree.run("checkout", "-q", "--detach", head)
        tree.run("reset", "-q", "--hard", head)
        tree.run("clean", "-q", "-fd")

    def one(self, label: str, run_dir: Path) -> Optional[Results]:
        """Build and boot the tree as it is; None if it does not build."""
        try:
            binary = build.build(self.paths, self.profile, self.progress, self.jobs,
                                 self.use_ccache, tree=self.tree, kbuild=self.kbuild,
                                 make_options=self.make_options)
        except BuildError as e:
            self.progress.info(f"mutants: {label} does not build: {e.message}")
            (run_dir / "build-error.txt").write_text(e.message + "\n" + e.detail + "\n")
            return None
        res = self.boot_fn(binary, run_dir, self.tree / "tools" / "testing" / "kunit")
        report.write(run_dir, res, RunInfo(run_id=run_dir.name, profile=self.profile,
                                           mutant=label))
        page.write(run_dir)
        return res

    def port(self, head: str, out: Path, what: str) -> Optional[Results]:
        """Build and boot the unchanged port into out/port."""
        self.reset(head)
        (out / "port").mkdir()
        with self.progress.step(f"{what}: the port"):
            return self.one("port", out / "port")

    def each(self, head: str, out: Path, what: str,
             patches: list[tuple[str, Path]]) -> Iterator[tuple[str, Optional[Results], bool]]:
        """Each patch on a fresh copy of the port, built and booted into
        out/NAME: (name, results or None if it does not build, applied)."""
        try:
            for name, path in patches:
                self.reset(head)
                d = out / name
                d.mkdir()
                applied = Git(self.tree).run("apply", str(path), check=False)
                if applied.returncode != 0:
                    (d / "apply-error.txt").write_text(applied.stderr)
                    self.progress.info(f"{what}: {name} does not apply to the port: "
                                       + (applied.stderr.strip().splitlines() or ["?"])[-1])
                    yield name, None, False
                    continue
                with self.progress.step(f"{what}: {name}"):
                    res = self.one(name, d)
                yield name, res, True
        finally:
            self.reset(head)


def out_dir(paths: Paths, kind: str) -> Path:
    """out/KIND/<UTC timestamp>, created."""
    out = paths.out / kind / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InfraError(f"cannot write to {out}: {e.strerror or e}") from None
    return out


def run(paths: Paths, wanted: list[str], profile: str, progress: Progress, jobs: int,
        boot_for: Callable[[str], BootFn], update: bool = False,
        use_ccache: bool = True,
        make_options_for: Callable[[str], Sequence[str]] = lambda _p: ()) -> int:
    """Run the port and the mutants; 0 if every mutant was killed. A mutant
    with a profile of its own (`Profile: debug`) runs with that profile, after
    the port was run with it too: `boot_for(profile)` and
    `make_options_for(profile)` give the boot and the make options."""
    selected = select(discover(paths.root / "kunit" / "mutants"), wanted)
    if not selected:
        raise UsageError(f"no mutants in {paths.root / 'kunit' / 'mutants'}")
    prepare.keep_base(paths, progress)
    head = Git(paths.linux).head()
    out = out_dir(paths, "mutants")
    outcomes = []
    descriptions = {m.name: m.description for m in selected}
    groups = by_profile(selected, profile)
    base: Optional[Results] = None
    for prof, group in groups.items():
        runner = Runner(paths, prof, progress, jobs, boot_for(prof), use_ccache,
                        make_options=make_options_for(prof))
        sub = out if prof == profile else out / prof
        sub.mkdir(exist_ok=True)
        port = runner.port(head, sub, f"mutants ({prof})" if prof != profile else "mutants")
        if port is None or port.crash or port.failed:
            why = "does not build" if port is None else port.closing_line()
            raise InfraError(f"the unmutated port does not pass with the {prof} profile "
                             f"({why}); see {sub / 'port'}")
        if base is None or prof == profile:
            base = port
        for name, res, applied in runner.each(head, sub, "mutants",
                                              [(m.name, m.path) for m in group]):
            o = verdict(name, descriptions[name], port, res, applied)
            progress.info(f"mutants: {name}: {o.status}"
                          + (f" ({prof} profile)" if prof != profile else "")
                          + (f" by {len(o.caught)} cases" if o.caught else "")
                          + (f" and {len(o.reports)} sanitizer reports" if o.reports else ""))
            outcomes.append(o)
    assert base is not None
    order = {m.name: i for i, m in enumerate(selected)}
    outcomes.sort(key=lambda o: order[o.name])

    table = render(base, outcomes, columns(base))
    (out / "table.md").write_text(table)
    (out / "outcomes.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    if update:
        update_readme(paths.root / "kunit" / "README.md", table)
    print(table, end="")
    print(f"mutants: {out}")
    return 0 if all(o.status == KILLED for o in outcomes) else 1

"""`tgtsim planted-bugs`: prove that the debug profile's checkers catch bugs.

Each `kunit/selftest-bugs/NN-name.patch` plants one bug in the port (a
use-after-free, a lock-order inversion, a sleep in atomic context, a leak).
Its first line says which; a line `Expect: KIND TEXT` says what the debug
run must report: a sanitizer report of that kind (see sanitizers.py) whose
text contains TEXT. The port and every planted bug are built with the debug
profile from a scratch worktree of build/linux (build/planted/linux, laid
out like build/ so that ccache hits; build/linux stays clean), booted and
analysed like any run. The port must give no sanitizer report at all; a
planted bug is caught when its run has a report of the expected kind (failed
cases alongside do not count). Each run boots KUnit and the selftests beside it
(--no-selftests: KUnit only), and the reports of both boots count.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from tgtsim import mutants, prepare
from tgtsim.errors import InfraError, UsageError
from tgtsim.gitutil import Git
from tgtsim.paths import Paths
from tgtsim.progress import Progress
from tgtsim.results import Results
from tgtsim.run import BootFn

PROFILE = "debug"
BUG_RE = re.compile(r"^\d\d-[A-Za-z0-9._-]+\.patch$")
EXPECT_RE = re.compile(r"^Expect:\s*(\S+)\s+(.+?)\s*$", re.M)
CAUGHT, MISSED, WRONG, STILLBORN, STALE = ("caught", "missed", "caught by another kind only",
                                           "does not build", "does not apply")


@dataclass
class Bug:
    name: str            # NN-name
    path: Path
    description: str
    kind: str            # sanitizer kind that must report it
    text: str            # text the report must contain


@dataclass
class Outcome:
    name: str
    description: str
    expected: str
    status: str
    reports: list[str] = field(default_factory=list)   # sanitizer reports of the run
    kunit: str = ""                                    # closing line: KUnit + selftests
    crash: str = ""


def discover(directory: Path) -> list[Bug]:
    out = []
    for p in sorted(directory.glob("*.patch")):
        if not BUG_RE.match(p.name):
            continue
        text = p.read_text()
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        m = EXPECT_RE.search(text.split("\ndiff --git", 1)[0])
        if not m:
            raise UsageError(f"{p}: no 'Expect: KIND TEXT' line before the diff")
        out.append(Bug(name=p.stem, path=p, description=first, kind=m.group(1),
                       text=m.group(2)))
    return out


def select(bugs: list[Bug], wanted: list[str]) -> list[Bug]:
    """Bugs named by number ("03") or name; all if none named."""
    return mutants.select(bugs, wanted, "planted bug")


def verdict(bug: Bug, res: Optional[Results], applied: bool = True) -> Outcome:
    expected = f"{bug.kind}: {bug.text}"
    if not applied:
        return Outcome(bug.name, bug.description, expected, STALE)
    if res is None:
        return Outcome(bug.name, bug.description, expected, STILLBORN)
    names = [r.name for r in res.sanitizer]
    hit = [r for r in res.sanitizer if r.kind == bug.kind and
           bug.text.lower() in "\n".join([r.title, r.summary, *r.lines]).lower()]
    status = CAUGHT if hit else (WRONG if res.sanitizer else MISSED)
    return Outcome(bug.name, bug.description, expected, status, names, res.closing_line(),
                   res.crash.reason if res.crash else "")


def render(base: Optional[Results], outcomes: list[Outcome]) -> str:
    """Markdown table; `base` is the port's run (None: checked elsewhere)."""
    caught = sum(1 for o in outcomes if o.status == CAUGHT)
    port = (f"{base.closing_line()}, {len(base.sanitizer)} sanitizer reports" if base
            else "checked by the debug run before")
    lines = [f"Port ({PROFILE} profile): {port}. "
             f"Planted bugs caught: {caught}/{len(outcomes)}.", "",
             "| planted bug | expected report | verdict | reports of the run |",
             "|---|---|---|---|"]
    for o in outcomes:
        reps = "; ".join(o.reports[:3]) + (" ..." if len(o.reports) > 3 else "")
        lines.append(f"| {o.name} | {o.expected} | {o.status} | {reps or '-'} |")
    lines.append("")
    for o in outcomes:
        lines.append(f"- **{o.name}**: {o.description}")
        if o.kunit:
            lines.append(f"  - cases: {o.kunit}" + (f"; crash: {o.crash}" if o.crash else ""))
    return "\n".join(lines) + "\n"


def run(paths: Paths, wanted: list[str], progress: Progress, jobs: int,
        boot_fn: BootFn, use_ccache: bool = True,
        check_port: bool = True) -> int:
    """Run the port and the planted bugs; 0 if the port is clean and every
    bug was caught with the expected kind of report. check_port=False: the
    caller has just run the port with the debug profile and seen it clean."""
    directory = paths.root / "kunit" / "selftest-bugs"
    selected = select(discover(directory), wanted)
    if not selected:
        raise UsageError(f"no planted bugs in {directory}")
    prepare.keep_base(paths, progress)
    head = Git(paths.linux).head()
    runner = mutants.Runner(paths, PROFILE, progress, jobs, boot_fn, use_ccache,
                            kind="planted")
    out = mutants.out_dir(paths, "planted")
    base = runner.port(head, out, "planted-bugs") if check_port else None
    if check_port and (base is None or base.crash or base.failed):
        why = "does not build" if base is None else base.closing_line()
        if base is not None and base.sanitizer:
            why += "; sanitizer reports: " + "; ".join(r.name for r in base.sanitizer)
        raise InfraError(f"the port does not pass the {PROFILE} profile ({why}); "
                         f"see {out / 'port'}")

    outcomes = []
    bugs = {b.name: b for b in selected}
    for name, res, applied in runner.each(head, out, "planted-bugs",
                                          [(b.name, b.path) for b in selected]):
        o = verdict(bugs[name], res, applied)
        progress.info(f"planted-bugs: {name}: {o.status}")
        outcomes.append(o)

    table = render(base, outcomes)
    (out / "table.md").write_text(table)
    (out / "outcomes.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    print(table, end="")
    print(f"planted-bugs: {out}")
    return 0 if all(o.status == CAUGHT for o in outcomes) else 1

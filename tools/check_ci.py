#!/usr/bin/env python3
"""The CI templates of ci/ checked, as `make check` runs them:

- ci/github-workflow.yml passes @action-validator/cli (npm), and every
  command its steps run exists: programs on this machine, scripts of the
  checkout, tgtsim commands with options its parser takes, make targets;
- the same for the commands of ci/gitlab-ci.yml;
- with a kernel (not --static): ci/gitlab-ci.yml runs under gitlab-ci-local
  (npm; shell executor, one job at a time): 4 shards of the coverage cells
  of the matrix and the merge, on the built kernels of the checkout; its
  merge job must leave JUnit and Cobertura artifacts that validate;
- with --compare: the same cells in one unsharded run (`tgtsim shard
  --index 1 --total 1`) and its merge give the same case results and the
  same coverage as the 4 shards (patch lines and branches; every line and
  branch of the files of coverage/scope).

The npm tools are installed into BUILD/npm when missing; where npm cannot
install them, their checks are skipped with the reason. Last line:
`ci: N passed, N failed, N skipped`.

example: tools/check_ci.py --static
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

import yaml  # noqa: E402
from lxml import etree  # noqa: E402

from tgtsim import cli, cobertura, lcovinfo  # noqa: E402

GITHUB = ROOT / "ci" / "github-workflow.yml"
GITLAB = ROOT / "ci" / "gitlab-ci.yml"
NPM = {"action-validator": "@action-validator/cli@0.6.0",
       "gitlab-ci-local": "gitlab-ci-local@4.64.1"}      # 4.65+ need Node.js 22
CELLS = "coverage-*"
SHARDS = 4
GITLAB_KEYS = {"stages", "variables", "default", "include", "workflow", "image", "services",
               "cache", "before_script", "after_script"}
SHELL_WORDS = {"if", "then", "else", "fi", "for", "do", "done", "while", "case", "esac",
               "export", "cd", "set", "test", "[", "true", "false", "echo", "exit"}


class Checks:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []     # name, PASS/FAIL/SKIP, detail

    def add(self, name: str, state: str, detail: str = "") -> None:
        self.items.append((name, state, detail))
        print(f"{state} {name}" + (f": {detail}" if detail else ""), flush=True)

    def ok(self, name: str, ok: bool, detail: str = "") -> None:
        self.add(name, "PASS" if ok else "FAIL", detail)

    def closing(self) -> str:
        n = {s: sum(1 for _n, st, _d in self.items if st == s) for s in ("PASS", "FAIL", "SKIP")}
        return f"ci: {n['PASS']} passed, {n['FAIL']} failed, {n['SKIP']} skipped"


def npm_tool(name: str, build: Path) -> tuple[Optional[Path], str]:
    """The npm tool `name` under BUILD/npm, installed there when missing."""
    exe = build / "npm" / "node_modules" / ".bin" / name
    if exe.is_file():
        return exe, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed (Debian: apt-get install npm)"
    cp = subprocess.run([npm, "install", "--prefix", str(build / "npm"), "--no-audit",
                         "--no-fund", "--loglevel=error", NPM[name]],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if cp.returncode != 0 or not exe.is_file():
        return None, f"npm install {NPM[name]} failed: " + (cp.stdout.strip().splitlines()
                                                            or ["?"])[-1]
    return exe, ""


# -- the commands of a template ------------------------------------------------

def github_scripts(doc: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for job, body in (doc.get("jobs") or {}).items():
        for i, step in enumerate(body.get("steps") or [], 1):
            if isinstance(step, dict) and "run" in step:
                out.append((f"jobs.{job}.steps[{i}]", str(step["run"])))
    return out


def gitlab_scripts(doc: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    jobs = {k: v for k, v in doc.items() if k not in GITLAB_KEYS and isinstance(v, dict)}
    jobs["default"] = doc.get("default") or {}
    for job, body in jobs.items():
        for key in ("before_script", "script", "after_script"):
            for i, line in enumerate(body.get(key) or [], 1):
                out.append((f"{job}.{key}[{i}]", str(line)))
    return out


def simple_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script (well enough for CI steps):
    expressions and variables replaced by a word, split at ; && || |."""
    text = re.sub(r"\$\{\{[^}]*\}\}", "1", script)
    text = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}?", "1", text)
    text = text.replace("\\\n", " ")
    cmds: list[list[str]] = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:
            words = line.split()
        cur: list[str] = []
        target = False              # the word after a redirection is a file
        for w in words + [";"]:
            if target:
                target = False
            elif w in (">", ">>", "<", "2>", "&>"):
                target = True
            elif w in (";", "&&", "||", "|", "&", "(", ")"):
                if cur:
                    cmds.append(cur)
                cur = []
            elif not (not cur and "=" in w and not w.startswith("-")):
                cur.append(w)
    return cmds


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_-]+):", text, re.M))


def check_command(words: list[str]) -> str:
    """Why the command does not exist ('' if it does)."""
    prog = words[0]
    while prog in ("sudo", "$SUDO", "env", "exec", "time") and len(words) > 1:
        words = words[1:]
        prog = words[0]
    if prog in SHELL_WORDS:
        return ""
    if "/" in prog:
        path = ROOT / prog
        if not path.is_file() or not os.access(path, os.X_OK):
            return f"{prog}: no executable file in the checkout"
        if prog == "tools/bin/tgtsim":
            try:
                cli.parse(words[1:])
            except SystemExit:
                return f"tgtsim {' '.join(words[1:])}: tgtsim's parser refuses it"
        return ""
    if shutil.which(prog) is None:
        return f"{prog}: not found on this machine"
    if prog in ("bash", "sh") and len(words) > 1 and not words[1].startswith("-"):
        if not (ROOT / words[1]).is_file():
            return f"{prog} {words[1]}: no such script in the checkout"
    if prog == "make":
        targets = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        missing = [t for t in targets if t not in make_targets()]
        if missing:
            return f"make {' '.join(missing)}: no such target"
    return ""


def check_commands(name: str, scripts: list[tuple[str, str]], checks: Checks) -> None:
    problems = []
    n = 0
    for where, script in scripts:
        for words in simple_commands(script):
            n += 1
            why = check_command(words)
            if why:
                problems.append(f"{where}: {why}")
    checks.ok(f"{name}: every command exists", not problems and n > 0,
              "; ".join(problems) or f"{n} commands in {len(scripts)} scripts")


# -- gitlab-ci-local --------------------------------------------------------------

def tgtsim(build: Path, *args: str) -> int:
    env = dict(os.environ, PYTHONPATH=str(TOOLS))
    return subprocess.call([sys.executable, "-m", "tgtsim", "--build-dir", str(build), *args],
                           env=env, cwd=ROOT)


def ccache_dir() -> str:
    cp = subprocess.run(["ccache", "--get-config", "cache_dir"], stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True)
    return cp.stdout.strip() or os.path.expanduser("~/.cache/ccache")


def gitlab_local(gcl: Path, build: Path, checks: Checks) -> Optional[Path]:
    """Run ci/gitlab-ci.yml; the merge job's output directory."""
    base = build / "gitlab-ci-local"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    out_rel = os.path.relpath(base / "out", ROOT)
    state = os.path.relpath(base / "state", ROOT)
    cmd = [str(gcl), "--file", os.path.relpath(GITLAB, ROOT), "--force-shell-executor",
           "--concurrency", "1", "--state-dir", state, "--no-artifacts-to-source",
           "--variable", f"TGTSIM_CELLS={CELLS}", "--variable", f"TGTSIM_BUILD={build}",
           "--variable", f"TGTSIM_OUT={out_rel}", "--variable", f"CCACHE_DIR={ccache_dir()}",
           "--variable", "TGTSIM_APT_CACHE="]
    log = base / "gitlab-ci-local.log"
    print("$ " + " ".join(cmd), flush=True)
    with open(log, "w") as f:
        rc = subprocess.call(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    text = log.read_text(errors="replace")
    ran = sorted(set(re.findall(r"PASS\s+shard: \[(\d)\]", text)))
    checks.ok("gitlab-ci-local: the pipeline passes, 4 shards and the merge",
              rc == 0 and ran == [str(i) for i in range(1, SHARDS + 1)]
              and re.search(r"PASS\s+merge", text) is not None,
              f"exit {rc}, shards passed: {', '.join(ran) or 'none'} (log: {log})")
    arts = sorted((base / "state" / "artifacts").glob("merge*"))
    merged = arts[0] / out_rel / "merged" if arts else None
    junit = merged / "junit.xml" if merged else None
    cob = merged / "coverage" / "cobertura.xml" if merged else None
    problems = []
    if junit is None or not junit.is_file():
        problems.append("no junit.xml artifact")
    else:
        xsd = etree.XMLSchema(etree.parse(str(TOOLS / "tgtsim" / "junit.xsd")))
        if not xsd.validate(etree.parse(str(junit))):
            problems.append(f"junit.xml: {xsd.error_log.last_error}")
    if cob is None or not cob.is_file():
        problems.append("no cobertura.xml artifact")
    else:
        problems += cobertura.check(cob)[:3]
    checks.ok("gitlab-ci-local: the merge job's JUnit and Cobertura artifacts", not problems,
              "; ".join(problems) or f"{junit}, {cob}")
    return merged


def case_set(results: Path) -> set[tuple[str, str, str, str]]:
    data = json.loads(results.read_text())
    return {(s.get("cell", ""), c["suite"], c["name"], c["status"]) for s in data["suites"]
            for c in s["cases"]}


def hit_sets(info: Path) -> tuple[set[tuple[str, int]], set[tuple[str, Any]]]:
    data = lcovinfo.load(info)
    lines = {(f, n) for f, c in data.items() for n, k in c.lines.items() if k}
    branches = {(f, key) for f, c in data.items() for key, k in c.branches.items() if k}
    return lines, branches


def compare(build: Path, sharded: Path, checks: Checks) -> None:
    base = build / "gitlab-ci-local"
    one = base / "unsharded"
    rc = tgtsim(build, "--out", str(one), "shard", "--index", "1", "--total", "1",
                "--cells", CELLS, "--no-deps")
    rc2 = tgtsim(build, "--out", str(one), "merge", str(one / "runs"), "--expect", CELLS,
                 "--out-dir", str(base / "unsharded-merged"))
    merged = base / "unsharded-merged"
    a, b = case_set(merged / "results.json"), case_set(sharded / "results.json")
    checks.ok("4 shards + merge: the same case results as one unsharded run",
              a == b and bool(a), f"{len(a)} cases unsharded, {len(b)} sharded; differ: "
              f"{sorted(a ^ b)[:5]} (unsharded exit {rc}/{rc2})")
    same, detail = same_coverage(merged, sharded)
    checks.ok("4 shards + merge: the same coverage as one unsharded run", same, detail)


def same_coverage(one: Path, other: Path) -> tuple[bool, str]:
    """Whether two merged runs measured the same coverage: the patch lines
    and branches of results.json, and every line executed and branch taken
    of coverage/scope.info (the files of coverage/scope, which the report and
    the gate are made of). The rest of the tracefile (UML's own arch/um code,
    whose branches follow when the host's signals arrive) is compared too,
    but only reported: it differs between two runs of the same cells."""
    ja = json.loads((one / "results.json").read_text()).get("coverage", {})
    jb = json.loads((other / "results.json").read_text()).get("coverage", {})
    la, ba = hit_sets(one / "coverage" / "scope.info")
    lb, bb = hit_sets(other / "coverage" / "scope.info")
    fa, fba = hit_sets(one / "coverage" / "coverage.info")
    fb, fbb = hit_sets(other / "coverage" / "coverage.info")
    same_patch = (ja.get("lines"), ja.get("branches")) == (jb.get("lines"), jb.get("branches"))
    outside = sorted({f for f, _ in (fa ^ fb) | (fba ^ fbb)}
                     - {f for f, _ in (la ^ lb) | (ba ^ bb)})

    def hits(j: dict, k: str) -> str:
        return f"{j.get(k, {}).get('hit')}/{j.get(k, {}).get('total')}"
    detail = (f"patch lines {hits(ja, 'lines')} vs {hits(jb, 'lines')}, branches "
              f"{hits(ja, 'branches')} vs {hits(jb, 'branches')}; scope: lines executed "
              f"{len(la)} vs {len(lb)} ({len(la ^ lb)} differ), branches taken {len(ba)} vs "
              f"{len(bb)} ({len(ba ^ bb)} differ)")
    if la ^ lb or ba ^ bb:
        detail += "; first: " + ", ".join(f"{Path(f).name}:{k}" for f, k in
                                          sorted((la ^ lb) | (ba ^ bb), key=str)[:5])
    if outside:
        detail += (f"; outside the scope (not compared): {len(fa ^ fb)} lines, "
                   f"{len(fba ^ fbb)} branches differ in " + ", ".join(outside[:5]))
    return same_patch and la == lb and ba == bb and bool(la), detail


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="check_ci.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--static", action="store_true",
                   help="only the workflow validation and the commands (no kernel runs)")
    p.add_argument("--compare", action="store_true",
                   help="also run the coverage cells unsharded and compare (minutes)")
    p.add_argument("--build-dir", default=str(ROOT / "build"), help="default: build/")
    args = p.parse_args(list(argv))
    build = Path(args.build_dir).resolve()
    checks = Checks()
    av, why = npm_tool("action-validator", build)
    if av is None:
        checks.add("github workflow: action-validator", "SKIP", why)
    else:
        cp = subprocess.run([str(av), str(GITHUB)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
        checks.ok("github workflow: action-validator", cp.returncode == 0,
                  cp.stdout.strip()[-300:] or str(GITHUB))
    check_commands("github workflow", github_scripts(yaml.safe_load(GITHUB.read_text())),
                   checks)
    check_commands("gitlab template", gitlab_scripts(yaml.safe_load(GITLAB.read_text())),
                   checks)
    gcl, why = npm_tool("gitlab-ci-local", build)
    if gcl is None:
        checks.add("gitlab template: GitLab's schema, the jobs", "SKIP", why)
    else:
        state = build / "gitlab-ci-local" / "list-state"
        cp = subprocess.run([str(gcl), "--file", os.path.relpath(GITLAB, ROOT), "--list",
                             "--state-dir", os.path.relpath(state, ROOT)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        jobs = re.findall(r"^(shard: \[\d\]|merge)\s", cp.stdout, re.M)
        checks.ok("gitlab template: GitLab's schema, the jobs",
                  cp.returncode == 0 and len(jobs) == SHARDS + 1,
                  f"gitlab-ci-local --list: exit {cp.returncode}, jobs: {', '.join(jobs)}")
    if args.static:
        checks.add("gitlab-ci-local: the pipeline", "SKIP",
                   "--static (make check runs it after building the coverage profile)")
    else:
        if gcl is None:
            checks.add("gitlab-ci-local: the pipeline", "SKIP", why)
        else:
            merged = gitlab_local(gcl, build, checks)
            if args.compare and merged is not None and (merged / "results.json").is_file():
                compare(build, merged, checks)
    print(checks.closing(), flush=True)
    return 1 if any(s == "FAIL" for _n, s, _d in checks.items) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Sanitizer reports in a console log.

The debug profile's checkers print their findings on the console and let
the kernel go on: KASAN, lockdep, "BUG: sleeping function called from
invalid context", kmemleak (the tgt_kmemleak suite copies its report to the
console after a scan at the end of the run), UBSAN, SLUB debug, the hung
task detector, RCU stalls and every WARN (debug objects, list debugging and refcount
checks report through WARN). Each report is a failure of its own, even when
every KUnit case passed: `scan()` finds them, with their trace, and folds
identical ones (same kind and place) into one, counting them.

Known-benign reports are on ALLOW_LIST, each with a reason and matched
precisely (kind, file, message and when it happens); they are kept in the
results as "allowed", never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

MAX_REPORT_LINES = 200
MAX_REPORTS = 25          # distinct reports kept; the rest are counted

# start line of a report -> its kind
_STARTS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), k) for p, k in (
    (r"^BUG: KASAN: ", "kasan"),
    (r"^BUG: KFENCE: ", "kfence"),
    (r"^BUG: (?:sleeping function called from invalid context|scheduling while atomic)",
     "atomic-sleep"),
    (r"^WARNING: (?:possible circular locking dependency detected"
     r"|possible recursive locking detected|inconsistent lock state"
     r"|possible irq lock inversion dependency detected"
     r"|\S+-safe -> \S+-unsafe lock order detected|bad unlock balance detected"
     r"|held lock freed|lock held when returning to user space"
     r"|suspicious RCU usage|Nested lock was not taken|.* still has locks held"
     r"|bad contention detected|lock held at task exit|locking bug)", "lockdep"),
    (r"^BUG: (?:spinlock|rwlock|held lock freed|workqueue leaked|key \S+ has not been"
     r"|MAX_LOCK|looking up invalid subclass|lock held when returning)", "lockdep"),
    (r"^(?:kmemleak: )?unreferenced object 0x[0-9a-f]+ \(size \d+\):", "kmemleak"),
    (r"^UBSAN: ", "ubsan"),
    (r"^BUG [\w.:-]+ \((?:Not tainted|Tainted: [^)]*)\): ", "slub"),
    (r"^BUG: (?:Bad page (?:state|map)|Bad rss-counter|using (?:smp_processor_id|__this_cpu)"
     r"|unable to release|Dentry .* still in use)", "bug"),
    (r"^INFO: task \S+ blocked for more than \d+ seconds", "hung-task"),
    (r"^(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected stalls?", "rcu-stall"),
    (r"^WARNING: CPU: \d+ PID: \d+ at ", "warn"),
    (r"^WARNING: at ", "warn"),
)]
# separators printed just before a report's first line
_PREFIX = re.compile(r"^(?:-+\[ cut here \]-+|={20,})\s*$")
_KTAP = re.compile(r"^\s*(?:(?:not )?ok \d+\b|KTAP version|TAP version|# Subtest:|1\.\.\d+\s*$)")
_RESULT = re.compile(r"^(\s*)(?:not )?ok \d+ (?:- )?(.*?)(?:\s+#.*)?$")
_SUBTEST = re.compile(r"^(\s*)# Subtest: (\S+)")
_END_TRACE = re.compile(r"^-+\[ end trace [0-9a-f]* ?\]-+")
_SEPARATOR = re.compile(r"^={20,}\s*$")
_OFFSET = re.compile(r"\+0x[0-9a-f]+/0x[0-9a-f]+")
_SUFFIX = re.compile(r"\.(?:part|cold|isra|constprop|llvm)(?:\.\d+)*")
_HEX = re.compile(r"0x[0-9a-f]+|\b[0-9a-f]{8,16}\b")
_NUMBERS = re.compile(r"\b\d+\b")
_KERNEL_TOP = ("arch", "block", "certs", "crypto", "drivers", "fs", "include", "init",
               "io_uring", "ipc", "kernel", "lib", "mm", "net", "rust", "samples",
               "security", "sound", "virt", "usr")
# frames of the allocator, skipped to find who allocated a leaked object
_ALLOC_FRAME = re.compile(
    r"^(?:kmemleak_|save_stack_trace|stack_trace_save|set_track_prepare|__alloc_object|"
    r"__create_object|create_object|__?kmalloc|kmalloc|kmem_cache_|__kmem_cache|slab_|__slab|kzalloc|"
    r"kvmalloc|__kvmalloc|krealloc|__do_kmalloc|kasan_|__kasan|alloc_pages|__alloc|"
    r"alloc_slab|new_slab|allocate_slab|___slab|mempool_|__vmalloc|vmalloc|kmemdup|"
    r"kstrdup|sg_alloc_table|sg_kmalloc|__sg_alloc_table|sg_pool_alloc|"
    r"sg_alloc_table_chained|kmalloc_array|kcalloc|__kmalloc_node|kmalloc_node|"
    r"__kmalloc_cache|kmalloc_trace)")


@dataclass
class AllowRule:
    kind: str
    where: str          # regex on the report's location (file[:line] or function)
    message: str        # regex that must match the report's message line, fully
    before_ktap: bool   # only at boot, before the first KTAP line
    reason: str


ALLOW_LIST: tuple[AllowRule, ...] = (
    AllowRule(
        kind="warn",
        where=r"arch/um/drivers/virt-pci\.c:\d+",
        message=r"No virtio device ID configured for PCI - no PCI support",
        before_ktap=True,
        reason="UML boot: um_pci_init() WARNs when CONFIG_UML_PCI_OVER_VIRTIO is set "
               "(kunit.py's UML defaults) with no device ID "
               "(CONFIG_UML_PCI_OVER_VIRTIO_DEVICE_ID=-1); UML then runs without PCI, "
               "which tgtsim does not use"),
)


@dataclass
class Report:
    kind: str
    title: str                    # the report's first line
    lines: list[str]              # the report, with its trace
    line_no: int                  # 1-based line of the title in the console log
    where: str = ""               # location: file:line or function
    message: str = ""             # WARN message / allocating function ...
    during: str = ""              # "suite.case", "boot" or "after the tests"
    count: int = 1                # identical reports folded into this one
    allowed: str = ""             # the allow-list reason, if allowed
    log: str = "console.log"      # the console it is in (of the run directory)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.where, _normalize(self.message or self.title))

    @property
    def name(self) -> str:
        """Testcase name: kind and place, stable between runs."""
        text = f"{self.kind}: {self.summary}"
        return text if len(text) <= 200 else text[:197] + "..."

    @property
    def summary(self) -> str:
        if self.kind == "warn":
            return f"WARNING at {self.where}" + (f": {self.message}" if self.message else "")
        if self.kind == "kmemleak":
            if not self.title.lstrip("kmemleak: ").startswith("unreferenced object"):
                return self.title
            return "unreferenced object" + (f" allocated by {self.message}"
                                            if self.message else "")
        text = _SUFFIX.sub("", _OFFSET.sub("", self.title))
        text = re.sub(r"^(?:BUG|WARNING): (?:(?:KASAN|KFENCE): )?", "", text)
        text = re.sub(r" at (\S+:\d+)$", lambda m: f" at {kernel_path(m.group(1))}", text)
        if self.kind == "lockdep" and self.where:
            text += f" at {self.where}"
        elif self.kind in ("atomic-sleep", "hung-task", "bug") and self.where \
                and ":" not in self.where:
            text += f", in {self.where}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Report":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Scan:
    reports: list[Report] = field(default_factory=list)    # failures
    allowed: list[Report] = field(default_factory=list)
    dropped: int = 0       # distinct reports beyond MAX_REPORTS


def _normalize(text: str) -> str:
    return _NUMBERS.sub("N", _HEX.sub("X", _SUFFIX.sub("", _OFFSET.sub("", text)))).strip()


def kernel_path(path: str) -> str:
    """'../../linux/arch/um/x.c:12' -> 'arch/um/x.c:12' (O= builds print
    paths relative to the build directory)."""
    parts = path.split("/")
    while parts and parts[0] in ("..", "."):
        parts.pop(0)
    for i, p in enumerate(parts[:-1]):
        if p in _KERNEL_TOP:
            return "/".join(parts[i:])
    return "/".join(parts)


def start_kind(line: str) -> Optional[str]:
    """The kind of report that `line` starts, or None."""
    text = line.strip()
    for pat, kind in _STARTS:
        if pat.search(text):
            return kind
    return None


def _is_crash_line(line: str) -> bool:
    from tgtsim.results import CRASH_PATTERNS
    return start_kind(line) is None and any(p.search(line) for p in CRASH_PATTERNS)


def _end(lines: list[str], start: int, kind: str) -> int:
    """Index after the last line of the report starting at `start`."""
    limit = min(len(lines), start + MAX_REPORT_LINES)
    seen_trace = False
    i = start + 1
    while i < limit:
        line = lines[i]
        text = line.strip()
        if kind == "kmemleak":
            # as printed by kmemleak.verbose=1 / tgt_kmemleak, or as in the file
            prefixed = lines[start].lstrip().startswith("kmemleak:")
            if prefixed and not line.startswith("kmemleak:   "):
                return i
            if not prefixed and not (line.startswith("  ") and text and
                                     not _KTAP.match(line) and not text.startswith("#")):
                return i
            i += 1
            continue
        if _END_TRACE.search(text):
            return i + 1
        if kind in ("kasan", "kfence", "ubsan", "slub") and _SEPARATOR.match(text):
            return i + 1
        if start_kind(line) or _KTAP.match(line) or _is_crash_line(line):
            return i
        if text.startswith("Call Trace:"):
            seen_trace = True
        elif seen_trace and kind not in ("kasan", "kfence", "ubsan", "slub", "warn") \
                and text and not line[:1].isspace():
            return i   # the first line after the call trace
        i += 1
    return limit


def _details(kind: str, title: str, body: list[str]) -> tuple[str, str]:
    """(where, message) of a report."""
    if kind == "warn":
        m = re.search(r" at (\S+)(?: (\S+))?", title.split("PID:", 1)[-1])
        where = kernel_path(m.group(1)) if m else ""
        message = ""
        for ln in body[1:4]:
            t = ln.strip()
            if t and not t.startswith(("Modules linked in", "CPU:", "Stack:", "Call Trace:",
                                       "Hardware name:", "RIP:", "Tainted:")):
                message = t
                break
        return where, message
    if kind == "kmemleak":
        frames = [ln.split("kmemleak:", 1)[-1].strip() for ln in body]
        in_trace = False
        for f in frames:
            if f.startswith("backtrace"):
                in_trace = True
                continue
            if in_trace and f:
                name = re.sub(r"^\[<[0-9a-f]+>\]\s*", "", f)
                name = _SUFFIX.sub("", name.split("+", 1)[0])
                if name and not _ALLOC_FRAME.match(name):
                    return "", name
        return "", ""
    if kind in ("atomic-sleep", "hung-task", "bug"):
        culprit = _culprit(body)
        if culprit:
            return culprit, ""
    m = re.search(r"\b(?:in|at) ([\w.]+)(?:\+0x|$)", title) or \
        re.search(r" at (\S+:\d+)", title)
    where = _SUFFIX.sub("", kernel_path(m.group(1))) if m else ""
    if kind == "lockdep":
        for ln in body:
            mm = re.search(r", at: ([\w.]+)\+0x", ln)
            if mm:
                return _SUFFIX.sub("", mm.group(1)), ""
    return where, ""


# frames of the reporting machinery, skipped to find the code at fault
_REPORT_FRAME = re.compile(
    r"^(?:_printk|printk|vprintk|dump_stack|dump_trace|show_stack|__read_once_word_nocheck|"
    r"dump_stack_print_info|um_set_signals|__might_resched|__might_sleep|___might_sleep|"
    r"__might_fault|might_alloc|__cant_sleep|__schedule_bug|schedule_debug|__schedule|"
    r"schedule|lock_acquire|lock_release|lock_is_held_type|trace_hardirqs_|fs_reclaim_|"
    r"__lock_acquire|kasan_|__kasan|__delete_object|delete_object|kfree|mempool_)")


def _culprit(body: list[str]) -> str:
    """The first reliable frame of the call trace that is not the
    reporting machinery or the allocator ('' if none)."""
    in_trace = False
    for ln in body:
        if ln.strip().startswith("Call Trace:"):
            in_trace = True
            continue
        if not in_trace:
            continue
        m = re.match(r"^\s*(?:\[<[0-9a-f]+>\]\s*)?(\?\s*)?([\w.]+)\+0x", ln)
        if not m or m.group(1):      # '? func': not a frame of the chain
            continue
        name = _SUFFIX.sub("", m.group(2))
        if not _REPORT_FRAME.match(name) and not _ALLOC_FRAME.match(name):
            return name
    return ""


def _contexts(lines: list[str]) -> tuple[list[str], int]:
    """For each line, the test that was running ("suite.case[/param]") or
    "after the tests"; and the index of the first KTAP line (len(lines) if
    none). A line belongs to the test whose result comes next."""
    first = next((i for i, ln in enumerate(lines) if "KTAP version" in ln or "TAP version" in ln),
                 len(lines))
    during = [""] * len(lines)
    suite = case = ""
    pending: list[int] = []
    for i in range(first, len(lines)):
        ln = lines[i]
        m = _SUBTEST.match(ln)
        if m:
            if len(m.group(1)) == 4:
                suite = m.group(2)
            elif len(m.group(1)) == 8:
                case = m.group(2)
            continue
        r = _RESULT.match(ln)
        if r:
            depth, name = len(r.group(1)), r.group(2).strip()
            test = {4: f"{suite}.{name}", 8: f"{suite}.{case}/{name}"}.get(depth, suite)
            for j in pending:
                during[j] = test
            pending = []
            if depth == 0:
                suite = ""
            continue
        pending.append(i)
    for j in pending:   # no result came: the kernel stopped, or the tests were over
        during[j] = f"{suite} (no result)" if suite else "after the tests"
    return during, first


def scan(lines: list[str], allow: tuple[AllowRule, ...] = ALLOW_LIST) -> Scan:
    """All sanitizer reports of a console log."""
    during, first_ktap = _contexts(lines)
    found: dict[tuple[str, str, str], Report] = {}
    order: list[Report] = []
    i = 0
    while i < len(lines):
        kind = start_kind(lines[i])
        if kind is None:
            i += 1
            continue
        end = _end(lines, i, kind)
        begin = i - 1 if i > 0 and _PREFIX.match(lines[i - 1].strip()) else i
        body = lines[i:end]
        title = lines[i].strip()
        where, message = _details(kind, title, body)
        when = "boot" if i < first_ktap else (during[i] or "")
        rep = Report(kind=kind, title=title, lines=lines[begin:end], line_no=i + 1,
                     where=where, message=message, during=when)
        rule = _allowed(rep, i < first_ktap, allow)
        if rule:
            rep.allowed = rule.reason
        prev = found.get(rep.key + (rep.allowed,))
        if prev:
            prev.count += 1
        else:
            found[rep.key + (rep.allowed,)] = rep
            order.append(rep)
        i = max(end, i + 1)
    res = Scan()
    for rep in order:
        if rep.allowed:
            res.allowed.append(rep)
        elif len(res.reports) < MAX_REPORTS:
            res.reports.append(rep)
        else:
            res.dropped += 1
    if res.dropped:
        res.reports.append(Report(
            kind="sanitizer", title=f"{res.dropped} more distinct sanitizer reports "
            "(see console.log)", lines=[], line_no=0, during=""))
    return res


def _allowed(rep: Report, at_boot: bool, allow: tuple[AllowRule, ...]) -> Optional[AllowRule]:
    for rule in allow:
        if rule.kind != rep.kind or (rule.before_ktap and not at_boot):
            continue
        if re.fullmatch(rule.where, rep.where) and re.fullmatch(rule.message, rep.message):
            return rule
    return None


def scan_console(path: Path, origin: str = "") -> Scan:
    """The reports of a console log file of a run directory; `origin`
    ("selftests") is put before the test each report happened in."""
    try:
        text = path.read_text(errors="backslashreplace")
    except OSError:
        return Scan()
    found = scan(text.splitlines())
    for rep in found.reports + found.allowed:
        rep.log = path.name
        if origin and rep.during == "after the tests":
            rep.during = f"after the {origin}"
        elif origin and rep.during and rep.during != "boot":
            rep.during = f"{origin}.{rep.during}"
    return found

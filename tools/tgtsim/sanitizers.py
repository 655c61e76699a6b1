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
from typing import Any, Optional

from tgtsim.console import is_crash, report_kind
from tgtsim.ktap import AFTER, Ktap

MAX_REPORT_LINES = 200
MAX_REPORTS = 25          # distinct reports kept; the rest are counted

# separators printed just before a report's first line
_PREFIX = re.compile(r"^(?:-+\[ cut here \]-+|={20,})\s*$")
# a KTAP line (result, header, plan) ends a report
_KTAP = re.compile(r"^\s*(?:(?:not )?ok \d+\b|KTAP version|TAP version|# Subtest:|1\.\.\d+\s*$)")
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
               "which tgtsim does not use (the option stays: it gives UML the DMA API "
               "that the midlayer's max_sectors clamp uses)"),
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
        if report_kind(line) or _KTAP.match(line) or is_crash(line):
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


def scan(lines: list[str], ktap: Ktap, allow: tuple[AllowRule, ...] = ALLOW_LIST,
         log: str = "console.log", origin: str = "") -> Scan:
    """All sanitizer reports of console `lines` (the file `log` of the run
    directory), each placed in the test it happened in as `ktap` (the
    console's parse) tells; `origin` ("selftests") is put before that test."""
    first_ktap = ktap.start
    found: dict[tuple[str, str, str, str], Report] = {}
    order: list[Report] = []
    i = 0
    while i < len(lines):
        kind = report_kind(lines[i])
        if kind is None:
            i += 1
            continue
        end = _end(lines, i, kind)
        begin = i - 1 if i > 0 and _PREFIX.match(lines[i - 1].strip()) else i
        body = lines[i:end]
        title = lines[i].strip()
        where, message = _details(kind, title, body)
        when = "boot" if i < first_ktap else _origin(ktap.during[i], origin)
        rep = Report(kind=kind, title=title, lines=lines[begin:end], line_no=i + 1,
                     where=where, message=message, during=when, log=log)
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
            f"(see {log})", lines=[], line_no=0, during="", log=log))
    return res


def _allowed(rep: Report, at_boot: bool, allow: tuple[AllowRule, ...]) -> Optional[AllowRule]:
    for rule in allow:
        if rule.kind != rep.kind or (rule.before_ktap and not at_boot):
            continue
        if re.fullmatch(rule.where, rep.where) and re.fullmatch(rule.message, rep.message):
            return rule
    return None


def _origin(during: str, origin: str) -> str:
    """The test a report happened in, as named for a boot of `origin`."""
    if not origin:
        return during
    if during == AFTER:
        return f"after the {origin}"
    return f"{origin}.{during}" if during else during

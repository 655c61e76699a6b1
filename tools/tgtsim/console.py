"""What a line of a kernel console is: the first line of a sanitizer report
(and its kind), or a crash. The one crash detector of tgtsim: a line that
starts a sanitizer report is never a crash (the kernel goes on after it);
and the one rule for why a boot counts as crashed (boot_crash)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# the first line of a report -> its kind (see sanitizers.py)
REPORT_STARTS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), k) for p, k in (
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

CRASH_PATTERNS = [
    re.compile(p) for p in (
        r"Kernel panic - not syncing", r"\bOops\b", r"\bBUG: ", r"kernel BUG at",
        r"general protection fault", r"Segmentation fault", r"Unable to handle kernel",
        r"Kernel mode (?:fault|signal)", r"Stack overflow",
        r"unregister_netdevice: waiting", r"watchdog: BUG: soft lockup",
    )
]


# printk's time prefix ("[    5.123456] "), printk.time=1 on the KUnit boot
_PRINTK_TIME = re.compile(r"^\[\s*(\d+\.\d+)\] ?")


def split_times(lines: list[str]) -> tuple[list[str], list[Optional[float]]]:
    """The console lines without printk's time prefix, and each line's time
    (None for a line without one: UML's own start-up lines, pr_cont)."""
    out: list[str] = []
    times: list[Optional[float]] = []
    for line in lines:
        m = _PRINTK_TIME.match(line)
        if m:
            times.append(float(m.group(1)))
            out.append(line[m.end():])
        else:
            times.append(None)
            out.append(line)
    return out, times


def report_kind(line: str) -> Optional[str]:
    """The kind of sanitizer report that `line` starts, or None."""
    text = line.strip()
    for pat, kind in REPORT_STARTS:
        if pat.search(text):
            return kind
    return None


def is_crash(line: str) -> bool:
    """`line` tells of a crash (panic, oops, BUG that is not a sanitizer report)."""
    return report_kind(line) is None and any(p.search(line) for p in CRASH_PATTERNS)


def detect_crash(lines: list[str]) -> Optional[str]:
    """The first crash line of a console, stripped; None if there is none."""
    return next((line.strip() for line in lines if is_crash(line)), None)


@dataclass(frozen=True)
class BootWords:
    """How the crash reasons of a boot read."""
    crash: str          # before the crash line: "kernel crash"
    no_ktap: str        # the console has no KTAP
    exited: str         # a non-zero exit; {rc} is the exit status


def boot_crash(lines: list[str], hang: str, no_ktap: bool, incomplete: str,
               returncode: Optional[int], words: BootWords) -> str:
    """Why a boot crashed ('' if it did not), the first that holds of: the
    watchdog's `hang` reason, a crash line, no KTAP, the KTAP `incomplete`
    (why, as the boot's analysis tells), a non-zero exit of the kernel."""
    if hang:
        return hang
    panic = detect_crash(lines)
    if panic:
        return f"{words.crash}: {panic}"
    if no_ktap or not lines:
        return words.no_ktap
    if incomplete:
        return incomplete
    if returncode not in (0, None):
        return words.exited.format(rc=returncode)
    return ""

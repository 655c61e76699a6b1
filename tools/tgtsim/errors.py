"""Exit codes, what a run came to, and the exceptions that stop a command.

Like kunit.py's KunitStatus, a Status says how a run or a step ended, and
whose failure it is: the kernel's (a case failed, a sanitizer reported, the
coverage gate, a crash or hang) or not (the tree under test does not build;
the tool itself or what it runs failed: the selftest programs do not build,
gcov or lcov fail, a package is missing, the disk is full), so that callers
such as bisect-step and mutants can tell them apart. The exit codes stay as
documented: several statuses share exit code 3.

Every error that reaches the top level is a TgtsimError; the CLI prints its
message on stderr (no traceback) and exits with its status's exit code.
"""

from __future__ import annotations

import enum

EXIT_OK = 0
EXIT_TEST_FAILURE = 1
EXIT_USAGE = 2
EXIT_INFRA = 3
EXIT_INTERRUPTED = 130


class Status(enum.Enum):
    SUCCESS = "success"
    TEST_FAILURE = "test failure"      # the kernel: a failed case, a sanitizer report, the gate
    KERNEL_CRASH = "kernel crash"      # the kernel: panic, oops, hang, truncated or no KTAP
    BUILD_FAILURE = "build failure"    # the tree: a patch does not apply, compile/config error
    TOOL_FAILURE = "tool failure"      # the harness: selftest build, gcov/lcov, package, disk
    USAGE_ERROR = "usage error"        # bad option, profile, KERNEL_SRC, config file

    @property
    def exit_code(self) -> int:
        return {Status.SUCCESS: EXIT_OK, Status.TEST_FAILURE: EXIT_TEST_FAILURE,
                Status.USAGE_ERROR: EXIT_USAGE}.get(self, EXIT_INFRA)

    @property
    def kernel_failure(self) -> bool:
        """The kernel under test failed (not the build, not the tool)."""
        return self in (Status.TEST_FAILURE, Status.KERNEL_CRASH)


class TgtsimError(Exception):
    """Base class: a message for the user and the status it ends with."""

    status: Status = Status.TOOL_FAILURE

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # extra lines (compiler errors, console tail)

    @property
    def exit_code(self) -> int:
        return self.status.exit_code


class UsageError(TgtsimError):
    """Bad option, unknown profile, bad KERNEL_SRC: exit 2."""

    status = Status.USAGE_ERROR


class InfraError(TgtsimError):
    """The tool's failure: missing tool or package, unwritable out/, git
    failure, a step not done yet: exit 3."""

    status = Status.TOOL_FAILURE


class BuildError(TgtsimError):
    """The tree under test: compile error, patch that does not apply,
    config mismatch: exit 3."""

    status = Status.BUILD_FAILURE

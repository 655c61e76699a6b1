"""Exit codes and the exceptions that map to them.

Every error that reaches the top level is one of these; the CLI prints its
message on stderr (no traceback) and exits with its code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_TEST_FAILURE = 1
EXIT_USAGE = 2
EXIT_INFRA = 3
EXIT_INTERRUPTED = 130


class TgtsimError(Exception):
    """Base class: a message for the user and an exit code."""

    exit_code: int = EXIT_INFRA

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # extra lines (compiler errors, console tail)


class UsageError(TgtsimError):
    """Bad option, unknown profile, bad KERNEL_SRC: exit 2."""

    exit_code = EXIT_USAGE


class InfraError(TgtsimError):
    """Missing tool, unwritable out/, git failure: exit 3."""

    exit_code = EXIT_INFRA


class BuildError(TgtsimError):
    """Compile error, patch that does not apply, config mismatch: exit 3."""

    exit_code = EXIT_INFRA

"""The one exception family of soc.

Every error a user can meet is a :class:`SocError` subclass carrying its exit code and, where it
applies, the file and line it is about and a hint naming the next thing to try. The CLI translates
them in exactly one place (``soc.cli.main``).
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Stable exit codes, documented in docs/exit-codes.md."""

    OK = 0
    ERROR = 1  # an error with no more precise code
    USAGE = 2  # bad command line (click's own code)
    CONFIG = 3  # the configuration file is missing, unreadable or invalid
    STORE = 4  # the store is unreachable, locked too long, or its schema is too new
    PARTIAL = 5  # the work finished, but some records or sources failed (see stderr)
    BUSY = 6  # another pass holds the lock; nothing was done
    NOT_FOUND = 7  # a named thing (source, alert, incident, file) does not exist
    INPUT = 8  # an input file cannot be read or its format is unknown
    RULES = 9  # rules failed to load or a rule test failed
    FINDINGS = 10  # the command ran and found something the user asked to be told of


class SocError(Exception):
    """Root of all soc errors."""

    exit_code: ExitCode = ExitCode.ERROR
    default_hint: str | None = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.path = str(path) if path is not None else None
        self.line = line

    @property
    def location(self) -> str | None:
        """``file:line`` (or just the file) this error is about, if any."""
        if self.path is None:
            return None
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def __str__(self) -> str:
        where = self.location
        return f"{where}: {self.message}" if where else self.message


class UsageError(SocError):
    """A command line the library cannot act on (click catches most before they reach it)."""

    exit_code = ExitCode.USAGE


class ConfigError(SocError):
    exit_code = ExitCode.CONFIG
    default_hint = "Check the file against docs/configuration.md, or run 'soc init' for a starter."


class StoreError(SocError):
    exit_code = ExitCode.STORE
    default_hint = "Run 'soc store doctor' to check the store."


class StoreLockedError(StoreError):
    default_hint = "Another process holds the store for too long; retry, or see 'soc status'."


class BusyError(SocError):
    exit_code = ExitCode.BUSY
    default_hint = "Another 'soc collect' pass is running; this one did nothing. Retry later."


class NotFoundError(SocError):
    exit_code = ExitCode.NOT_FOUND


class InputError(SocError):
    exit_code = ExitCode.INPUT
    default_hint = "Check the path and its format; force one with --format."


class ParseError(SocError):
    """A record could not be parsed. Never fatal: the record goes to the dead letters."""

    exit_code = ExitCode.PARTIAL


class SkipRecord(ParseError):
    """A record that was read and understood but is no event (a W3C ``#Fields:`` header, a
    comment): counted as skipped, never dead-lettered."""


class RuleError(SocError):
    exit_code = ExitCode.RULES
    default_hint = "Run 'soc rules check' to list every unusable rule with its reason."


class PartialError(SocError):
    """The work finished but some parts failed; details were already reported."""

    exit_code = ExitCode.PARTIAL

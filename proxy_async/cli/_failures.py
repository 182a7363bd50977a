"""Exit codes, and the one line (or JSON object) every failure of every command becomes.

A command raises :class:`CommandFailure` for what it knows; :func:`failure_of` turns
the package's typed errors, the system's and click's into one. Nothing else decides
an exit code, so the table in the README is this module.
"""

from __future__ import annotations

import errno
import signal
from typing import Any

import click

from ..errors import (
    ApiUnavailableError,
    AuthError,
    CertificateVerifyError,
    EgressProxyError,
    EgressProxyRefusedError,
    ExportStateError,
    ExportWriteError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    ProxyError,
    ServerError,
    SessionDiscoveryError,
    TransportError,
)

EXIT_OK = 0
"""Everything asked for was done."""

EXIT_PARTIAL = 1
"""Done in part: some sessions (or worker jobs) failed; what succeeded is kept, rerun to
finish (``export --resume``, ``workers enqueue --retry-failed``)."""

EXIT_USAGE = 2
"""Nothing was tried: bad arguments, SIDs or environment variables, missing
credentials, or files in the way (another export's, an unfinished one)."""

EXIT_FATAL = 3
"""Stopped: credentials refused, a resource not found, sessions cannot be listed, the
output cannot be written, Redis cannot be reached, a port cannot be listened on."""

EXIT_UNAVAILABLE = 4
"""The API (or the forward proxy in front of it) stopped answering: progress is saved,
rerun with ``--resume`` once it is back."""

EXIT_SIGNALLED = 128
"""Interrupted: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""

OUTCOMES = {
    EXIT_OK: "ok",
    EXIT_PARTIAL: "partial",
    EXIT_USAGE: "usage",
    EXIT_FATAL: "fatal",
    EXIT_UNAVAILABLE: "unavailable",
}
"""The ``outcome`` a ``--json`` object gives for each exit code (signals: ``interrupted``)."""


def outcome_of(exit_code: int) -> str:
    """``ok``, ``partial``, ``usage``... as in :data:`OUTCOMES`; ``interrupted`` for
    128 + a signal."""
    return OUTCOMES.get(exit_code, "interrupted")


class CommandFailure(Exception):
    """A command's failure: one line naming the problem and the fix, and its exit code.

    ``command`` is the command path (``proxy-async export``), filled in by the
    command that fails; ``details`` are extra fields for the ``--json`` object.
    """

    def __init__(
        self,
        message: str,
        exit_code: int = EXIT_FATAL,
        *,
        command: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.command = command
        self.details = details or {}
        self.json_to_stderr = False
        """Set when stdout carries records (``export --out -``): ``--json`` goes to stderr."""

    @property
    def outcome(self) -> str:
        """``usage``, ``fatal``... as in :data:`OUTCOMES`; ``interrupted`` for a signal."""
        return outcome_of(self.exit_code)

    def with_hint(self, hint: str) -> CommandFailure:
        """The same failure with ``hint`` (a sentence) appended to its message."""
        if not hint:
            return self
        message = self.message.rstrip(".")
        hinted = CommandFailure(
            f"{message}. {hint}", self.exit_code, command=self.command, details=self.details
        )
        hinted.json_to_stderr = self.json_to_stderr
        return hinted


class Interrupted(CommandFailure):
    """Stopped by a signal; the exit code is 128 + its number (set by the runner)."""

    def __init__(self, hint: str = "", signum: int = signal.SIGINT) -> None:
        message = "interrupted" + (f". {hint}" if hint else "")
        super().__init__(message, EXIT_SIGNALLED + signum)


class ReaderGone(CommandFailure):
    """The reader of stdout went away (``| head``): exit 141 (128 + SIGPIPE) without a
    word, as ``cat`` does. Raised instead of ``BrokenPipeError``, which click would turn
    into exit 1."""

    def __init__(self) -> None:
        super().__init__("", EXIT_SIGNALLED + signal.SIGPIPE)


class StreamClosed(CommandFailure):
    """A standard stream the command needs was closed by whoever started it
    (``proxy-async ... >&-``, ``<&-``): exit 3, naming the stream and the fix."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"cannot use {name}: it is closed; start the command with {name} open "
            f"(redirect it to or from a file, or /dev/null)",
            EXIT_FATAL,
        )


def failure_of(error: BaseException, options: dict[str, str] | None = None) -> CommandFailure:
    """The one-line failure ``error`` stands for.

    ``options`` maps client parameter names to the options that set them
    (``{"base_url": "--base-url"}``), so a bad value is named as the user typed it.
    An error no rule knows is reported as unexpected (exit 3), with its type, and
    ``--debug`` shows its traceback.
    """
    if isinstance(error, CommandFailure):
        return error
    if isinstance(error, click.UsageError):
        where = error.ctx.command_path if error.ctx is not None else None
        see = f" (see '{where} --help')" if where else ""
        return CommandFailure(f"{error.format_message()}{see}", EXIT_USAGE, command=where)
    if isinstance(error, click.ClickException):
        return CommandFailure(error.format_message(), EXIT_USAGE)
    if isinstance(error, ProxyError):
        return _proxy_failure(error, options or {})
    if isinstance(error, OSError):
        return CommandFailure(_os_text(error), EXIT_FATAL)
    return CommandFailure(
        f"unexpected {type(error).__name__}: {error} (run again with --debug for the "
        "traceback, and please report it)",
        EXIT_FATAL,
    )


def _proxy_failure(error: ProxyError, options: dict[str, str]) -> CommandFailure:
    if isinstance(error, InvalidParameterError):
        option = options.get(error.parameter)
        if option is None:
            return CommandFailure(str(error), EXIT_USAGE)
        return CommandFailure(f"invalid {option}: expected {error.expected}", EXIT_USAGE)
    if isinstance(error, ExportStateError):
        return CommandFailure(error.for_command_line(), EXIT_USAGE)
    if isinstance(error, AuthError):
        if error.credentials is not None and error.credentials.startswith("API key"):
            fix = "fix TWILIO_API_KEY and TWILIO_API_SECRET (or unset them to use the token)"
        else:
            fix = "fix TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or set an API key pair)"
        if isinstance(error, PermissionDeniedError):
            fix = "give these credentials access to Proxy, or use others"
        return CommandFailure(f"authentication failed: {error}; {fix}", EXIT_FATAL)
    if isinstance(error, ApiUnavailableError):
        if isinstance(error.cause, EgressProxyError):  # not the API: the proxy before it
            return CommandFailure(
                f"stopped early: cannot get through the proxy {error.cause.proxy} ({error.cause})",
                EXIT_UNAVAILABLE,
            )
        return CommandFailure(f"stopped early: {error}", EXIT_UNAVAILABLE)
    if isinstance(error, NotFoundError):
        return CommandFailure(f"not found: {error}", EXIT_FATAL)
    if isinstance(error, ExportWriteError):
        return CommandFailure(
            f"{error}; check that the directory exists and is writable, and that the disk has room",
            EXIT_FATAL,
        )
    if isinstance(error, SessionDiscoveryError):
        return CommandFailure(str(error), EXIT_FATAL)
    if isinstance(error, _OUTAGES) and not isinstance(error, _SETTING_ERRORS):
        # A read command's request failed after its retries, as an export's sessions
        # do when it exits 4: the same outage gets the same code.
        return CommandFailure(
            f"the API is not answering: {error}; try again once it is back", EXIT_UNAVAILABLE
        )
    return CommandFailure(f"stopped: {error}", EXIT_FATAL)


_OUTAGES = (TransportError, ServerError)
"""Connection trouble and 5xx answers: the API (or the way to it) is down, for now."""

_SETTING_ERRORS = (CertificateVerifyError, EgressProxyRefusedError)
"""Connection errors that a setting causes (the CA bundle, the proxy): fatal, exit 3."""


def _os_text(error: OSError) -> str:
    """``cannot write /sys/x: Permission denied``-style text for a system error; a full
    disk says so and what to do, even when the system named no file."""
    reason = error.strerror or str(error) or type(error).__name__
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        where = "the output" if error.filename is None else error.filename
        return f"cannot write {where}: {reason} (free some space on its disk, or write elsewhere)"
    if error.filename is None:
        return f"system error: {reason}"
    verb = "write" if error.errno == errno.EROFS else "use"
    return f"cannot {verb} {error.filename}: {reason}"

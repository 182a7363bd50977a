"""The click classes every command uses, and how commands print.

:class:`Command` turns whatever a command raises into a
:class:`~proxy_async.cli._failures.CommandFailure` stamped with the command's path, so
``main`` reports every failure the same way (one line, or one JSON object).
"""

from __future__ import annotations

import io
import sys
from typing import Any, TextIO

import click
import orjson

from ._client_settings import ClientSettings
from ._failures import CommandFailure, ReaderGone, StreamClosed, failure_of


class Command(click.Command):
    """A command whose failures are :class:`CommandFailure` naming it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandFailure as failed:
            failed.command = failed.command or ctx.command_path
            raise
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            raise ReaderGone() from None
        except Exception as error:
            failure = failure_of(error, ClientSettings.option_names())
            failure.command = failure.command or ctx.command_path
            raise failure from error


class Group(click.Group):
    """A group whose commands (and subgroups) are :class:`Command` and :class:`Group`."""

    command_class = Command
    group_class = type

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # "Missing command" is a one-line usage error, not the whole help on stderr.
        kwargs.setdefault("no_args_is_help", False)
        super().__init__(*args, **kwargs)
        # Every command takes --json and --debug, groups too (main reads them from argv).
        for flag, help_text in (
            ("--json", "failures as one JSON object on stdout"),
            ("--debug", "failures with their traceback"),
        ):
            self.params.append(
                click.Option([flag], is_flag=True, expose_value=False, help=help_text)
            )


# C0 and C1 controls, DEL, and the invisible marks that reorder or break text
# (bidirectional overrides and isolates, line and paragraph separators).
CONTROL_ESCAPES = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (
        *range(0x20),
        *range(0x7F, 0xA0),
        0x200E,
        0x200F,
        *range(0x2028, 0x202F),
        *range(0x2066, 0x206A),
    )
}
"""``str.translate`` table showing each control character as its escape (``\\x1b``)."""


_LINES_KEPT = {code: escape for code, escape in CONTROL_ESCAPES.items() if code != ord("\n")}


def printable(text: str) -> str:
    """``text`` with its control characters escaped (``\\x1b[2J`` shown, not obeyed),
    its lines kept: what a server sent (an error's message, a session's failure) cannot
    drive the terminal it is printed on."""
    return text.translate(_LINES_KEPT)


def say(message: str, *, stream: TextIO | None = None) -> None:
    """Lines for people, control characters escaped (:func:`printable`): on stderr
    unless ``stream`` says otherwise."""
    print(printable(message), file=sys.stderr if stream is None else stream, flush=True)


def emit_json(body: dict[str, Any], *, stream: TextIO | None = None) -> None:
    """One JSON object on one line: on stdout unless ``stream`` says otherwise."""
    print(orjson.dumps(body).decode(), file=sys.stdout if stream is None else stream, flush=True)


class ClosedStream(io.TextIOBase):
    """Stands in for a standard stream that was closed when the process started
    (``>&-``, ``<&-``: Python then sets ``sys.stdout`` to None, and ``print`` to None
    writes nothing while ``print(file=None)`` writes to stdout instead).

    Reading or writing raises :class:`StreamClosed` (exit 3, one line); with
    ``discard`` (stderr: nowhere is left to say anything) writes are dropped instead.
    """

    def __init__(self, name: str, *, discard: bool = False) -> None:
        super().__init__()
        self.stream_name = name
        self.discard = discard

    def write(self, text: str) -> int:
        if self.discard:
            return len(text)
        raise StreamClosed(self.stream_name)

    def read(self, size: int | None = -1) -> str:
        raise StreamClosed(self.stream_name)

    def fileno(self) -> int:
        raise StreamClosed(self.stream_name)

    def flush(self) -> None:
        """Nothing is ever buffered."""

    def isatty(self) -> bool:
        return False


def stand_in_for_closed_streams() -> list[str]:
    """Put a :class:`ClosedStream` where ``sys.stdin``, ``sys.stdout`` or ``sys.stderr``
    is None; return the names of those replaced (to set back to None)."""
    replaced = []
    for name, discard in (("stdin", False), ("stdout", False), ("stderr", True)):
        if getattr(sys, name) is None:
            setattr(sys, name, ClosedStream(name, discard=discard))
            replaced.append(name)
    return replaced

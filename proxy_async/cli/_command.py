"""The click classes every command uses, and how commands print.

:class:`Command` turns whatever a command raises into a
:class:`~proxy_async.cli._failures.CommandFailure` stamped with the command's path, so
``main`` reports every failure the same way (one line, or one JSON object).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click
import orjson

from ._failures import CommandFailure, ReaderGone, failure_of
from ._options import ClientSettings


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
            failure = failure_of(error, ClientSettings.OPTION_NAMES)
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


def say(message: str, *, stream: TextIO | None = None) -> None:
    """One line for people: on stderr unless ``stream`` says otherwise."""
    print(message, file=sys.stderr if stream is None else stream, flush=True)


def emit_json(body: dict[str, Any], *, stream: TextIO | None = None) -> None:
    """One JSON object on one line: on stdout unless ``stream`` says otherwise."""
    print(orjson.dumps(body).decode(), file=sys.stdout if stream is None else stream, flush=True)

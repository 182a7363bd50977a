"""The ``proxy-async`` command tree and :func:`main`, which reports every outcome.

Commands live in their own modules (:mod:`.export`, :mod:`.read`, :mod:`.workers`,
:mod:`.fake_server`); this module joins them and turns a failure into one line on
stderr (and, with ``--json``, one JSON object on stdout) with its exit code
(:mod:`._failures`). ``--debug`` adds the traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence

import click

from .._version import __version__
from ._command import ClosedStream, Group, emit_json, say, stand_in_for_closed_streams
from ._failures import CommandFailure, Interrupted, StreamClosed, failure_of
from ._options import CONTEXT_SETTINGS, PROG
from .export import demo_command, export_command
from .fake_server import fake_server_command
from .read import interactions_group, sessions_group
from .workers import workers_group


@click.group(
    PROG,
    cls=Group,
    context_settings=CONTEXT_SETTINGS,
    epilog="Every command takes --help, --json (the outcome as one JSON object) and --debug "
    "(a traceback on failure). Exit codes: 0 success, 1 partly done (rerun to finish), "
    "2 bad usage, 3 fatal error, 4 the API stopped answering, 128+N stopped by signal N.",
)
@click.version_option(__version__, "--version", prog_name=PROG, message="%(prog)s %(version)s")
def cli() -> None:
    """Twilio Proxy Interactions from the command line: bulk export (concurrent,
    rate-limited, resumable), quick reads, a fake server and a pool of workers.

    Credentials come from the environment: TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or
    with TWILIO_API_KEY and TWILIO_API_SECRET.
    """


for _command in (
    export_command,
    demo_command,
    sessions_group,
    interactions_group,
    workers_group,
    fake_server_command,
):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run ``proxy-async`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Never raises and never prints a traceback unless ``--debug`` is given: a failure is
    one line on stderr (``proxy-async export: error: ...``) and, with ``--json``, also
    one JSON object on stdout: ``{"ok": false, "exit_code": 2, "outcome": "usage",
    "command": ..., "error": ...}``.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    replaced = stand_in_for_closed_streams()
    try:
        return _main(arguments, prog)
    finally:
        for name in replaced:
            setattr(sys, name, None)


def _main(arguments: list[str], prog: str) -> int:
    try:
        result = cli.main(arguments, prog_name=prog, standalone_mode=False)
    except BrokenPipeError:
        _silence_stdout()
        return 128 + signal.SIGPIPE
    except click.Abort as stop:  # Ctrl-C while click itself was reading
        failure: CommandFailure = Interrupted()
        error: BaseException = stop
    except KeyboardInterrupt as stop:
        failure, error = Interrupted(), stop
    except Exception as raised:
        failure, error = failure_of(raised), raised
    else:
        return result if isinstance(result, int) else 0
    _report(failure, error, arguments, prog)
    return failure.exit_code


def _report(failure: CommandFailure, error: BaseException, arguments: list[str], prog: str) -> None:
    flags = _flags(arguments)
    if not failure.message:  # a quiet ending (the reader of stdout went away)
        _silence_stdout()
        return
    if "--debug" in flags:
        cause = error.__cause__ if isinstance(error, CommandFailure) else error
        traceback.print_exception(cause or error, file=sys.stderr)
    command = failure.command or prog
    say(f"{command}: error: {failure.message}")
    if "--json" in flags:
        # stdout may be what failed (closed, or a reader gone): the line above stands.
        with contextlib.suppress(StreamClosed, OSError):
            emit_json(
                {
                    "ok": False,
                    "exit_code": failure.exit_code,
                    "outcome": failure.outcome,
                    "command": command,
                    "error": failure.message,
                    **failure.details,
                },
                stream=sys.stderr if failure.json_to_stderr else None,
            )


def _flags(arguments: list[str]) -> set[str]:
    """``--json`` and ``--debug`` among the options (before ``--``), however parsing went:
    ``--json=1`` (refused by click: the flag takes no value) still asks for JSON."""
    options = arguments[: arguments.index("--")] if "--" in arguments else arguments
    return {
        flag
        for flag in ("--json", "--debug")
        if any(option == flag or option.startswith(f"{flag}=") for option in options)
    }


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    if isinstance(sys.stdout, ClosedStream):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file (a test's capture)
        pass

"""``proxy-async sessions list``, ``interactions list`` and ``interactions fetch``: a look
at a Service before a nine-hour export, and reads for scripts.

A table on a terminal; ``--format ndjson|csv|json`` (NDJSON by default into a pipe or a
file) prints what the export would write for the same records (:mod:`.read_output`,
from the pages of :mod:`._read_pages`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncGenerator, Callable
from typing import Any

import click

from ..client.proxy_client import ProxyClient
from ..models.raw_records import RawRecords
from ._client_settings import ClientSettings
from ._command import Group
from ._failures import EXIT_OK, failure_of
from ._options import (
    CONTEXT_SETTINGS,
    PAGE_SIZE,
    Number,
    Sid,
    connection_options,
    reporting_options,
    verbose_option,
)
from ._read_kinds import (
    INTERACTIONS,
    READ_FORMATS,
    SESSIONS,
    ReadFormat,
    RecordKind,
    default_format,
)
from ._read_pages import fetch_interaction, interaction_pages, session_pages
from ._request_log import configure_request_logging
from ._runner import run_until_signalled
from .read_output import write_records

Pages = Callable[[ProxyClient], AsyncGenerator[RawRecords, None]]


def _read_options(function: Any) -> Any:
    """What every read command takes: output format, connection, -v, --json, --debug."""
    for option in (
        reporting_options,
        verbose_option,
        connection_options,
        click.option(
            "--format",
            "fmt",
            type=click.Choice(READ_FORMATS),
            help="table: for people; ndjson and csv: the records as an export writes them; "
            "json: one array  [default: table on a terminal, else ndjson]",
        ),
    ):
        function = option(function)
    return function


def _list_options(function: Any) -> Any:
    function = click.option(
        "--page-size",
        type=PAGE_SIZE,
        metavar="N",
        help="records per request, 1..1000  [default: 1000, or N of --limit if smaller]",
    )(function)
    return click.option(
        "--limit",
        type=Number(1, integer=True),
        metavar="N",
        help="stop after N records  [default: all of them]",
    )(function)


@click.group("sessions", cls=Group, context_settings=CONTEXT_SETTINGS)
def sessions_group() -> None:
    """Look at a Service's Sessions."""


@sessions_group.command("list")
@click.option("--service", required=True, type=Sid("KS"), help="the Proxy Service")
@_list_options
@_read_options
def sessions_list(service: str, limit: int | None, page_size: int | None, **options: Any) -> int:
    """List a Service's Sessions, a page at a time (Twilio's newest first)."""
    return _read(
        lambda client: session_pages(client, service, limit=limit, page_size=page_size),
        SESSIONS,
        **options,
    )


@click.group("interactions", cls=Group, context_settings=CONTEXT_SETTINGS)
def interactions_group() -> None:
    """Look at a Session's Interactions."""


@interactions_group.command("list")
@click.option("--service", required=True, type=Sid("KS"), help="the Proxy Service")
@click.option("--session", required=True, type=Sid("KC"), help="the Session")
@_list_options
@_read_options
def interactions_list(
    service: str, session: str, limit: int | None, page_size: int | None, **options: Any
) -> int:
    """List a Session's Interactions, a page at a time."""
    return _read(
        lambda client: interaction_pages(
            client, service, session, limit=limit, page_size=page_size
        ),
        INTERACTIONS,
        **options,
    )


@interactions_group.command("fetch")
@click.argument("interaction", metavar="KI…", type=Sid("KI"))
@click.option("--service", required=True, type=Sid("KS"), help="the Proxy Service")
@click.option("--session", required=True, type=Sid("KC"), help="the Session")
@_read_options
def interactions_fetch(service: str, session: str, interaction: str, **options: Any) -> int:
    """Fetch one Interaction (exit 3 if there is none: not found)."""
    return _read(
        lambda client: fetch_interaction(client, service, session, interaction),
        INTERACTIONS,
        **options,
    )


def _read(
    pages: Pages,
    kind: RecordKind,
    *,
    fmt: ReadFormat | None,
    as_json: bool,
    verbose: int,
    base_url: str | None,
    proxy: str | None,
    ca_bundle: str | None,
) -> int:
    """Print the records ``pages`` yields; ``--json`` means ``--format json``."""
    if as_json and fmt not in (None, "json"):
        # Either would be broken: CSV under --json, or JSON under --format csv.
        raise click.UsageError(
            f"--json prints the records as one JSON array: leave out --format {fmt}, "
            f"or --json for {fmt}"
        )
    chosen: ReadFormat = "json" if as_json and fmt is None else fmt or default_format(sys.stdout)
    settings = ClientSettings(base_url=base_url, proxy=proxy, ca_bundle=ca_bundle)
    undo = configure_request_logging(verbose, None, sys.stderr)
    printing: list[bool] = []
    try:
        run_until_signalled(_print(settings, pages, kind, chosen, printing))
    except BrokenPipeError:
        raise
    except Exception as error:
        if not printing:
            raise
        # Records are on stdout already (a JSON array left open on purpose): the
        # failure's --json object goes to stderr, as for 'export --out -', rather than
        # glued to the end of the records.
        failure = failure_of(error, ClientSettings.option_names())
        failure.json_to_stderr = True
        raise failure from error
    finally:
        undo()
    return EXIT_OK


async def _print(
    settings: ClientSettings,
    pages: Pages,
    kind: RecordKind,
    fmt: ReadFormat,
    printing: list[bool],
) -> None:
    """Write the records; ``printing`` gets an entry once the first page has come (from
    then on :func:`write_records` writes to stdout)."""
    async with settings.client() as client:
        await write_records(_noted(pages(client), printing), kind, fmt, sys.stdout)


async def _noted(
    pages: AsyncGenerator[RawRecords, None], printing: list[bool]
) -> AsyncGenerator[RawRecords, None]:
    async with contextlib.aclosing(pages):
        async for page in pages:
            printing.append(True)
            yield page

"""The options commands share and their value types (the client's own options become
client options in :mod:`._client_settings`).

Every value is checked as it is parsed, so a bad one is a one-line usage error
(exit 2) naming the option, before anything is sent or written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from ..bulk_export.streams import DEFAULT_CONCURRENCY
from ..bulk_export.walk import DEFAULT_PAGE_SIZE
from ..client.environment import BASE_URL_VARIABLE
from ..errors import InvalidParameterError
from ..limits.base import MAX_CONCURRENCY, check_requests_per_second
from ..validation import MAX_PAGE_SIZE, is_finite_number, is_sid, sid_kind

PROG = "proxy-async"


F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "show_default": True,
    "max_content_width": 100,
}
"""Every command: ``-h`` for help, each option's default shown in it."""


# -- value types -----------------------------------------------------------------------------


class _Checked(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A value type whose refusal reads ``expected <expected>, got '<value>'``."""

    expected: str

    def refuse(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> NoReturn:
        """Fail as a usage error naming the option, what it takes and (40 characters of)
        what it got."""
        self.fail(f"expected {self.expected}, got {str(value)[:40]!r}", param, ctx)


class Sid(_Checked):
    """A Twilio SID of one kind: ``KS`` followed by 32 hex digits."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.name = f"{prefix}…"
        self.expected = f"{sid_kind(prefix)} ({prefix} followed by 32 hex digits)"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not is_sid(value, self.prefix):
            self.refuse(value, param, ctx)
        return value


class Number(_Checked):
    """A finite number from ``low`` (excluded if ``low_open``) to ``high``, or an integer."""

    def __init__(
        self,
        low: float,
        high: float | None = None,
        *,
        low_open: bool = False,
        integer: bool = False,
        unit: str = "",
    ) -> None:
        self.low, self.high, self.low_open, self.integer = low, high, low_open, integer
        kind = "an integer" if integer else "a number"
        low_text = f"{low:g}"
        if high is not None:
            bound = f"from {low_text} to {high:g}"
        else:
            bound = f"> {low_text}" if low_open else f">= {low_text}"
        self.expected = f"{kind}{' of ' + unit if unit else ''} {bound}"
        self.name = "integer" if integer else "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if is_finite_number(value):
            number: float = value
        else:
            try:
                number = int(value) if self.integer else float(value)
            except (TypeError, ValueError):
                self.refuse(value, param, ctx)
        # Not finite, or an integer too large for a float (10**400): refused, as out of range.
        if not is_finite_number(number):
            self.refuse(value, param, ctx)
        too_low = number <= self.low if self.low_open else number < self.low
        if too_low or (self.high is not None and number > self.high):
            self.refuse(value, param, ctx)
        return number


class Rate(_Checked):
    """Requests per second: 0 for no ceiling (None), or at least one a day."""

    name = "rate"
    expected = "0 (no ceiling) or a number of requests per second >= 1/86400 (one a day)"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float | None:
        if value is None:
            return None
        try:
            rate = float(value)
        except (TypeError, ValueError):
            self.refuse(value, param, ctx)
        if rate == 0:
            return None
        try:
            return check_requests_per_second("--rps", rate)
        except InvalidParameterError:
            self.refuse(value, param, ctx)


MAX_COUNT = 10**12
"""Most sessions or interactions the fake server (or the demo) generates: far past any
real Service, and inside the 64-bit integers its JSON carries (more used to end in
"unexpected TypeError: Integer exceeds 64-bit range")."""

COUNT = Number(0, MAX_COUNT, integer=True)
PAGE_SIZE = Number(1, MAX_PAGE_SIZE, integer=True)
CONCURRENCY = Number(1, MAX_CONCURRENCY, integer=True)

MIN_PROGRESS_INTERVAL = 0.1
"""Shortest ``--progress-interval``: below it the lines are noise (and cost CPU)."""


def latency_option(default: float, help: str) -> Callable[[F], F]:
    """``--latency``: the fake server's delay before each answer."""
    return click.option(
        "--latency", type=Number(0, unit="seconds"), default=default, metavar="SECONDS", help=help
    )


def seed_option(function: F) -> F:
    """``--seed``: the seed of the fake server's generated data."""
    return click.option(
        "--seed", type=int, default=0, help="seed of the generated data (SIDs, contents)"
    )(function)


# -- option groups ---------------------------------------------------------------------------


def _apply(options: list[Callable[[F], F]], function: F) -> F:
    for option in reversed(options):
        function = option(function)
    return function


def reporting_options(function: F) -> F:
    """``--json`` and ``--debug``: every command has them."""
    return _apply(
        [
            click.option(
                "--json",
                "as_json",
                is_flag=True,
                help="print the outcome as one JSON object on stdout, failures included",
            ),
            click.option(
                "--debug",
                is_flag=True,
                expose_value=False,
                help="on failure, also print the traceback",
            ),
        ],
        function,
    )


def verbose_option(function: F) -> F:
    """``-v``: log every request (method, path, status, attempt, milliseconds)."""
    return click.option(
        "-v",
        "--verbose",
        count=True,
        show_default=False,
        help="log each request on stderr: method, path, status, attempt, ms (never credentials)",
    )(function)


def connection_options(function: F) -> F:
    """``--base-url``, ``--proxy``, ``--ca-bundle``: where requests go and whom to trust."""
    return _apply(
        [
            click.option(
                "--base-url",
                metavar="URL",
                help=f"API host, e.g. a fake server's http://127.0.0.1:8080  [default: "
                f"${BASE_URL_VARIABLE}, else Twilio's, or its TWILIO_EDGE/TWILIO_REGION host]",
            ),
            click.option(
                "--proxy",
                metavar="URL",
                help="forward proxy for every request, http://[USER:PASSWORD@]HOST:PORT; HTTPS "
                "is tunnelled with CONNECT  [default: HTTPS_PROXY, HTTP_PROXY or ALL_PROXY, "
                "except for NO_PROXY hosts; keep a password there, not on the command line]",
            ),
            click.option(
                "--ca-bundle",
                metavar="PATH",
                help="PEM file (or directory) of the CA certificates to trust instead of the "
                "system's  [default: SSL_CERT_FILE, then REQUESTS_CA_BUNDLE, then the system's]",
            ),
        ],
        function,
    )


def page_size_option(default: int) -> Callable[[F], F]:
    """``--page-size``: records per request."""
    return click.option(
        "--page-size",
        type=PAGE_SIZE,
        default=default,
        metavar="N",
        help=f"records per request, 1..{MAX_PAGE_SIZE}",
    )


def speed_options(rps_default: float | None) -> Callable[[F], F]:
    """``--concurrency``, ``--rps`` and ``--page-size`` of an export."""
    rps_help = (
        "requests per second at most, 0 for no ceiling; the rate backs off on 429s and "
        "probes back up to it"
    )
    return lambda function: _apply(
        [
            click.option(
                "--concurrency",
                type=CONCURRENCY,
                default=DEFAULT_CONCURRENCY,
                metavar="N",
                help=f"sessions exported at once, 1..{MAX_CONCURRENCY}",
            ),
            click.option(
                "--rps",
                type=Rate(),
                default="0" if rps_default is None else f"{rps_default:g}",
                metavar="R",
                help=rps_help,
            ),
            page_size_option(DEFAULT_PAGE_SIZE),
        ],
        function,
    )


def progress_options(function: F) -> F:
    """``--progress-interval`` and ``-q``."""
    return _apply(
        [
            click.option(
                "--progress-interval",
                type=Number(MIN_PROGRESS_INTERVAL, unit="seconds"),
                metavar="SECONDS",
                help="seconds between progress updates  [default: 0.2 on a terminal, 5 otherwise]",
            ),
            click.option("-q", "--quiet", is_flag=True, help="no progress display"),
        ],
        function,
    )

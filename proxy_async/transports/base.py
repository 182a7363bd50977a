"""What a transport is: :class:`Request` in, :class:`Response` out, :class:`Transport` between.

Every transport (:class:`~proxy_async.transports.default.AiohttpTransport` on the
wire, :class:`~proxy_async.transports.mock.MockTransport` in process) speaks these
types, and raises only :class:`~proxy_async.errors.TransportError` subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import attrs
import yarl

from ..errors import InvalidParameterError
from ..validation import is_finite_number

MAX_TIMEOUT = 86_400.0
"""The longest timeout accepted, in seconds (a day). An attempt silent that long is
dead; a larger value is most likely milliseconds given as seconds. Infinity, NaN, zero,
negatives and bools are refused as well: aiohttp would raise ``OverflowError`` on every
request for an infinite one. None (no bound) is the way to ask for no timeout."""


def _check_seconds(parameter: str, value: object) -> float | None:
    if value is None:
        return None
    if not is_finite_number(value) or not 0 < value <= MAX_TIMEOUT:
        raise InvalidParameterError(
            parameter, f"None or a positive number of seconds up to {MAX_TIMEOUT:g}", value
        )
    return float(value)


def _bound(parameter: str, default: float) -> Any:
    """An attrs field for one bound, checked (and made a float) as it is set."""
    return attrs.field(default=default, converter=lambda value: _check_seconds(parameter, value))


@attrs.frozen
class Timeouts:
    """Timeouts in seconds for one attempt; None disables that bound.

    ``connect``: opening a connection, waiting for a pooled one included.
    ``read``: the longest silence between two reads of the response.
    ``total``: the whole attempt, from sending to the last body byte.

    Each is None or a finite number of seconds > 0 and at most :data:`MAX_TIMEOUT`;
    anything else raises :class:`InvalidParameterError` naming ``timeout.<bound>``.
    """

    connect: float | None = _bound("timeout.connect", 10.0)
    read: float | None = _bound("timeout.read", 30.0)
    total: float | None = _bound("timeout.total", 60.0)

    @classmethod
    def coerce(cls, value: Timeouts | float | None, default: Timeouts) -> Timeouts:
        """Accept a Timeouts, a number (the total, other bounds from ``default``), or None.

        Raises :class:`InvalidParameterError` naming ``timeout`` for anything else,
        including a number that is not finite, not > 0 or above :data:`MAX_TIMEOUT`.
        """
        if value is None:
            return default
        if isinstance(value, Timeouts):
            return value
        if is_finite_number(value) and 0 < value <= MAX_TIMEOUT:
            return attrs.evolve(default, total=float(value))
        raise InvalidParameterError(
            "timeout",
            f"a Timeouts, a positive number of seconds up to {MAX_TIMEOUT:g}, or None",
            value,
        )

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        """The equivalent aiohttp timeout (one object per distinct setting, reused)."""
        timeout = _AIOHTTP_TIMEOUTS.get(self)
        if timeout is None:
            if len(_AIOHTTP_TIMEOUTS) >= 256:  # per-request timeouts vary: stay bounded
                _AIOHTTP_TIMEOUTS.clear()
            timeout = _AIOHTTP_TIMEOUTS[self] = aiohttp.ClientTimeout(
                total=self.total, connect=self.connect, sock_read=self.read
            )
        return timeout


# Building a ClientTimeout cost 1.9 us a request (measured), for the same few settings.
_AIOHTTP_TIMEOUTS: dict[Timeouts, aiohttp.ClientTimeout] = {}


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""Methods whose repeated effect is the effect of one request: the safe methods plus PUT
and DELETE (RFC 9110 section 9.2.2). Any other method, POST first, is sent at most once
unless the failure proves the server did not process it (see :mod:`proxy_async.retry.rules`)."""


@attrs.frozen
class Request:
    """One HTTP request, ready to send. ``url`` is absolute and already encoded.

    What a retry may assume about the request is a property of the request, derived
    from its method: :attr:`idempotent` and :attr:`not_found_on_retry_is_done`.
    """

    method: str
    url: yarl.URL
    headers: Mapping[str, str] = attrs.field(repr=False)  # holds the Authorization header
    form: Sequence[tuple[str, str]] | None = attrs.field(default=None, repr=False)
    timeouts: Timeouts = Timeouts()

    def encoded_form(self) -> bytes | None:
        """The form as an ``application/x-www-form-urlencoded`` body (repeated keys kept)."""
        return None if self.form is None else urlencode(self.form).encode("ascii")

    @property
    def path(self) -> str:
        """The URL path, for logs and error messages (never the query or credentials)."""
        return self.url.raw_path

    @property
    def idempotent(self) -> bool:
        """Whether sending this request twice has the effect of sending it once
        (RFC 9110 section 9.2.2), so a failed attempt whose fate is unknown may be resent."""
        return self.method in IDEMPOTENT_METHODS

    @property
    def not_found_on_retry_is_done(self) -> bool:
        """Whether a 404 answering a retry, after an earlier attempt may have been
        processed, means that earlier attempt did the work. True for DELETE: its goal is
        the resource's absence (RFC 9110 section 9.3.5), and a 404 is that absence."""
        return self.method == "DELETE"


@attrs.frozen
class Response:
    """An HTTP response with its body fully read."""

    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)


class Transport(Protocol):
    """Sends requests. Implementations raise only :class:`TransportError` subclasses."""

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the response with its whole body."""
        ...

    async def aclose(self) -> None:
        """Release every connection. Idempotent."""
        ...

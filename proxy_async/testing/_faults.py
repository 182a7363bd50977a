"""Scripted misbehaviour for :class:`~proxy_async.testing.FakeProxyServer`."""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs
from aiohttp import web


class FaultKind(str, enum.Enum):
    """What a :class:`Fault` does; see the matching ``Fault`` constructor."""

    STATUS = "status"
    HTML = "html"
    NOT_JSON = "not_json"
    TRUNCATED_JSON = "truncated_json"
    WRONG_TYPES = "wrong_types"
    DROP_META = "drop_meta"
    DROP_LIST_KEY = "drop_list_key"
    FOREIGN_NEXT_PAGE = "foreign_next_page"
    LOOP_NEXT_PAGE = "loop_next_page"
    REPEAT_PAGE_TOKEN = "repeat_page_token"  # noqa: S105 - a fault name, not a secret
    EMPTY_PAGE = "empty_page"
    RESET = "reset"
    DROP_CONNECTION = "drop_connection"
    HUGE_BODY = "huge_body"
    STALL = "stall"
    DELAY = "delay"


# Faults that rewrite the real answer, so the request is always processed first.
REWRITING = frozenset(
    {
        FaultKind.TRUNCATED_JSON,
        FaultKind.WRONG_TYPES,
        FaultKind.DROP_META,
        FaultKind.DROP_LIST_KEY,
        FaultKind.FOREIGN_NEXT_PAGE,
        FaultKind.LOOP_NEXT_PAGE,
        FaultKind.REPEAT_PAGE_TOKEN,
        FaultKind.EMPTY_PAGE,
    }
)


def _check_status(status: int) -> int:
    if not 400 <= status <= 599:
        raise ValueError(f"fault status must be 400..599, got {status}")
    return status


def _check_seconds(seconds: float | None) -> float | None:
    if seconds is not None and not seconds >= 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    return seconds


@attrs.frozen(kw_only=True)
class Fault:
    """One way for the fake server to misbehave on a request.

    Build faults with the classmethods (``Fault.status(503)``, ``Fault.reset()``...)
    and arm them with :meth:`FakeProxyServer.add_fault`.

    ``after_processing`` matters for requests with side effects (POST, DELETE):
    when True the request really takes effect (the interaction is created or
    deleted) and only then is the fault sent instead of the answer; when False the
    fault comes first and nothing changes. Faults that rewrite the real answer
    (``truncated_json``, ``wrong_types``, ``drop_meta``, ``drop_list_key``,
    ``foreign_next_page``, ``loop_next_page``, ``repeat_page_token``, ``empty_page``)
    always process the request first.
    """

    kind: FaultKind
    http_status: int = 200
    code: int | None = None
    message: str | None = None
    retry_after: str | None = None
    url: str | None = None
    seconds: float | None = None
    size_bytes: int = 0
    after_processing: bool = False

    @property
    def processes_first(self) -> bool:
        """Whether the real request is carried out before this fault acts."""
        return self.after_processing or self.kind in REWRITING

    @classmethod
    def status(
        cls,
        status: int,
        *,
        code: int | None = None,
        message: str | None = None,
        retry_after: str | None = None,
        after_processing: bool = False,
    ) -> Fault:
        """Answer ``status`` with a Twilio JSON error body.

        ``code`` defaults to the usual Twilio code for the status (429 -> 20429,
        500 -> 20500, 404 -> 20404, 400 -> 20001, 401 -> 20003, 405 -> 20004,
        otherwise 20000 + status); ``message`` to the HTTP reason phrase.
        ``retry_after`` is sent verbatim as the ``Retry-After`` header (seconds such
        as ``"2"`` or an HTTP-date).
        """
        return cls(
            kind=FaultKind.STATUS,
            http_status=_check_status(status),
            code=code,
            message=message,
            retry_after=retry_after,
            after_processing=after_processing,
        )

    @classmethod
    def html(cls, status: int = 502, *, after_processing: bool = False) -> Fault:
        """Answer ``status`` with an HTML error page (``text/html``), like a proxy would."""
        return cls(
            kind=FaultKind.HTML,
            http_status=_check_status(status),
            after_processing=after_processing,
        )

    @classmethod
    def not_json(cls, *, after_processing: bool = False) -> Fault:
        """Answer 200 with a body that is not JSON although labelled ``application/json``."""
        return cls(kind=FaultKind.NOT_JSON, after_processing=after_processing)

    @classmethod
    def truncated_json(cls) -> Fault:
        """Answer with the real body cut in half (Content-Length matches the cut body)."""
        return cls(kind=FaultKind.TRUNCATED_JSON)

    @classmethod
    def wrong_types(cls) -> Fault:
        """Answer the real body with ``date_created`` set to the integer 12.

        On a list page this hits the first record; on a single resource the object.
        """
        return cls(kind=FaultKind.WRONG_TYPES)

    @classmethod
    def drop_meta(cls) -> Fault:
        """Answer a list page without its ``meta`` block."""
        return cls(kind=FaultKind.DROP_META)

    @classmethod
    def drop_list_key(cls) -> Fault:
        """Answer a list page without its list key (``interactions``, ``sessions``...)."""
        return cls(kind=FaultKind.DROP_LIST_KEY)

    @classmethod
    def foreign_next_page(cls, url: str) -> Fault:
        """Answer a list page whose ``meta.next_page_url`` is ``url`` (even on the last page)."""
        return cls(kind=FaultKind.FOREIGN_NEXT_PAGE, url=url)

    @classmethod
    def loop_next_page(cls) -> Fault:
        """Answer a list page whose ``meta.next_page_url`` is the page's own ``meta.url``."""
        return cls(kind=FaultKind.LOOP_NEXT_PAGE)

    @classmethod
    def repeat_page_token(cls) -> Fault:
        """Answer a list page whose ``next_page_url`` bumps ``Page`` but names this page's
        own start as ``PageToken`` (the request's token, if it had one): a server that
        does not advance. Armed for every request, the records repeat too."""
        return cls(kind=FaultKind.REPEAT_PAGE_TOKEN)

    @classmethod
    def empty_page(cls) -> Fault:
        """Answer a list page with no records but a ``next_page_url``.

        The next URL is new each time (``Page`` is bumped) and starts where this page
        should have started, so following it after the fault is spent loses nothing.
        """
        return cls(kind=FaultKind.EMPTY_PAGE)

    @classmethod
    def reset(cls, *, after_processing: bool = False) -> Fault:
        """Send the headers (with Content-Length) and half the body, then reset the TCP connection.

        The body is the real answer when the request was processed (always for GET),
        otherwise a placeholder JSON object.
        """
        return cls(kind=FaultKind.RESET, after_processing=after_processing)

    @classmethod
    def drop_connection(cls, *, after_processing: bool = False) -> Fault:
        """Read the request, then close the connection without sending any response."""
        return cls(kind=FaultKind.DROP_CONNECTION, after_processing=after_processing)

    @classmethod
    def huge_body(cls, size_bytes: int, *, after_processing: bool = False) -> Fault:
        """Answer 200 with a chunked body of exactly ``size_bytes``, generated in chunks.

        The body is one valid JSON object (``{"padding": "xxxx…"}``) when
        ``size_bytes`` >= 16, so only a size cap, not a parse error, stops a client.
        """
        if size_bytes < 0:
            raise ValueError(f"size_bytes must be >= 0, got {size_bytes}")
        return cls(
            kind=FaultKind.HUGE_BODY, size_bytes=size_bytes, after_processing=after_processing
        )

    @classmethod
    def stall(cls, seconds: float | None = None, *, after_processing: bool = False) -> Fault:
        """Wait ``seconds`` (None: until the server stops) before answering normally.

        If the server stops first the request is answered 503 right away, so a stall
        never holds up :meth:`FakeProxyServer.stop`.
        """
        return cls(
            kind=FaultKind.STALL, seconds=_check_seconds(seconds), after_processing=after_processing
        )

    @classmethod
    def delay(cls, seconds: float, *, after_processing: bool = False) -> Fault:
        """Add ``seconds`` of latency, then answer normally."""
        return cls(
            kind=FaultKind.DELAY, seconds=_check_seconds(seconds), after_processing=after_processing
        )


@attrs.define
class FaultRule:
    """An armed fault and the requests it applies to."""

    fault: Fault
    remaining: int | None
    method: str | None
    path_contains: str | None
    when: Callable[[web.Request], bool] | None

    def matches(self, request: web.Request) -> bool:
        """Whether ``request`` is one this rule targets."""
        return (
            (self.method is None or request.method == self.method)
            and (self.path_contains is None or self.path_contains in request.path)
            and (self.when is None or self.when(request))
        )


class FaultQueue:
    """Armed faults, consumed in the order requests arrive."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []

    def add(
        self,
        fault: Fault,
        *,
        times: int | None,
        method: str | None,
        path_contains: str | None,
        when: Callable[[web.Request], bool] | None,
    ) -> None:
        """Arm ``fault`` for the next ``times`` matching requests (None: all of them)."""
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        self._rules.append(
            FaultRule(fault, times, method.upper() if method else None, path_contains, when)
        )

    def clear(self) -> None:
        """Disarm every fault."""
        self._rules.clear()

    def take(self, request: web.Request) -> Fault | None:
        """The fault for ``request`` (the first armed rule that matches), spending one use."""
        for position, rule in enumerate(self._rules):
            if rule.matches(request):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        del self._rules[position]
                return rule.fault
        return None

    def __len__(self) -> int:
        return len(self._rules)

"""Turn a :class:`~._http.Reply` into the aiohttp response the fake server sends."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson
from aiohttp import web

from ._http import JSON_CONTENT_TYPE, Reply, error


class Responder:
    """Stamps every response with Twilio's per-response headers and serialises replies.

    ``concurrent`` returns the value of ``Twilio-Concurrent-Requests`` (the requests in
    flight), or None to leave that header out; it is read for each response, since the
    server's ``concurrency_header`` may change while it runs.
    """

    def __init__(self, concurrent: Callable[[], int | None]) -> None:
        self._concurrent = concurrent
        self._request_counter = 0

    def headers(self, extra: Mapping[str, str], content_type: str | None) -> dict[str, str]:
        """A new ``Twilio-Request-Id``, ``content_type`` and the concurrency header, then
        ``extra``."""
        self._request_counter += 1
        headers = {"Twilio-Request-Id": f"RQ{self._request_counter:032x}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        concurrent = self._concurrent()
        if concurrent is not None:
            headers["Twilio-Concurrent-Requests"] = str(concurrent)
        headers.update(extra)
        return headers

    def render(self, reply: Reply) -> web.Response:
        """``reply`` as a response: its payload as JSON, or an empty body."""
        if reply.payload is None:
            return web.Response(status=reply.status, headers=self.headers(reply.headers, None))
        return web.Response(
            status=reply.status,
            body=orjson.dumps(reply.payload),
            headers=self.headers(reply.headers, JSON_CONTENT_TYPE),
        )

    def shutting_down(self) -> tuple[web.StreamResponse, int]:
        """The 503 (code 20503, ``Connection: close``) for a request the server stops under."""
        reply = error(503, 20503, "The fake server is shutting down")
        reply.headers["Connection"] = "close"
        return self.render(reply), 503

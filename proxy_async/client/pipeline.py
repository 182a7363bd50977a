"""A request's life: **built**, **retried**, **limited**, **sent**, **checked**.

:meth:`RequestPipeline.request` builds the :class:`~proxy_async.transports.base.Request`
(a path under the base URL, or a page URL, origin-checked) with the auth, User-Agent
and timeouts; :func:`~proxy_async.retry.loop.call_with_retries` runs its attempts;
each attempt takes a limiter slot and goes through the
:class:`~proxy_async.transports.base.Transport`; a non-2xx becomes an
:class:`~proxy_async.errors.ApiError`. Turning bodies into records happens above, in
:mod:`proxy_async.resources`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial

import yarl

from ..errors import ApiError, ClientClosedError, InvalidParameterError, TransportError
from ..limits.base import Limiter
from ..retry.backoff import retry_after_of
from ..retry.loop import call_with_retries
from ..retry.policy import RetryPolicy
from ..transports.base import Request, Response, Timeouts, Transport
from ..validation import TARGET_EXPECTED, check_form, check_method, check_path
from .attempts import AttemptEvent, Hook, call_hook, report_attempt
from .auth import Credentials
from .hosts import page_url_target, parse_page_url


class RequestPipeline:
    """The steps every request of one client takes; :class:`ProxyClient` owns one.

    ``headers`` are sent with every request (they hold the Authorization header: never
    log them); ``closed`` is set when the client closes, after which no attempt starts.
    """

    def __init__(
        self,
        *,
        credentials: Credentials,
        base_url: yarl.URL,
        headers: dict[str, str],
        limiter: Limiter,
        retry: RetryPolicy,
        timeouts: Timeouts,
        transport: Transport,
        on_request: Hook | None,
        on_response: Hook | None,
    ) -> None:
        self._credentials = credentials
        self._base_url = base_url
        self.base_text = str(base_url)  # str(URL) re-renders it on every request
        self._headers = headers
        self._form_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        self._limiter = limiter
        self._retry = retry
        self._timeouts = timeouts
        self._transport = transport
        self._on_request = on_request
        self._on_response = on_response
        self.closed = False

    async def request(
        self,
        method: str,
        target: str,
        params: dict[str, str] | None,
        form: Sequence[tuple[str, str]] | None,
        timeout: Timeouts | float | None,
    ) -> Response:
        """Build the request, then run its attempts under the retry policy (see
        :meth:`ProxyClient.request <proxy_async.ProxyClient.request>`)."""
        if self.closed:
            raise ClientClosedError()
        method = check_method(method)
        url = self.url_for(target, None if params is None else dict(check_form(params, "params")))
        request = Request(
            method,
            url,
            self._form_headers if form is not None else self._headers,
            None if form is None else check_form(form, "form"),
            Timeouts.coerce(timeout, self._timeouts),
        )
        return await call_with_retries(partial(self._attempt, request), self._retry, request)

    def url_for(self, target: str, params: dict[str, str] | None) -> yarl.URL:
        """The absolute URL of ``target`` (a path, or a page URL rewritten to this origin)."""
        if isinstance(target, str) and target.startswith("/"):
            url = yarl.URL(f"{self.base_text}{check_path(target)}", encoded=True)
        else:
            # A server-provided page URL is followed exactly as given (encoded=True keeps
            # its bytes), but only to the origin the credentials belong to.
            parsed = parse_page_url(target)
            if parsed is None:
                raise InvalidParameterError("target", TARGET_EXPECTED, target)
            url = page_url_target(parsed, self._base_url)
        return url.update_query(params) if params else url

    async def _attempt(self, request: Request, number: int) -> Response:
        await self._limiter.acquire()
        started = time.perf_counter()
        try:
            if self.closed:
                raise ClientClosedError()
            if self._on_request is not None:
                await call_hook(
                    self._on_request, AttemptEvent(request.method, request.path, number)
                )
            response = await self._transport.send(request)
        except TransportError as error:
            self._limiter.observe(None, None)
            await report_attempt(self._on_response, request, number, started, None, error)
            if self.closed and request.idempotent:
                raise ClientClosedError(
                    "the client was closed while this request was in flight"
                ) from None
            raise
        finally:
            self._limiter.release()
        self._limiter.observe(response.status, response.headers)
        await report_attempt(self._on_response, request, number, started, response.status, None)
        if 200 <= response.status < 300:
            return response
        raise ApiError.from_response(
            response.status,
            response.headers,
            response.body,
            retry_after=retry_after_of(response.headers),
            method=request.method,
            path=request.path,
            credentials=self._credentials.description,
        )

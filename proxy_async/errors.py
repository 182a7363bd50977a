"""Every error proxy-async raises, rooted at :class:`ProxyError`.

The tree, by what went wrong::

    ProxyError
    +-- InvalidParameterError (also ValueError)   bad input, raised before any request
    +-- ClientClosedError (also RuntimeError)      the client was used after aclose()
    +-- TransportError                             no usable HTTP response arrived
    |   +-- ConnectError                           could not connect: the request never left
    |   |   +-- CertificateVerifyError             the server's TLS certificate is not trusted
    |   |   +-- EgressProxyError                   the forward proxy is unreachable or failed
    |   |       +-- EgressProxyRefusedError        the proxy setting is wrong: refused (407, 403)
    |   |       |   +-- EgressProxyUnresolvedError the proxy's host name does not exist
    |   |       +-- EgressProxyTimeoutError (also RequestTimeoutError)
    |   +-- ConnectionLostError                    connection dropped while sending/receiving
    |   +-- RequestTimeoutError (also TimeoutError)
    +-- OutcomeUnknownError                        a create may or may not have happened
    +-- ApiError                                   the server answered with an HTTP error
    |   +-- BadRequestError (400)
    |   +-- AuthError -> AuthenticationError (401), PermissionDeniedError (403)
    |   +-- NotFoundError (404)
    |   +-- ConflictError (409)
    |   +-- RateLimitError (429)
    |   +-- ServerError (5xx)
    +-- ResponseError                              a 2xx answer we cannot trust
    |   +-- InvalidResponseError                   not JSON, wrong shape, wrong types
    |   +-- ResponseTooLargeError                  body over the configured size cap
    +-- PaginationError
    |   +-- UnsafePageUrlError                     next_page_url points at another origin
    |   +-- ForeignPageUrlError                    next_page_url points at another list
    |   +-- PaginationLoopError                    paging does not advance
    |   +-- EmptyPagesError                        too many empty pages in a row
    +-- ExportError                                the bulk export itself (proxy_async.bulk_export)
    |   +-- ExportStateError                       its files are in the way or unusable
    |   |   +-- BlankStateError                    a state file killed before its first write
    |   +-- ExportWriteError                       its state cannot be written (disk full...)
    |   +-- SessionDiscoveryError                  the Service's Sessions cannot be listed
    |   +-- ApiUnavailableError                    the API stopped answering mid-export
    |   +-- SessionsFailedError                    stream_interactions: some sessions failed
    +-- InvalidCallbackError (also ValueError)     a webhook form Twilio could not have sent

No message built here ever contains a credential: errors carry the method and the
path of the request, never its headers.

Every error class of the package is defined here, so the tree above is the whole of
it; that makes this module longer than 300 lines, but each class is a few lines and
the module has nothing else but the reading of Twilio's error bodies
(:meth:`ApiError.from_response`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

_MISSING: Any = object()


class ProxyError(Exception):
    """Root of every error raised by proxy-async."""


class InvalidParameterError(ProxyError, ValueError):
    """A caller-supplied argument is malformed or missing; raised before any request is sent.

    ``parameter`` names it as the caller wrote it: a Python parameter (``region``) or an
    environment variable (``TWILIO_REGION``). The message reads ``invalid {parameter}:
    expected {expected}[, got {value}]``, or ``missing {parameter}: expected
    {expected}`` when ``missing`` is true (a required variable is not set), so a
    command line can print it as it is.
    """

    def __init__(
        self, parameter: str, expected: str, value: object = _MISSING, *, missing: bool = False
    ) -> None:
        self.parameter = parameter
        self.expected = expected
        self.missing = missing
        shown = "" if value is _MISSING else f", got {_shown(value)}"
        problem = "missing" if missing else "invalid"
        super().__init__(f"{problem} {parameter}: expected {expected}{shown}")


class ClientClosedError(ProxyError, RuntimeError):
    """The client was used after ``aclose()`` (or after its ``async with`` block ended)."""

    def __init__(self, message: str = "the ProxyClient is closed; create a new one") -> None:
        super().__init__(message)


class _RequestError(ProxyError):
    """Shared shape of errors tied to one request: method, path and attempt count."""

    def __init__(self, message: str, *, method: str = "", path: str = "", attempts: int = 1):
        self.method = method
        self.path = path
        self.attempts = attempts
        self.reason = message
        super().__init__(message)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        tries = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
        return f"{where}{self.reason}{tries}"


class TransportError(_RequestError):
    """No usable HTTP response arrived (connection or timeout trouble).

    ``request_sent`` is False only when the request provably never left the client,
    which is the one case a create may be retried.
    """

    @property
    def request_sent(self) -> bool:
        """Whether the request may have reached the server."""
        return True

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed; False when only new settings can help."""
        return True


class ConnectError(TransportError):
    """The connection could not be opened; the request provably never left the client."""

    @property
    def request_sent(self) -> bool:
        """Always False: no connection, no request."""
        return False


class CertificateVerifyError(ConnectError):
    """The server's TLS certificate failed verification (untrusted CA, wrong host, expired).

    Raised while connecting, so nothing was sent, and never retried: only a change of
    trust fixes it (``ca_bundle=``, ``ssl_context=`` or ``SSL_CERT_FILE`` for a
    corporate TLS-inspecting proxy's CA). ``host`` is the server's ``host:port``,
    ``verify_message`` OpenSSL's reason, ``trust`` the CAs that were trusted as the
    message names them (``"the system's default CAs"``, ``"SSL_CERT_FILE=/path"``,
    ``"ca_bundle=/path"``...; see :func:`proxy_async.transports.tls.tls_trust`), or None.
    """

    def __init__(
        self,
        host: str,
        verify_message: str,
        *,
        trust: str | None = None,
        method: str = "",
        path: str = "",
        attempts: int = 1,
    ) -> None:
        self.host = host
        self.verify_message = verify_message
        self.trust = trust
        trusting = f"trusting {trust}; " if trust else ""
        super().__init__(
            f"certificate verify failed for {host}: {verify_message} ({trusting}for a "
            "corporate CA, set ca_bundle= / --ca-bundle or SSL_CERT_FILE)",
            method=method,
            path=path,
            attempts=attempts,
        )

    @property
    def retryable(self) -> bool:
        """Always False: the same certificate fails the same way."""
        return False


class EgressProxyError(ConnectError):
    """The forward (egress) proxy could not be reached, or could not open the tunnel.

    ``proxy`` is its URL with any credentials shown as ``***``; ``status`` is its
    answer to ``CONNECT`` (None when it could not be reached at all). The request
    never reached the API. Retried like any connection failure: a proxy's 5xx
    (upstream unreachable), a refused connection or a temporary DNS failure
    (``EAI_AGAIN``) of the proxy's host may be passing.
    """

    def __init__(
        self,
        message: str,
        *,
        proxy: str,
        status: int | None = None,
        method: str = "",
        path: str = "",
        attempts: int = 1,
    ) -> None:
        self.proxy = proxy
        self.status = status
        super().__init__(message, method=method, path=path, attempts=attempts)


class EgressProxyRefusedError(EgressProxyError):
    """The proxy setting is wrong: the proxy refused the request, 407 (proxy credentials
    missing or wrong), 403 (the destination is not allowed) or another 4xx, or its host
    name does not exist (:class:`EgressProxyUnresolvedError`). Never retried, and it
    stops a bulk export: only a change of the proxy settings fixes it."""

    @property
    def retryable(self) -> bool:
        """Always False: the proxy refuses the same request the same way."""
        return False


class EgressProxyUnresolvedError(EgressProxyRefusedError):
    """The proxy's host name does not exist: DNS answered that there is no such name
    (``EAI_NONAME``, e.g. NXDOMAIN), as for a mistyped ``--proxy``. Not retried: an
    authoritative "no such name" does not change within a retry's seconds, and a typo
    never does. A failure to get an answer at all (``EAI_AGAIN``: no DNS server
    reachable, a timeout) is a plain, retried :class:`EgressProxyError` instead."""


class ConnectionLostError(TransportError):
    """The connection broke after the request may have been sent (reset, truncated body)."""


class RequestTimeoutError(TransportError, TimeoutError):
    """A connect, read or total timeout expired. ``phase`` says which."""

    def __init__(
        self, message: str, *, phase: str, method: str = "", path: str = "", attempts: int = 1
    ) -> None:
        self.phase = phase
        super().__init__(message, method=method, path=path, attempts=attempts)

    @property
    def request_sent(self) -> bool:
        """False for a connect timeout (no connection yet), True for read/total."""
        return self.phase != "connect"


class EgressProxyTimeoutError(EgressProxyError, RequestTimeoutError):
    """The connect timeout expired while connecting through the proxy: it did not accept
    the connection, did not open the ``CONNECT`` tunnel, or the tunnelled TLS handshake
    stalled (which of these is not visible). Nothing reached the API; retried.
    ``phase`` is always ``"connect"``."""

    def __init__(
        self, message: str, *, proxy: str, method: str = "", path: str = "", attempts: int = 1
    ) -> None:
        self.proxy = proxy
        self.status = None
        self.phase = "connect"
        _RequestError.__init__(self, message, method=method, path=path, attempts=attempts)


class OutcomeUnknownError(_RequestError):
    """A create (POST), or another request that is not idempotent, failed after it was
    sent: it may or may not have happened.

    It is never retried automatically, because a retry could send the message twice.
    To find out, list the participant's MessageInteractions and look for your body::

        recent = await participant.message_interactions.list(limit=20)

    ``cause`` holds the underlying error (a 5xx :class:`ApiError`, a timeout, a reset).
    """

    def __init__(
        self, cause: ProxyError, *, method: str = "", path: str = "", attempts: int = 1
    ) -> None:
        self.cause = cause
        if method in ("POST", ""):
            reason = (
                f"outcome unknown, the create may or may not have happened ({_describe(cause)}); "
                "not retried to avoid a duplicate: list the participant's MessageInteractions "
                "to check"
            )
        else:  # another method that is not idempotent (RFC 9110, section 9.2.2)
            reason = (
                f"outcome unknown, the {method} may or may not have been applied "
                f"({_describe(cause)}); not retried, since {method} is not idempotent"
            )
        super().__init__(reason, method=method, path=path, attempts=attempts)


class ApiError(_RequestError):
    """The server answered with an HTTP error status.

    Twilio's JSON error body is parsed into ``code``, ``message``, ``more_info``,
    ``details``; a non-JSON body (an HTML 502 page) leaves ``code`` as None and keeps
    a short excerpt in ``body_excerpt``.
    """

    def __init__(
        self,
        status: int,
        *,
        code: int | None = None,
        message: str | None = None,
        more_info: str | None = None,
        details: Mapping[str, Any] | None = None,
        body_excerpt: str = "",
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.more_info = more_info
        self.details = details
        self.body_excerpt = body_excerpt
        self.retry_after = retry_after
        if message is not None:
            reason = f"HTTP {status}, Twilio error {code}: {message}"
            if more_info:
                reason += f" ({more_info})"
        else:
            reason = f"HTTP {status} with a non-JSON body: {body_excerpt!r}"
        super().__init__(reason, method=method, path=path, attempts=attempts)

    @classmethod
    def from_response(
        cls,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
        credentials: str | None = None,
    ) -> ApiError:
        """Build the most specific ApiError for an HTTP error response.

        ``credentials`` (a description such as ``"API key SK… of account AC…"``, never
        a secret) is given to an :class:`AuthError` (401, 403) and ignored otherwise.
        """
        error_class = api_error_class(status)
        fields = _twilio_error_fields(body)
        if fields is None:
            fields = {"body_excerpt": _excerpt(body, headers)}
        if issubclass(error_class, AuthError):
            fields["credentials"] = credentials
        return error_class(status, retry_after=retry_after, method=method, path=path, **fields)


class BadRequestError(ApiError):
    """HTTP 400: the server rejected a parameter."""


class AuthError(ApiError):
    """HTTP 401 or 403: the credentials were refused or lack permission.

    ``credentials`` describes the credentials sent, as
    :attr:`proxy_async.Credentials.description` does (``"API key SK… of account AC…"``
    or ``"auth token of account AC…"``: SIDs only, never a token or secret), or is None
    when unknown; the message ends with it, so that a refusal says which pair was tried.
    """

    _sent_as = "tried the"

    def __init__(self, status: int, *, credentials: str | None = None, **fields: Any) -> None:
        self.credentials = credentials
        super().__init__(status, **fields)
        if credentials:
            self.reason = f"{self.reason} ({self._sent_as} {credentials})"
            self.args = (self.reason,)


class AuthenticationError(AuthError):
    """HTTP 401: wrong Account SID / Auth Token or API key."""


class PermissionDeniedError(AuthError):
    """HTTP 403: authenticated, but not allowed to do this."""

    _sent_as = "authenticated as the"


class NotFoundError(ApiError):
    """HTTP 404: no such Service, Session, Participant or Interaction."""


class ConflictError(ApiError):
    """HTTP 409: the request conflicts with the resource's state."""


class RateLimitError(ApiError):
    """HTTP 429 (Twilio 20429): not processed; ``retry_after`` is the server's hint, if any."""


class ServerError(ApiError):
    """HTTP 5xx: the server failed."""


_STATUS_CLASSES: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def api_error_class(status: int) -> type[ApiError]:
    """The most specific :class:`ApiError` subclass for an HTTP status."""
    if status >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status, ApiError)


class ResponseError(_RequestError):
    """A successful (2xx) answer that cannot be used as it stands."""


class InvalidResponseError(ResponseError):
    """The body is not JSON, lacks a required key, or has a value of the wrong type.

    ``field`` names the offending location (``"interactions[3].date_created"``,
    ``"meta"``, or ``""`` for the body as a whole).
    """

    def __init__(
        self, reason: str, *, field: str = "", method: str = "", path: str = "", attempts: int = 1
    ) -> None:
        self.field = field
        message = (
            f"invalid response at {field!r}: {reason}" if field else f"invalid response: {reason}"
        )
        super().__init__(message, method=method, path=path, attempts=attempts)


class ResponseTooLargeError(ResponseError):
    """The body exceeded ``max_response_bytes``; reading stopped at the cap."""


class PaginationError(ProxyError):
    """Paging cannot safely continue."""


class UnsafePageUrlError(PaginationError):
    """A page URL points at another scheme, host or port than the client's base URL.

    Nothing is sent to it: following it would hand the credentials to a stranger.
    """

    def __init__(
        self, url: str, expected_origin: str, *, why: str = "its origin differs from"
    ) -> None:
        self.url = url
        self.expected_origin = expected_origin
        super().__init__(
            f"refusing to follow page URL {_short(url)!r}: {why} "
            f"the client's base URL {expected_origin!r}"
        )


class ForeignPageUrlError(PaginationError):
    """A page URL of the right origin that leads to another list than the one walked.

    Following it would mix another list's records into this one (and skip the rest of
    this one): for instance session A's ``next_page_url`` pointing at session B's
    Interactions. Nothing is sent to it.
    """

    def __init__(self, url: str, expected_path: str) -> None:
        self.url = url
        self.expected_path = expected_path
        super().__init__(
            f"refusing to follow page URL {_short(url)!r}: it leads to another list than "
            f"{expected_path!r}"
        )


class PaginationLoopError(PaginationError):
    """Paging does not advance: the next page would repeat one already fetched.

    What counts as a loop is defined in :mod:`proxy_async.pagination`. ``url`` is the
    ``next_page_url`` not followed (or the URL of the page whose records repeat);
    ``path`` the list walked, ``token`` the repeated ``PageToken`` and ``sids`` the
    repeated record SIDs, when those are the reason. Record bodies are never included.
    """

    def __init__(
        self,
        url: str,
        reason: str = "",
        *,
        path: str = "",
        token: str | None = None,
        sids: tuple[str, ...] = (),
    ) -> None:
        self.url = url
        self.path = path
        self.token = token
        self.sids = sids
        reason = reason or f"next_page_url {_short(url)!r} was already followed"
        where = f" in {path}" if path else ""
        super().__init__(f"pagination loop{where}: {reason}")


class EmptyPagesError(PaginationError):
    """The server kept returning empty pages that still point at a next page."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(f"{count} empty pages in a row still had a next_page_url; giving up")


class ExportError(ProxyError):
    """Root of the errors raised by the bulk export itself (:mod:`proxy_async.bulk_export`)."""


class ExportStateError(ExportError):
    """The export cannot start or resume in the state its files are in.

    For instance an unfinished export exists and ``resume`` was not asked for, the
    resume asks for other parameters than the saved state's, the state is unreadable,
    the output names a directory, or another export is writing the same file. Nothing
    was changed on disk.

    The message names its remedy as the Python argument (``resume=True``,
    ``overwrite=True``); :meth:`for_command_line` names the command line's flag
    (``--resume``, ``--force``) instead. Raise it with the placeholders
    :data:`RESUME_REMEDY` and :data:`FORCE_REMEDY` in the message.
    """

    def __init__(self, message: str) -> None:
        self.template = message
        super().__init__(_with_remedies(message, _PYTHON_REMEDIES))

    def for_command_line(self) -> str:
        """The message with the command line's flags as remedies."""
        return _with_remedies(self.template, _COMMAND_LINE_REMEDIES)


RESUME_REMEDY = "{resume}"
"""Placeholder for "continue the export" in an :class:`ExportStateError` message."""

FORCE_REMEDY = "{force}"
"""Placeholder for "discard the export and start over" in an :class:`ExportStateError`."""

_PYTHON_REMEDIES = {RESUME_REMEDY: "resume=True", FORCE_REMEDY: "overwrite=True"}
_COMMAND_LINE_REMEDIES = {RESUME_REMEDY: "--resume", FORCE_REMEDY: "--force"}


def _with_remedies(template: str, remedies: dict[str, str]) -> str:
    for placeholder, remedy in remedies.items():
        template = template.replace(placeholder, remedy)
    return template


class ExportWriteError(ExportError):
    """The export's state could not be written (disk full, a read-only directory, an I/O
    error). What was committed before is intact: resume once the cause is fixed."""


class BlankStateError(ExportStateError):
    """The state file exists but holds nothing yet: its export was killed while creating
    it, before anything was written. A resume starts that export afresh."""


OUTAGE_ERRORS: tuple[type[ProxyError], ...] = (TransportError, ServerError)
"""What an outage looks like: no answer at all, or a 5xx."""


class SessionDiscoveryError(ExportError):
    """Listing the Service's Sessions failed, so the export cannot know what to read.

    ``cause`` is the underlying error (a 404 for an unknown Service, a 5xx...). The
    listing's progress is saved: a resume continues it from the page that failed.
    """

    def __init__(self, service_sid: str, cause: ProxyError) -> None:
        self.service_sid = service_sid
        self.cause = cause
        super().__init__(f"cannot list the sessions of {service_sid}: {cause}")


class ApiUnavailableError(ExportError):
    """The API stopped answering: several sessions in a row failed on connection errors
    or 5xx with no page arriving in between. Progress is saved; resume once it is back.

    ``cause`` is the last session's error; ``sessions`` the SIDs that failed this way.
    """

    def __init__(self, cause: ProxyError, sessions: Sequence[str] = ()) -> None:
        self.cause = cause
        self.sessions = tuple(sessions)
        if self.sessions:
            how = f"{len(self.sessions)} sessions in a row failed, the last with: {cause}"
        else:
            how = f"listing the sessions failed with: {cause}"
        super().__init__(f"the API stopped answering ({how})")

    @classmethod
    def unless_listing_error(cls, error: SessionDiscoveryError) -> ExportError:
        """``error`` itself, or an outage if its cause was a connection error or a 5xx."""
        if isinstance(error.cause, OUTAGE_ERRORS):
            return cls(error.cause)
        return error


class SessionsFailedError(ExportError):
    """Raised by :func:`stream_interactions` after every other session was streamed.

    ``failures`` maps each failed session's SID to its error.
    """

    def __init__(self, failures: Mapping[str, ProxyError]) -> None:
        self.failures = dict(failures)
        shown = "; ".join(f"{sid}: {error}" for sid, error in list(self.failures.items())[:3])
        more = f" (and {len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
        count = len(self.failures)
        super().__init__(f"{count} session{'s' if count != 1 else ''} failed: {shown}{more}")


class InvalidCallbackError(ProxyError, ValueError):
    """A webhook form lacks a required parameter or has one of the wrong shape.

    ``parameter`` is the form name as Twilio sends it (``"interactionSid"``); the value
    itself is never quoted, since it may be personal data.
    """

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"invalid webhook parameter {parameter!r}: {reason}")


def _twilio_error_fields(body: bytes) -> dict[str, Any] | None:
    """``code``/``message``/``more_info``/``details`` of a Twilio error body, if it is one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    code = data.get("code")
    more_info = data.get("more_info")
    details = data.get("details")
    return {
        "code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "message": data["message"],
        "more_info": more_info if isinstance(more_info, str) else None,
        "details": details if isinstance(details, dict) else None,
    }


_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _excerpt(body: bytes, headers: Mapping[str, str]) -> str:
    """A short, readable excerpt of a non-JSON error body (HTML tags stripped)."""
    text = body[:2000].decode("utf-8", "replace")
    if "html" in headers.get("Content-Type", "").lower() or text.lstrip().startswith("<"):
        text = _TAGS.sub(" ", text)
    return _short(_SPACE.sub(" ", text).strip(), 160)


def _shown(value: object) -> str:
    """``repr(value)``, shortened; an int too long for ``repr`` (over 4300 digits since
    Python 3.11, which then raises ``ValueError``) is described by its size instead."""
    if isinstance(value, int) and value.bit_length() > 10_000:
        return f"an integer of {value.bit_length():,} bits"
    return _short(repr(value))


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(error: BaseException) -> str:
    if isinstance(error, _RequestError):
        return error.reason
    return str(error)

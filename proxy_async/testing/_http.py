"""Twilio-shaped HTTP bodies shared by the handlers and the faults."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import attrs
from aiohttp import web

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

# A host name, an IPv4 or a bracketed IPv6 address, and an optional port: nothing that
# could change a URL's shape (user info, a path, a query).
_HOST_HEADER = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def request_base(request: web.Request, fallback: str) -> str:
    """``scheme://host[:port]`` that absolute URLs in the answer to ``request`` start with.

    Built from the request's ``Host`` header and scheme, as a real server builds its
    page URLs, so a client that reached the server as ``localhost`` (or through any
    name) gets page URLs on that same name. ``fallback`` (the listening address) when
    the header is missing or not a plain ``host[:port]``.
    """
    host = request.headers.get("Host", "")
    if _HOST_HEADER.fullmatch(host) is None:
        return fallback
    return f"{request.scheme}://{host}"


# Twilio's codes for the statuses where it does not simply use 20000 + status.
_SPECIAL_CODES = {400: 20001, 401: 20003, 405: 20004}


def default_code(status: int) -> int:
    """The Twilio error code usually paired with HTTP ``status``."""
    return _SPECIAL_CODES.get(status, 20_000 + status)


def reason(status: int) -> str:
    """The HTTP reason phrase of ``status`` ("Error" when unknown)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def twilio_error(
    status: int, code: int | None = None, message: str | None = None
) -> dict[str, Any]:
    """Twilio's JSON error body."""
    code = default_code(status) if code is None else code
    return {
        "code": code,
        "message": reason(status) if message is None else message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def html_page(status: int) -> bytes:
    """A small HTML error page such as a load balancer would send."""
    title = f"{status} {reason(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


@attrs.define
class Reply:
    """An answer before serialisation, so faults can rewrite it."""

    status: int
    payload: Any = None  # JSON-serialisable; None means an empty body
    headers: dict[str, str] = attrs.field(factory=dict)
    list_key: str | None = None  # set on list pages
    empty_next_url: str | None = None  # where an emptied page should point next


def error(status: int, code: int | None = None, message: str | None = None) -> Reply:
    """A Twilio JSON error reply."""
    return Reply(status, twilio_error(status, code, message))


def not_found(path: str) -> Reply:
    """Twilio's 404 for ``path``."""
    return error(404, 20404, f"The requested resource {path} was not found")

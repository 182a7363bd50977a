"""A forward proxy's URL: parsed, checked, and its credentials kept apart.

A proxy URL is ``http://[user:password@]host[:port]`` (no scheme means ``http://``,
as in requests and curl; the port defaults to 80). Whitespace around it is dropped
(RFC 3986, appendix C: it is not part of the URL; a value pasted from a file often
ends in one); whitespace or a control character inside it, or a host that is neither
an IP address nor a DNS name (letters, digits, ``-``, ``_``, ``.``; IDNA names are
encoded), is an :class:`~proxy_async.errors.InvalidParameterError`, since no proxy
could have such a name; so is an ``xn--`` label that is not valid Punycode. The user
and password are percent-decoded as UTF-8: a ``%`` that does not start an escape
(write it ``%25``), escapes that are not UTF-8 (``%ff``) or a control character
(``%0d%0a``) are refused rather than sent altered. They are sent in
``Proxy-Authorization`` to the proxy alone and are shown as ``***`` everywhere else.
HTTPS requests are tunnelled with ``CONNECT``, so the proxy sees the host and port but
not the request, and the server's certificate is checked end to end. Only ``http://``
proxies are taken: aiohttp ignores ``https://`` proxies from the environment and
supports no SOCKS, and going direct instead would defeat the egress policy, so such
a value is an :class:`~proxy_async.errors.InvalidParameterError` naming its variable.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import unicodedata
import urllib.parse

import aiohttp
import yarl

from ..client.hosts import parse_url
from ..errors import InvalidParameterError
from ..validation import url_host

PROXY_URL_FORM = "an http://[user:password@]host[:port] proxy URL"
"""What a proxy URL must look like, as said in errors."""

_HOST_NAME = re.compile(r"[A-Za-z0-9_.-]+")
"""What a DNS name may hold once IDNA-encoded (``_`` is common in internal names)."""

_REDACTED = "***"


class EgressProxy:
    """A forward proxy: its URL without credentials, and those credentials apart.

    ``url`` is what aiohttp connects to; ``authorization`` (None without credentials)
    is the ``Proxy-Authorization`` value (Basic, UTF-8) sent to the proxy alone.
    ``str``/``repr`` show the URL with ``***`` in place of the user and password.
    ``source`` names where it came from (``"proxy"`` or an environment variable).
    """

    __slots__ = ("authorization", "source", "url")

    def __init__(self, url: yarl.URL, authorization: str | None, source: str) -> None:
        self.url = url
        self.authorization = authorization
        self.source = source

    @property
    def display(self) -> str:
        """The URL as it may be shown: credentials, if any, as ``***``."""
        if self.authorization is None:
            return str(self.url)
        return str(self.url.with_user(_REDACTED))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EgressProxy):
            return NotImplemented
        return (self.url, self.authorization) == (other.url, other.authorization)

    def __hash__(self) -> int:
        return hash(self.url)

    def __repr__(self) -> str:
        return f"EgressProxy({self.display!r}, source={self.source!r})"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("EgressProxy cannot be pickled: it may hold a proxy password")


def parse_proxy_url(value: object, parameter: str) -> EgressProxy:
    """Validate a proxy URL; ``parameter`` names it in errors (``proxy``, ``HTTPS_PROXY``).

    Raises :class:`InvalidParameterError` for anything but an ``http://`` URL with a
    valid host and no path, query or fragment; surrounding whitespace is dropped first.
    The value is never echoed (it may carry a password); only its scheme is, when that
    is what is wrong.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError(parameter, PROXY_URL_FORM)
    text = value.strip()
    # yarl would drop a tab or newline inside and keep a space in the host.
    if any(char.isspace() or not char.isprintable() for char in text):
        raise InvalidParameterError(
            parameter,
            f"{PROXY_URL_FORM} without spaces or control characters inside (nor lone surrogates)",
        )
    if "://" not in text:
        text = "http://" + text
    url = parse_url(text)
    if url is None:  # raised outside yarl's error, whose text may hold the password
        raise InvalidParameterError(parameter, f"{PROXY_URL_FORM} with a valid host and port")
    scheme = url.scheme.lower()
    if scheme != "http":
        raise InvalidParameterError(
            parameter,
            f"{PROXY_URL_FORM}; {scheme}:// proxies are not supported (HTTPS is tunnelled "
            "through an http:// proxy with CONNECT)",
        )
    if not url.raw_host:
        raise InvalidParameterError(parameter, f"{PROXY_URL_FORM} with a host")
    if not _is_host(url.raw_host) or not url_host(url):
        raise InvalidParameterError(
            parameter,
            f"{PROXY_URL_FORM} whose host is an IP address or a DNS name (an 'xn--' label "
            "must be valid IDNA)",
        )
    if url.path not in ("", "/") or url.query_string or url.fragment:
        raise InvalidParameterError(parameter, f"{PROXY_URL_FORM} without path or query")
    authorization = None
    if url.raw_user is not None or url.raw_password is not None:
        authorization = _authorization(text, parameter)
    return EgressProxy(url.with_user(None).with_path(""), authorization, parameter)


def _authorization(text: str, parameter: str) -> str:
    """The ``Proxy-Authorization`` value (Basic, UTF-8) for the credentials in ``text``,
    a proxy URL with its scheme. Raises :class:`InvalidParameterError` as :func:`_userinfo`
    does, or for a user holding ``:``, which Basic auth cannot carry (RFC 7617, section 2).
    """
    # From the text, not yarl's decoding: yarl keeps an escape that is not UTF-8
    # ('%ff') as it is and re-encodes a stray '%', so the password sent would not be
    # the one written. Split as yarl does (last '@', first ':').
    authority = re.split(r"[/?#]", text.split("://", 1)[1], maxsplit=1)[0]
    user, _, password = authority.rpartition("@")[0].partition(":")
    user = _userinfo(user, "user", parameter)
    if ":" in user:
        raise InvalidParameterError(parameter, f"{PROXY_URL_FORM}, a user without ':'")
    return aiohttp.encode_basic_auth(user, _userinfo(password, "password", parameter))


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _userinfo(raw: str, part: str, parameter: str) -> str:
    """The proxy ``part`` (``"user"`` or ``"password"``) decoded from its URL text.

    Every ``%`` must start an escape (``%25`` for a literal one), the escapes must
    decode as UTF-8, and the result must hold no control character, which could split
    the ``Proxy-Authorization`` header or be dropped on the way: anything else is an
    :class:`InvalidParameterError` that does not echo the value.
    """
    text: str | None = None
    if _BAD_ESCAPE.search(raw) is None:
        # Raised outside the handler: a caught UnicodeDecodeError holds the bytes, and
        # even "from None" keeps it as __context__.
        with contextlib.suppress(UnicodeDecodeError):  # '%ff', an encoded surrogate
            text = urllib.parse.unquote_to_bytes(raw).decode("utf-8")
    if text is None:
        raise InvalidParameterError(
            parameter,
            f"{PROXY_URL_FORM} whose {part} is UTF-8, percent-encoded where needed "
            "(a literal '%' as %25)",
        )
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise InvalidParameterError(
            parameter, f"{PROXY_URL_FORM} whose {part} holds no control character"
        )
    return text


def _is_host(raw_host: str) -> bool:
    """Whether ``raw_host`` (yarl's, IDNA-encoded) could name a proxy."""
    try:
        ipaddress.ip_address(raw_host)
    except ValueError:
        return _HOST_NAME.fullmatch(raw_host) is not None and ".." not in raw_host
    return True

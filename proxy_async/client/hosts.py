"""Which host the client talks to: the base URL, regional hosts, and page URLs.

A page URL (``meta.next_page_url``) is followed only to the origin the credentials
belong to: the configured base URL, or another Twilio Proxy host, which is rewritten to
the configured one as the official SDKs do (see :func:`page_url_target`).
"""

from __future__ import annotations

import re

import attrs
import yarl

from ..errors import InvalidParameterError, UnsafePageUrlError
from ..validation import DEFAULT_PORTS, DNS_LABEL, URL_TEXT, check_dns_label, url_host

DEFAULT_BASE_URL = "https://proxy.twilio.com"
"""Twilio Proxy's public host."""


_PROXY_FAMILY = re.compile(rf"proxy(?:\.{DNS_LABEL}){{0,2}}\.twilio\.com")
"""Hosts of Twilio Proxy: ``proxy.twilio.com``, ``proxy.{region}.twilio.com`` and
``proxy.{edge}.{region}.twilio.com``: the three shapes twilio-python's
``ClientBase.get_hostname`` reads and writes (lower-case, as :class:`Origin` keeps hosts)."""


def parse_url(text: object) -> yarl.URL | None:
    """``text`` parsed by yarl, its port checked; None for what yarl refuses.

    The caller raises its own typed error outside any handler, so that yarl's error,
    which may quote the URL and its password, is not kept as ``__context__``.
    """
    try:
        url = yarl.URL(text)  # type: ignore[arg-type]  # a non-str is refused: TypeError
        url.explicit_port  # noqa: B018 - yarl checks the port only when it is read
    except (TypeError, ValueError):
        return None
    return url


def regional_host(edge: str | None, region: str | None) -> str:
    """Base URL for an edge/region pair, built as the official Twilio SDKs build it.

    ``proxy.{edge}.{region}.twilio.com``; an edge without a region uses region ``us1``;
    a region without an edge gives ``proxy.{region}.twilio.com``. Each must be one DNS
    label (else :class:`InvalidParameterError`), so neither can change the host's shape.
    """
    if edge and not region:
        region = "us1"
    labels = [
        "proxy",
        check_dns_label(edge, "edge") if edge else None,
        check_dns_label(region, "region") if region else None,
        "twilio",
        "com",
    ]
    return "https://" + ".".join(label for label in labels if label)


@attrs.frozen
class Origin:
    """Scheme, host and port of a URL: what must match before credentials are sent."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: yarl.URL) -> Origin:
        """The origin of ``url`` with the scheme's default port filled in.

        Hosts compare case-insensitively (RFC 3986, section 6.2.2.1) and otherwise as
        spelled: ``127.0.0.1.`` or ``proxy.twilio.com.`` is another origin than the one
        without the dot, since it is another name to resolve, to send as ``Host`` and to
        match a certificate against. Raises :class:`ValueError` (a :class:`UnicodeError`
        included) for a port yarl refuses or a host it cannot IDNA-decode.
        """
        scheme = (url.scheme or "").lower()
        port = url.explicit_port or DEFAULT_PORTS.get(scheme, 0)
        return cls(scheme, (url.host or "").lower(), port)

    def __str__(self) -> str:
        default = DEFAULT_PORTS.get(self.scheme)
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def in_proxy_family(origin: Origin) -> bool:
    """Whether ``origin`` is ``https`` on port 443 of a Twilio Proxy host (see _PROXY_FAMILY)."""
    return (
        origin.scheme == "https"
        and origin.port == 443
        and _PROXY_FAMILY.fullmatch(origin.host) is not None
    )


def parse_page_url(url: object) -> yarl.URL | None:
    """A page URL (``meta.next_page_url``, a saved ``start_url``) parsed as sent, or None.

    None when it is not a string, holds anything but printable ASCII URL characters
    (RFC 3986; a real server percent-encodes the rest), cannot be parsed (a doubled or
    out-of-range port, a broken IPv6 literal...) or is not absolute. Where it may lead is
    :func:`page_url_target`'s decision.
    """
    if not isinstance(url, str) or URL_TEXT.fullmatch(url) is None:
        return None
    try:
        parsed = yarl.URL(url, encoded=True)
        # yarl checks the port only when it is read.
        Origin.of(parsed)
    except ValueError:
        return None
    return parsed if parsed.is_absolute() and parsed.scheme else None


def page_url_target(url: yarl.URL, base_url: yarl.URL) -> yarl.URL:
    """Where a page URL from :func:`parse_page_url` is sent: the one same-origin rule.

    * Same scheme, host and port as ``base_url``: sent as it is.
    * Another host of the Twilio Proxy family (``proxy[.edge][.region].twilio.com``,
      https, port 443) while ``base_url`` is one too: sent to ``base_url``'s host, path
      and query kept. twilio-python rewrites every URL it requests, page URLs included,
      to the configured edge and region (``ClientBase.get_hostname``); Twilio may return
      page URLs on the global host to a regional client. The credentials still go only
      to the configured host.
    * Anything else, or any URL with user info, raises :class:`UnsafePageUrlError`:
      a custom ``base_url`` (a test or fake server) accepts only its own origin, since
      a Twilio URL there means the server is not what the client was pointed at.
    """
    base = Origin.of(base_url)
    if url.raw_user is not None or url.raw_password is not None:
        # Shown without its user info, which may be a credential.
        raise UnsafePageUrlError(
            str(url.with_user(None)), str(base), why="it holds user info, never sent with"
        )
    origin = Origin.of(url)
    if origin == base:
        return url
    if in_proxy_family(origin) and in_proxy_family(base):
        return yarl.URL(f"{base}{url.raw_path_qs}", encoded=True)
    raise UnsafePageUrlError(str(url), str(base))


def parse_base_url(base_url: str, parameter: str = "base_url") -> yarl.URL:
    """Validate a base URL: http(s), a host, no credentials, query or fragment.

    Raises :class:`InvalidParameterError` naming ``parameter`` for anything else,
    including a port yarl refuses and a host yarl cannot IDNA-decode (``xn--zz.com``).
    The value is echoed only when it holds no ``@``, ``?`` or ``#``, which could
    bring a password or a token along.
    """
    shown: object = type(base_url)
    if isinstance(base_url, str):
        shown = "<not shown>" if any(c in base_url for c in "@?#") else base_url
    url = parse_url(base_url)
    if url is None:
        raise InvalidParameterError(parameter, "an absolute http(s) URL", shown)
    if url.scheme not in DEFAULT_PORTS or not url.raw_host:
        raise InvalidParameterError(parameter, "an absolute http(s) URL", shown)
    if url.user is not None or url.password is not None:
        # Do not echo it: it carries credentials.
        raise InvalidParameterError(parameter, "a URL without user:password (use credentials)")
    if url.query_string or url.fragment:
        # Not echoed either: a query may carry a token.
        raise InvalidParameterError(parameter, "a URL without query or fragment")
    if not url_host(url):
        raise InvalidParameterError(
            parameter,
            "an http(s) URL whose host is an IP address or a DNS name yarl can IDNA-decode "
            "(an 'xn--' label must be valid Punycode)",
            shown,
        )
    return url.with_path(url.path.rstrip("/"))

"""Egress: which forward proxy each request goes through (``proxy=``, the environment).

Networks that only let traffic out through a forward proxy (often one that inspects
TLS and re-signs it with a corporate CA) need a proxy and a CA trust
(:mod:`proxy_async.transports.tls`). The rules follow requests (what twilio-python
uses) and curl, so the same environment works for all of them:

**Proxy** for a request, in this order:

1. an explicit ``proxy=`` URL: used for every request, the environment is not read;
2. with ``trust_env`` (the default), from the environment as read when the transport
   is built: ``HTTPS_PROXY`` for ``https://`` URLs, ``HTTP_PROXY`` for ``http://``
   ones, ``ALL_PROXY`` for either when that one is unset, unless ``NO_PROXY`` matches
   the host. A lowercase name wins over its uppercase one (as ``urllib.request``
   reads them, set-but-empty included); uppercase ``HTTP_PROXY`` is ignored when
   ``REQUEST_METHOD`` is set, since a CGI server fills it from the client's
   ``Proxy:`` header (httpoxy, CVE-2016-5385; urllib does the same);
3. otherwise none: the request connects directly.

A proxy URL is checked by :func:`~proxy_async.transports.proxy_url.parse_proxy_url`
(the form and its rules are there).

A proxy that is in use but cannot be reached is an
:class:`~proxy_async.errors.EgressProxyError` naming it (credentials redacted), never
a plain connection error about the API host: a refused connection, a connect timeout
(:class:`~proxy_async.errors.EgressProxyTimeoutError`) and a DNS failure of its host
alike (through a proxy, only the proxy's host is resolved here; the proxy resolves
the API's). A host name that DNS says does not exist
(:class:`~proxy_async.errors.EgressProxyUnresolvedError`, e.g. ``--proxy notaurl``)
is final, like a 407; a DNS server that does not answer is retried.

``NO_PROXY`` is a comma-separated list: ``*`` (no proxy at all), host names that
match themselves and their subdomains (``example.com``, ``.example.com`` and
``*.example.com`` all match ``api.example.com``), optionally with ``:port``, IP
addresses, and CIDR blocks (``10.0.0.0/8``, as requests reads them).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

import attrs
import yarl

from .proxy_url import EgressProxy, parse_proxy_url


@attrs.frozen
class NoProxy:
    """The ``NO_PROXY`` rules: which hosts are reached directly despite a proxy."""

    everything: bool = False
    names: tuple[tuple[str, int | None], ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> NoProxy:
        """Rules from a ``NO_PROXY`` value; None or blank means no exception."""
        names: list[tuple[str, int | None]] = []
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in (text or "").split(","):
            entry = raw.strip().lower()
            if entry == "*":
                return cls(everything=True)
            entry = entry.removeprefix("*").lstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name, port = entry, None
            head, colon, tail = entry.rpartition(":")
            if colon and tail.isdigit() and "]" not in tail:
                name, port = head, int(tail)
            names.append((name.strip("[]").rstrip("."), port))
        return cls(names=tuple(names), networks=tuple(networks))

    def matches(self, host: str, port: int | None) -> bool:
        """Whether ``host`` (a name or an IP address) at ``port`` is reached directly."""
        if self.everything:
            return True
        host = host.lower().strip("[]").rstrip(".")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and any(address in network for network in self.networks):
            return True
        return any(
            (host == name or host.endswith("." + name)) and (wanted is None or wanted == port)
            for name, wanted in self.names
        )


def _env(environ: Mapping[str, str], name: str, *, cgi_safe: bool = True) -> tuple[str, str] | None:
    """``(variable, value)`` of ``name`` in lowercase, else in uppercase (urllib's order);
    set-but-empty means unset."""
    lower = name.lower()
    if lower in environ:
        return (lower, environ[lower]) if environ[lower] else None
    if not cgi_safe and "REQUEST_METHOD" in environ:
        return None
    return (name, environ[name]) if environ.get(name) else None


@attrs.frozen
class ProxyRoutes:
    """Which proxy each request goes through (see the module docstring for the rules)."""

    explicit: EgressProxy | None = None
    by_scheme: Mapping[str, EgressProxy] = attrs.field(factory=dict)
    no_proxy: NoProxy = NoProxy()

    @classmethod
    def resolve(
        cls, proxy: str | None, *, trust_env: bool, environ: Mapping[str, str] | None
    ) -> ProxyRoutes:
        """The routes for an explicit ``proxy`` (wins) or the environment (``trust_env``).

        Raises :class:`InvalidParameterError` naming ``proxy`` or the variable whose
        value is not a usable proxy URL.
        """
        if proxy is not None:
            return cls(explicit=parse_proxy_url(proxy, "proxy"))
        if not trust_env:
            return cls()
        env = os.environ if environ is None else environ
        fallback = _env(env, "ALL_PROXY")
        by_scheme: dict[str, EgressProxy] = {}
        for scheme, name in (("https", "HTTPS_PROXY"), ("http", "HTTP_PROXY")):
            found = _env(env, name, cgi_safe=scheme != "http") or fallback
            if found is not None:
                variable, value = found
                by_scheme[scheme] = parse_proxy_url(value, variable)
        no_proxy = _env(env, "NO_PROXY")
        return cls(by_scheme=by_scheme, no_proxy=NoProxy.parse(no_proxy and no_proxy[1]))

    def for_url(self, url: yarl.URL) -> EgressProxy | None:
        """The proxy a request to ``url`` goes through, or None to connect directly."""
        if self.explicit is not None:
            return self.explicit
        route = self.by_scheme.get(url.scheme)
        if route is None or self.no_proxy.matches(url.host or "", url.port):
            return None
        return route

    def describe(self) -> str:
        """The routes for a log line, credentials redacted."""
        if self.explicit is not None:
            return f"proxy {self.explicit.display}"
        if not self.by_scheme:
            return "direct"
        routes = ", ".join(
            f"{scheme}: {route.display} ({route.source})"
            for scheme, route in sorted(self.by_scheme.items())
        )
        if self.no_proxy == NoProxy():
            return routes
        return f"{routes}; NO_PROXY {'*' if self.no_proxy.everything else 'set'}"

"""Egress: which forward proxy a request goes through, and which CAs its TLS trusts.

Networks that only let traffic out through a forward proxy (often one that inspects
TLS and re-signs it with a corporate CA) need both. The rules follow requests (what
twilio-python uses) and curl, so the same environment works for all of them:

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

**CA trust**, in this order: ``ssl_context=`` (an :class:`ssl.SSLContext` used as it
is); ``ca_bundle=`` (a PEM file, a directory of hashed certificates, or a pipe such
as ``<(vault read ...)``, read once, bounded in size and time); with
``trust_env``, ``SSL_CERT_FILE`` (OpenSSL's own variable), then
``REQUESTS_CA_BUNDLE`` (what twilio-python users behind such a proxy already set);
otherwise the system's default trust. Only the first source found is used:
with ``SSL_CERT_FILE`` set, ``REQUESTS_CA_BUNDLE`` is not read, which is why a
:class:`~proxy_async.errors.CertificateVerifyError` names the source it trusted. A
bundle *replaces* the default trust, as it does in OpenSSL, requests and curl; to add
a CA to it, pass an ``ssl_context`` made with :func:`ssl.create_default_context` and
``load_verify_locations``. A bundle that
is missing, unreadable, holds no certificate or is neither a file, a directory nor a
pipe (a socket, a device) is an :class:`~proxy_async.errors.InvalidParameterError`
naming the option or variable and the path, raised when the client is built, not a
TLS failure at the first request; no bundle is waited for without bound (a FIFO no one
writes to is refused at once).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import os
import re
import select
import ssl
import stat
import time
import unicodedata
import urllib.parse
from collections.abc import Mapping

import aiohttp
import attrs
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
        # From the text, not yarl's decoding: yarl keeps an escape that is not UTF-8
        # ('%ff') as it is and re-encodes a stray '%', so the password sent would not be
        # the one written. Split as yarl does (last '@', first ':').
        authority = re.split(r"[/?#]", text.split("://", 1)[1], maxsplit=1)[0]
        user, _, password = authority.rpartition("@")[0].partition(":")
        user = _userinfo(user, "user", parameter)
        if ":" in user:  # Basic auth cannot carry it (RFC 7617, section 2)
            raise InvalidParameterError(parameter, f"{PROXY_URL_FORM}, a user without ':'")
        authorization = aiohttp.encode_basic_auth(user, _userinfo(password, "password", parameter))
    return EgressProxy(url.with_user(None).with_path(""), authorization, parameter)


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


def tls_trust(
    ssl_context: ssl.SSLContext | None,
    ca_bundle: str | os.PathLike[str] | None,
    *,
    trust_env: bool,
    environ: Mapping[str, str] | None,
) -> tuple[ssl.SSLContext | None, str]:
    """The TLS context to verify servers with, and the CAs it trusts as errors name them.

    The second item is ``"the CAs of ssl_context="``, ``"the CAs of ca_bundle=PATH"``,
    ``"the CAs of SSL_CERT_FILE=PATH"`` (adding the ``REQUESTS_CA_BUNDLE`` it wins
    over, if set), ``"the CAs of REQUESTS_CA_BUNDLE=PATH"`` or ``"the system's default
    CAs"``. Paths are
    shown; no credential is ever in them. None means aiohttp's default (the system's CAs). Raises
    :class:`InvalidParameterError` for a wrong ``ssl_context`` type, both options
    given, or a CA bundle that cannot be loaded (naming the option or variable and
    the path).
    """
    if ssl_context is not None:
        if ca_bundle is not None:
            raise InvalidParameterError("ca_bundle", "either ssl_context or ca_bundle, not both")
        if not isinstance(ssl_context, ssl.SSLContext):
            raise InvalidParameterError("ssl_context", "an ssl.SSLContext", type(ssl_context))
        return ssl_context, "the CAs of ssl_context="
    if ca_bundle is not None:
        context = load_ca_bundle(ca_bundle, "ca_bundle")
        return context, f"the CAs of ca_bundle={os.fspath(ca_bundle)}"
    if trust_env:
        env = os.environ if environ is None else environ
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
            path = env.get(name)
            if path:
                source = f"the CAs of {name}={path}"
                ignored = env.get("REQUESTS_CA_BUNDLE")
                if name == "SSL_CERT_FILE" and ignored:
                    source += f", which wins over REQUESTS_CA_BUNDLE={ignored}"
                return load_ca_bundle(path, name), source
    return None, "the system's default CAs"


PIPE_BUNDLE_MAX_BYTES = 8 * 1024 * 1024
"""The most a CA bundle read from a pipe may hold (a system bundle is about 0.2 MiB)."""

PIPE_BUNDLE_TIMEOUT = 10.0
"""Seconds a pipe may take to deliver its whole CA bundle (its writer closing it)."""

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----"
)
"""A PEM certificate block (RFC 7468); text between blocks (comments) is skipped."""

_NOT_A_FILE = "not a regular file, directory or pipe; write the bundle to a file"


def load_ca_bundle(path: str | os.PathLike[str], parameter: str) -> ssl.SSLContext:
    """A verifying client context that trusts exactly the CAs at ``path``.

    ``path`` is a PEM file, a directory of certificates named by their subject hash
    (``c_rehash``), or a pipe (``--ca-bundle <(vault read ...)``, a FIFO) that delivers
    the PEM certificates and then closes. Contexts of files and directories are shared
    between clients while they are unchanged (loading a system-size bundle takes tens
    of milliseconds); a pipe is read once, when the client is built.

    Nothing here waits without bound: files are opened non-blocking, so a FIFO with no
    writer reads as empty instead of blocking in ``open()``, and a pipe must deliver at
    most :data:`PIPE_BUNDLE_MAX_BYTES` within :data:`PIPE_BUNDLE_TIMEOUT` seconds.

    Raises :class:`InvalidParameterError` naming ``parameter`` and the path when it
    does not exist, cannot be read, holds no certificate, is another kind of file (a
    socket, a device), or cannot be a path at all (a NUL, a lone surrogate).
    """
    try:
        name = os.fspath(path)
    except TypeError:
        raise InvalidParameterError(parameter, "a path to a PEM CA bundle", type(path)) from None
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(parameter, "a path to a PEM CA bundle", name)
    try:
        info = os.stat(name)
    except ValueError:  # a NUL, or a character the file system encoding lacks
        raise InvalidParameterError(
            parameter, "a path to a PEM CA bundle (no NUL, encodable file name)", name
        ) from None
    except OSError as error:
        raise _bundle_error(parameter, name, error.strerror or type(error).__name__) from None
    try:
        if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
            return _load_ca_bundle(os.path.abspath(name), info.st_mtime_ns, info.st_size)
        if stat.S_ISFIFO(info.st_mode):
            return ssl.create_default_context(cadata=_read_pipe(name))
    except ssl.SSLError as error:  # an OSError too: first
        reason = f"no certificate could be read from it: {error.reason or error}"
        raise _bundle_error(parameter, name, reason) from None
    except OSError as error:
        raise _bundle_error(parameter, name, error.strerror or str(error)) from None
    raise _bundle_error(parameter, name, _NOT_A_FILE)


@functools.lru_cache(maxsize=16)
def _load_ca_bundle(path: str, mtime_ns: int, size: int) -> ssl.SSLContext:
    # mtime and size are in the key so that a replaced bundle is read again.
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    # Opened here first, non-blocking, so that "permission denied" is said before
    # OpenSSL says something vaguer, and so that a file swapped for a FIFO since the
    # stat() cannot block.
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise OSError(errno.EINVAL, _NOT_A_FILE)
    finally:
        os.close(handle)
    return ssl.create_default_context(cafile=path)


def _read_pipe(path: str) -> str:
    """The PEM certificate blocks a pipe at ``path`` delivers before it closes.

    Raises :class:`OSError` when the pipe gives nothing (a FIFO with no writer), more
    than :data:`PIPE_BUNDLE_MAX_BYTES`, no end within :data:`PIPE_BUNDLE_TIMEOUT`
    seconds, or no certificate block.
    """
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISFIFO(os.fstat(handle).st_mode):
            raise OSError(errno.EINVAL, _NOT_A_FILE)
        poller = select.poll()
        poller.register(handle, select.POLLIN)
        deadline = time.monotonic() + PIPE_BUNDLE_TIMEOUT
        data = bytearray()
        while True:
            try:
                chunk = os.read(handle, 65536)
            except BlockingIOError:  # a writer, nothing written yet
                left = deadline - time.monotonic()
                if left <= 0:
                    raise OSError(
                        errno.ETIMEDOUT,
                        f"the pipe did not deliver the bundle within {PIPE_BUNDLE_TIMEOUT:g} s",
                    ) from None
                poller.poll(left * 1000)
                continue
            if not chunk:  # end of data: every writer closed, or none ever opened it
                break
            data += chunk
            if len(data) > PIPE_BUNDLE_MAX_BYTES:
                raise OSError(errno.EFBIG, f"the pipe gave more than {PIPE_BUNDLE_MAX_BYTES} bytes")
    finally:
        os.close(handle)
    if not data:
        raise OSError(errno.ENODATA, "the pipe gave nothing to read (no writer?)")
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise OSError(errno.EINVAL, "no PEM certificate block in what the pipe gave")
    return "\n".join(block.decode("ascii") for block in blocks)


def _bundle_error(parameter: str, path: str, reason: str) -> InvalidParameterError:
    return InvalidParameterError(
        parameter, f"a readable PEM file of CA certificates, a directory or a pipe ({reason})", path
    )

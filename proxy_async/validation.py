"""Checks on what callers pass in, run before any request is built: every argument,
SID and environment variable is refused here, by its own name, with one wording.

Only caller input is checked against Twilio's SID patterns; what a server returns is
taken as sent (Twilio's own reference examples put ``"string"`` in SID fields).

One module on purpose, a little over 300 lines: a refusal's wording ("an integer from
1 to 1000", "a finite number > 0") lives in one place, whoever checks (the client,
the limiters, the export, the workers, the command line). Sections: URLs and hosts,
numbers and flags, text and forms, SIDs, list arguments, the environment.
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import TypeGuard

import yarl

from .errors import InvalidParameterError

MAX_PAGE_SIZE = 1000
"""Largest ``PageSize`` Twilio accepts."""

_HEX32 = "[0-9a-fA-F]{32}"

URL_TEXT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
"""The characters a URL may hold as sent (RFC 3986 unreserved, reserved and ``%``)."""

_PATH = re.compile(r"/[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]*")
_METHOD = re.compile(r"[A-Z]{1,16}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a UTF-16 surrogate code point, the one thing UTF-8 cannot encode.

    Found by searching, not by encoding, so no ``UnicodeEncodeError`` (which would carry
    the whole text in ``.object``) is ever made, not even as an exception's context.
    """
    return _LONE_SURROGATE.search(text) is not None


DNS_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
"""One DNS label as a regular expression (lower case): 1 to 63 letters, digits or
hyphens, not starting or ending with a hyphen (RFC 1123, section 2.1)."""

_LABEL = re.compile(DNS_LABEL, re.IGNORECASE)

DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443}
"""The port each URL scheme the package speaks implies when a URL names none (RFC 9110,
sections 4.2.1 and 4.2.2): the one map for origins, signed webhook URLs and the like."""


def url_host(url: yarl.URL) -> str | None:
    """``url.host`` (IDNA-decoded), or None when there is none or it cannot be decoded.

    yarl decodes an ``xn--`` label lazily, on the first read of ``host``, and raises a
    bare :class:`UnicodeError` for one that is not valid Punycode (``xn--zz``): callers
    turn None into their own typed error instead.
    """
    try:
        return url.host
    except ValueError:  # UnicodeError is one; idna's IDNAError is a UnicodeError
        return None


def check_dns_label(value: object, parameter: str) -> str:
    """``value`` lower-cased if it is one DNS label (see :data:`DNS_LABEL`), else raise.

    An ``xn--`` label must also be valid IDNA, as yarl decodes it. Used for a Twilio
    edge or region (``sydney``, ``au1``), so that neither can change a host's shape
    (``au1.evil.com``, ``bad region!``). Raises :class:`InvalidParameterError` naming
    ``parameter`` (``region``, or ``TWILIO_REGION`` when read from the environment).
    """
    if (
        not isinstance(value, str)
        or _LABEL.fullmatch(value) is None
        # Lower-cased first, as it is used: idna takes only 'xn--' as the ACE prefix.
        or url_host(yarl.URL.build(scheme="https", host=value.lower(), encoded=True)) is None
    ):
        raise InvalidParameterError(
            parameter,
            "one DNS label such as 'sydney' or 'au1': 1 to 63 letters, digits or hyphens, "
            "not starting or ending with a hyphen (an 'xn--' label must be valid IDNA)",
            value,
        )
    return value.lower()


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or a float, never a bool (infinity and NaN included)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is an int or float (never a bool) that is finite as a float.

    An int too large for a float (``10**400``) is not: arithmetic with it would raise
    ``OverflowError`` where a float is needed (a timer, a rate).
    """
    if not is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def check_int(value: object, parameter: str, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is an int (never a bool) from ``low`` to ``high`` (None: no top).

    Raises :class:`InvalidParameterError` naming ``parameter`` otherwise.
    """
    if not is_int(value) or value < low or (high is not None and value > high):
        expected = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
        raise InvalidParameterError(parameter, expected, value)
    return value


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an int and not a bool (``True`` is an int to Python, never to us)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_number(
    value: object,
    parameter: str,
    *,
    low: float = 0.0,
    inclusive: bool = False,
    high: float | None = None,
) -> float:
    """Return ``value`` as a float if it is a finite number above ``low`` (or equal to it,
    when ``inclusive``) and at most ``high`` (None: no top); never a bool.

    Raises :class:`InvalidParameterError` naming ``parameter``, with the one wording
    every number check shares: ``a finite number > 0``, ``... >= 0 and <= 3600``.
    """
    if (
        not is_finite_number(value)
        or (value < low if inclusive else value <= low)
        or (high is not None and value > high)
    ):
        bound = f"{'>=' if inclusive else '>'} {low:g}"
        expected = f"a finite number {bound}" + ("" if high is None else f" and <= {high:g}")
        raise InvalidParameterError(parameter, expected, value)
    return float(value)


def check_flag(value: object, parameter: str) -> bool:
    """Return ``value`` if it is True or False (not 0, 1 or a truthy object), else raise."""
    if not isinstance(value, bool):
        raise InvalidParameterError(parameter, "True or False", value)
    return value


def has_async_methods(value: object, *names: str) -> bool:
    """Whether ``value`` has each of ``names`` as a coroutine function (duck typing for a
    protocol such as a transport's ``send``/``aclose`` or a limiter's ``acquire``)."""
    return all(inspect.iscoroutinefunction(getattr(value, name, None)) for name in names)


def check_text(value: object, parameter: str) -> str:
    """Return ``value`` if it is a str that UTF-8 can encode, else raise.

    The value is never echoed in the :class:`InvalidParameterError`: it may be a
    message body or a signed media URL. A lone surrogate is typically half an emoji
    cut off by slicing a string.
    """
    if not isinstance(value, str):
        raise InvalidParameterError(parameter, f"a string, not {type(value).__name__}")
    if has_lone_surrogate(value):
        raise InvalidParameterError(
            parameter, "text UTF-8 can encode (it holds a lone surrogate, such as half an emoji)"
        )
    return value


def check_form(pairs: object, parameter: str) -> list[tuple[str, str]]:
    """Validate request fields: ``(name, value)`` string pairs or a mapping (values unechoed)."""
    if isinstance(pairs, Mapping):
        pairs = list(pairs.items())
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise InvalidParameterError(parameter, "a sequence of (name, value) string pairs")
    checked = []
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidParameterError(parameter, "a sequence of (name, value) string pairs")
        checked.append((check_text(pair[0], parameter), check_text(pair[1], parameter)))
    return checked


def check_method(method: object) -> str:
    """An HTTP method name in upper case (``GET``, ``POST``, ``DELETE``)."""
    if not isinstance(method, str) or _METHOD.fullmatch(method) is None:
        raise InvalidParameterError("method", "an upper-case HTTP method such as 'GET'", method)
    return method


TARGET_EXPECTED = "a percent-encoded path starting with '/' or an absolute page URL"


def check_file_path(value: object, parameter: str) -> str | os.PathLike[str]:
    """Return ``value`` if it is a str or path-like naming a file the OS can be asked about.

    Refuses other types, a NUL byte, and text the file system encoding cannot carry
    (a lone surrogate outside ``surrogateescape``'s range), which ``open`` would
    otherwise reject with a ``ValueError`` or ``UnicodeEncodeError``.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidParameterError(
            parameter, f"a path (str or os.PathLike), not {type(value).__name__}"
        )
    path = os.fspath(value)
    if not isinstance(path, str) or not path or "\x00" in path:
        raise InvalidParameterError(parameter, "a non-empty str path without NUL", value)
    try:
        os.fsencode(path)
        encodable = True
    except UnicodeEncodeError:
        encodable = False
    if not encodable:
        raise InvalidParameterError(parameter, "a path the file system encoding can carry", value)
    return value


def check_path(target: object) -> str:
    """A path under the base URL: ``/`` then URL characters only (percent-encode the rest)."""
    if not isinstance(target, str) or _PATH.fullmatch(target) is None:
        raise InvalidParameterError("target", TARGET_EXPECTED, target)
    return target


def _sid_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(f"{prefix}{_HEX32}")


SID_PATTERNS: dict[str, re.Pattern[str]] = {
    prefix: _sid_pattern(prefix) for prefix in ("AC", "SK", "KS", "KC", "KP", "KI")
}
"""Pattern of each SID kind this client accepts from callers (two letters + 32 hex)."""


def sid_kind(prefix: str) -> str:
    """``"a KS SID"``, ``"an AC SID"``: the article goes with the first letter as spoken."""
    article = "an" if prefix[0] in "AEFHILMNORSX" else "a"
    return f"{article} {prefix} SID"


def check_sid(value: object, prefix: str, parameter: str) -> str:
    """Return ``value`` if it is a ``prefix`` SID, else raise :class:`InvalidParameterError`."""
    if not is_sid(value, prefix):
        raise InvalidParameterError(
            parameter, f"{sid_kind(prefix)} matching ^{prefix}{_HEX32}$", value
        )
    return value


_ANY_SID = _sid_pattern("[A-Z]{2}")


def is_sid(value: object, prefix: str | None = None) -> TypeGuard[str]:
    """Whether ``value`` is a SID: ``prefix`` (None: any two capital letters), 32 hex digits.

    For callers that word their own refusal (a webhook form names its parameter in an
    :class:`~proxy_async.errors.InvalidCallbackError`); :func:`check_sid` raises instead.
    """
    pattern = _ANY_SID if prefix is None else SID_PATTERNS.get(prefix) or _sid_pattern(prefix)
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_limit(limit: object) -> int | None:
    """Validate a record ``limit``: None (no limit) or an int >= 1."""
    if limit is None:
        return None
    if not is_int(limit) or limit < 1:
        raise InvalidParameterError("limit", "None or an integer >= 1", limit)
    return limit


def page_size_for(page_size: object, limit: int | None) -> int | None:
    """The ``PageSize`` to send: an explicit value capped at 1000, else ``min(limit, 1000)``.

    None means "let the server choose" (Twilio's default is 50). Above 1000 is
    clamped to 1000, as the official SDKs do, so ``page_size=5000`` asks for the
    largest page allowed; a non-integer or a value below 1 is a caller bug and raises.
    """
    if page_size is None:
        return None if limit is None else min(limit, MAX_PAGE_SIZE)
    if not is_int(page_size) or page_size < 1:
        raise InvalidParameterError(
            "page_size", "None or an integer >= 1 (capped at 1000)", page_size
        )
    return min(page_size, MAX_PAGE_SIZE)


def check_message(body: object, media_url: object) -> tuple[str | None, list[str]]:
    """Validate the form of a Message Interaction create: a non-empty body and/or media URLs.

    Neither the body nor a media URL (which may be signed) is ever echoed in the error.
    """
    text = None if body is None else check_text(body, "body")
    if text is not None and not text.strip():
        raise InvalidParameterError("body", "a non-empty string")
    urls: list[str] = []
    if media_url is not None:
        candidates = [media_url] if isinstance(media_url, str) else media_url
        if not isinstance(candidates, (list, tuple)):
            raise InvalidParameterError(
                "media_url",
                f"a URL string or a list of URL strings, not {type(media_url).__name__}",
            )
        for index, url in enumerate(candidates):
            if not check_text(url, "media_url").startswith(("http://", "https://")):
                raise InvalidParameterError("media_url", f"absolute http(s) URLs (item {index})")
            urls.append(url)
    if text is None and not urls:
        raise InvalidParameterError("body", "a non-empty body or at least one media_url")
    return text, urls


# -- the environment --------------------------------------------------------------------
# Every variable is read through these, so each is refused with its own name and one
# wording, whoever reads it (ProxyClient.from_env, the workers, the command line).

_ENV_INTEGER = re.compile(r"[0-9]{1,9}")
"""An environment integer as written: decimal digits only (no sign, point, space or ``_``)."""

_ENV_FLAGS = {"1": True, "true": True, "yes": True, "on": True}
_ENV_FLAGS.update({"0": False, "false": False, "no": False, "off": False, "": False})


def env_int(env: Mapping[str, str], name: str, default: int, high: int, *, low: int = 1) -> int:
    """The integer in variable ``name`` (unset or empty: ``default``), from ``low`` to ``high``.

    Strict: ``0.1``, ``inf``, ``1e3`` or ``+5`` raise :class:`InvalidParameterError`
    naming the variable, rather than being rounded into something else.
    """
    raw = env.get(name)
    if not raw:
        return default
    if _ENV_INTEGER.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise InvalidParameterError(name, f"an integer from {low} to {high}", raw)
    return int(raw)


def env_number(
    env: Mapping[str, str], name: str, default: float, high: float | None = None
) -> float:
    """The finite number > 0 (and at most ``high``) in variable ``name``; unset: ``default``."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        value: object = float(raw)
    except ValueError:
        value = raw
    try:
        return check_number(value, name, high=high)
    except InvalidParameterError as error:
        raise InvalidParameterError(name, error.expected, raw) from None


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off (any case); unset: no."""
    raw = env.get(name, "")
    flag = _ENV_FLAGS.get(raw.strip().lower())
    if flag is None:
        raise InvalidParameterError(name, "1, true, yes, on or 0, false, no, off", raw)
    return flag


def check_redis_url(url: str, name: str = "PROXY_ASYNC_REDIS_URL") -> str:
    """Refuse a Redis URL arq cannot use (a bad scheme, port or database number), naming
    where it came from: the variable, or ``name`` (the command line's ``--redis``). The
    URL is not echoed: it may hold a password. Needs the ``arq`` extra (imported here)."""
    from arq.connections import RedisSettings

    try:
        RedisSettings.from_dsn(url)
    except (RuntimeError, ValueError):
        raise InvalidParameterError(name, "a redis://, rediss:// or unix:// URL") from None
    return url

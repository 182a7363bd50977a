"""What Twilio signs: the signed string of a form, the URL variants, and the HMAC over them.

Pure functions, no I/O and no framework: :mod:`.signature` builds the public checks on
them. The signed string is the full URL Twilio requested followed, for a form body, by
each parameter name and its value, names sorted, a repeated name once per distinct
value with its values sorted (Twilio's "Webhooks security", and twilio-python 9.x's
``RequestValidator``, checked by agreement in ``tests/webhooks/test_webhook_oracle.py``).

The signed string has no delimiters, so two forms whose names and values concatenate
the same (``a=bc`` and ``ab=c``) share a signature: that is Twilio's scheme, and no
validator can tell them apart. Forms that differ only by a pair repeated verbatim
(``a=1`` and ``a=1&a=1``) share one too, since RequestValidator signs each distinct
value once; no value can be changed, added or removed that way.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping, Sequence
from typing import TypeAlias
from urllib.parse import urlparse

from multidict import MultiMapping

from ..errors import InvalidParameterError
from ..validation import DEFAULT_PORTS, has_lone_surrogate

FormParams: TypeAlias = Mapping[str, str | Sequence[str]] | MultiMapping[object]
"""A decoded form: name to value or list of values, or a multidict (aiohttp's ``post()``)."""


class Unsignable(Exception):
    """Some text cannot be encoded as UTF-8, so Twilio cannot have signed it."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


def secret_key(secret: object, parameter: str = "auth_token") -> bytes:
    """The HMAC key for ``secret`` (an Auth Token or SharedKey secret), named ``parameter``.

    Searched for a lone surrogate rather than encoded inside a try: a chained
    ``UnicodeEncodeError`` would carry the whole secret in its ``.object`` attribute.
    """
    if not isinstance(secret, str):
        raise InvalidParameterError(parameter, "a str")
    if has_lone_surrogate(secret):
        raise InvalidParameterError(parameter, "text encodable as UTF-8")
    return secret.encode("utf-8")


def checked_url(url: object) -> str:
    """``url`` if it is a str, else :class:`~proxy_async.errors.InvalidParameterError`."""
    if not isinstance(url, str):
        raise InvalidParameterError("url", "a str: the full URL Twilio requested")
    return url


def _param_values(params: FormParams, name: str) -> list[str]:
    if isinstance(params, MultiMapping):
        raw: Sequence[object] = params.getall(name)
    else:
        value: object = params[name]
        if isinstance(value, str):
            return [value]
        if isinstance(value, (bytes, bytearray)) or not isinstance(value, Sequence):
            raise InvalidParameterError(f"params[{name!r}]", "a str or a sequence of str")
        raw = value
    values: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise InvalidParameterError(f"params[{name!r}]", "a str or a sequence of str")
        values.append(item)
    return values


def signed_params(params: FormParams) -> str:
    """The form's part of the signed string: each name then value, names sorted.

    A name's distinct values follow it in sorted order, each once: a pair repeated
    verbatim (``a=1&a=1``) is signed as one, as twilio-python's ``RequestValidator``
    computes it (``sorted(set(values))``). Order is Python's, by code point.
    """
    if not isinstance(params, Mapping):
        raise InvalidParameterError("params", "a mapping of form names to str or lists of str")
    # set(): a multidict yields a repeated name once per value.
    names = set(params)
    for name in names:
        if not isinstance(name, str):
            raise InvalidParameterError("params", "a mapping with str keys")
    parts: list[str] = []
    for name in sorted(names):
        for value in sorted(set(_param_values(params, name))):
            parts.append(name)
            parts.append(value)
    return "".join(parts)


def sign(key: bytes, text: str, what: str, digest: str) -> bytes:
    """base64(HMAC(``key``, ``text``)) with hashlib's ``digest``; :class:`Unsignable`
    naming ``what`` when ``text`` is not UTF-8 encodable."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise Unsignable(what) from None
    return base64.b64encode(hmac.new(key, data, digest).digest())


def url_variants(url: str) -> tuple[str, ...]:
    """The URLs a signature for a request to ``url`` may have been computed over.

    Twilio's signing is inconsistent about ports, so twilio-python's ``RequestValidator``
    (9.x, ``validate``) tries two forms of the URL as ``urllib.parse.urlparse`` parses
    and re-joins it (``geturl()``), and these are the same two:

    - the URL has a port (other than 0): the URL, and the URL without its port,
      default (``:443``) or not (``:8443``);
    - it has none: the URL, and the URL with ``:443`` added for ``https``, ``:80``
      for any other scheme.

    Re-joining normalises as ``urllib`` does (scheme lowercased; an empty ``?``, ``#``
    or trailing ``;`` dropped; tabs and newlines removed), so the URL is not always tried
    exactly as given. A URL ``urllib`` refuses (a port that is not a number in 0..65535, an
    unclosed ``[``) gives no variant: nothing matches.

    One deliberate difference: where the authority holds a ``:`` before the port (a
    password in ``user:pw@host:8443``, an IPv6 literal ``[::1]:8443``),
    ``RequestValidator`` cuts it at the first ``:`` and so also accepts a signature
    over ``https://user/...`` or ``https://[/...``: a URL with another host, or none,
    that Twilio never requests. That variant is not tried; only the URL itself is.
    """
    try:
        parts = urlparse(url)
        port = parts.port
    except ValueError:
        return ()
    joined = parts.geturl()
    if not port:
        default = DEFAULT_PORTS["https"] if parts.scheme == "https" else DEFAULT_PORTS["http"]
        return (joined, parts._replace(netloc=f"{parts.netloc}:{default}").geturl())
    if parts.netloc.count(":") != 1:
        return (joined,)
    return (joined, parts._replace(netloc=parts.netloc.partition(":")[0]).geturl())


def signature_matches(key: bytes, url: str, params_text: str, signature: str, digest: str) -> bool:
    """Whether ``signature`` signs any of :func:`url_variants` of ``url`` + ``params_text``.

    Every variant is computed and compared in constant time, whichever matches.
    """
    expected = signature.encode("ascii")
    matched = False
    try:
        for variant in url_variants(url):
            computed = sign(key, variant + params_text, "url or params", digest)
            # |= rather than any(): try every variant, whichever matches.
            matched |= hmac.compare_digest(computed, expected)
    except Unsignable:
        return False
    return matched


def usable_signature(signature: object) -> str | None:
    """``signature`` if it could be one (a non-empty ASCII str), else None."""
    if not isinstance(signature, str) or not signature or not signature.isascii():
        return None
    return signature

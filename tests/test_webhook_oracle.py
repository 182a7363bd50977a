"""Webhook signatures by agreement with twilio-python's ``RequestValidator`` as the oracle.

twilio (test extra only) signs each generated request; our validators must accept exactly
when ``RequestValidator.validate`` does. The one documented difference (see
``proxy_async.webhooks._url_variants``): for an authority with a ``:`` before its port
(``user:pw@host:8443``, ``[::1]:8443``) RequestValidator also accepts a signature over the
authority cut at its first ``:`` (``https://user/...``); we refuse that one, so we never
accept what the oracle refuses.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeAlias
from urllib.parse import urlencode, urlparse

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from multidict import MultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from proxy_async.errors import InvalidParameterError
from proxy_async.webhooks import (
    compute_signature,
    validate_json_signature,
    validate_request,
    validate_signature,
)

TOKEN = "5f1a8c0d9e2b4a6c8e0f1a3b5c7d9e1f"
OTHER_TOKEN = "5f1a8c0d9e2b4a6c8e0f1a3b5c7d9e10"
FORM = "application/x-www-form-urlencoded"

Params: TypeAlias = "MultiDict[str] | dict[str, str]"


def _oracle_sign(url: str, params: Params | dict[str, Any], token: str = TOKEN) -> str:
    signature: str = RequestValidator(token).compute_signature(url, params)
    return signature


def _oracle_accepts(url: str, params: Params | str, signature: str) -> bool:
    """RequestValidator.validate; an exception (what it does with input it cannot read) is no."""
    try:
        return bool(RequestValidator(TOKEN).validate(url, params, signature))
    except (ValueError, TypeError):  # UnicodeEncodeError is a ValueError
        return False


def _cut_at_first_colon(url: str) -> str | None:
    """The URL RequestValidator tries for a ported authority holding another ``:``; else None."""
    try:
        parts = urlparse(url)
        port = parts.port
    except ValueError:
        return None
    if not port or parts.netloc.count(":") < 2:
        return None
    return parts._replace(netloc=parts.netloc.split(":")[0]).geturl()


def _as_urllib_reads(url: str) -> str | None:
    """The URL as RequestValidator re-joins it before signing; None if urllib refuses it."""
    try:
        return urlparse(url).geturl()
    except ValueError:
        return None


def _assert_agrees(configured: str, params: Params, signature: str) -> bool:
    ours = validate_signature(TOKEN, configured, params, signature)
    theirs = _oracle_accepts(configured, params, signature)
    if theirs and not ours:
        # The documented difference, and nothing else.
        cut = _cut_at_first_colon(configured)
        assert cut is not None
        assert _oracle_sign(cut, params) == signature
    else:
        assert ours == theirs
    return ours


# ------------------------------------------------------------------ URL and form strategies


@attrs.frozen
class _Url:
    scheme: str
    userinfo: str
    host: str
    port: str | None
    path: str
    query: str | None
    fragment: str | None

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        query = "" if self.query is None else f"?{self.query}"
        fragment = "" if self.fragment is None else f"#{self.fragment}"
        return f"{self.scheme}://{self.userinfo}{self.host}{port}{self.path}{query}{fragment}"


_schemes = st.sampled_from(["https", "https", "http", "http", "HTTPS", "ftp"])
_userinfos = st.sampled_from(["", "", "", "", "user@", "user:pw@", "a%40b:p%3Aw@"])
_hosts = st.sampled_from(
    [
        "hooks.example.com",
        "HOOKS.Example.COM",
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[2001:db8::1]",
        "bücher.example",
        "xn--bcher-kva.example",
    ]
)
_ports = st.one_of(
    st.none(),
    st.sampled_from(["443", "80", "8443", "8080", "0", "", "65535", "65536", "abc", "08443"]),
    st.integers(1, 65535).map(str),
)
_odd = [*"aZ09-._~!$'()*+,;=:@/ %?", "&", "é", "👋", "%20", "%2F", "%E2%9C%93", "%zz", "\n"]
_path_text = st.lists(st.sampled_from(_odd), max_size=8).map("".join)
_paths = st.one_of(
    st.sampled_from(["", "/", "/proxy/cb", "/proxy/cb/", "/proxy/cb;v=1"]),
    _path_text.map(lambda text: "/proxy/" + text),
)
_query_text = st.lists(st.sampled_from([c for c in _odd if c != "?"]), max_size=10).map("".join)
_queries = st.one_of(
    st.none(),
    st.sampled_from(["", "x=1", "x=1&y=", "a=b&a=c", "q=a+b%26c"]),
    st.lists(st.tuples(_query_text, _query_text), max_size=3).map(
        lambda pairs: "&".join(f"{name}={value}" for name, value in pairs)
    ),
)
_fragments = st.sampled_from([None, None, None, "", "frag"])
_urls = st.builds(_Url, _schemes, _userinfos, _hosts, _ports, _paths, _queries, _fragments)

_text = st.lists(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(["=", "&", "+", "%", " ", "é"])),
    max_size=8,
).map("".join)
_pairs = st.lists(
    st.tuples(st.one_of(_text, st.sampled_from(["Body", "From", "To"])), _text), max_size=6
)


def _form(pairs: list[tuple[str, str]], as_dict: bool) -> Params:
    names = [name for name, _ in pairs]
    if as_dict and len(set(names)) == len(names):
        return dict(pairs)
    return MultiDict(pairs)


def _signed_variant(data: st.DataObject, url: _Url) -> str:
    """A URL close to ``url``: the same, another port, a cut authority, or a changed part."""
    how = data.draw(
        st.sampled_from(["same", "port", "port", "port", "cut", "scheme", "path", "query"]),
        label="variant",
    )
    if how == "cut":
        return _cut_at_first_colon(str(url)) or str(url)
    if how == "port":
        return str(attrs.evolve(url, port=data.draw(_ports, label="port")))
    if how == "scheme":
        return str(attrs.evolve(url, scheme=data.draw(_schemes, label="scheme")))
    if how == "path":
        return str(attrs.evolve(url, path=data.draw(_paths, label="path")))
    if how == "query":
        return str(attrs.evolve(url, query=data.draw(_queries, label="query")))
    return str(url)


# ---------------------------------------------------------------------- agreement: forms


@settings(max_examples=300, deadline=None)
@given(url=_urls, pairs=_pairs, as_dict=st.booleans(), data=st.data())
def test_form_signatures_agree_with_request_validator(
    url: _Url, pairs: list[tuple[str, str]], as_dict: bool, data: st.DataObject
) -> None:
    params = _form(pairs, as_dict)
    configured = str(url)
    signed = _signed_variant(data, url)
    # Both ways: Twilio signed one URL and the Service is configured with the other.
    _assert_agrees(configured, params, _oracle_sign(signed, params))
    _assert_agrees(signed, params, _oracle_sign(configured, params))
    # compute_signature is RequestValidator.compute_signature: the URL exactly as given.
    assert compute_signature(TOKEN, signed, params) == _oracle_sign(signed, params)


_ISSUE_URL = "https://hooks.example.com:8443/proxy/cb?x=1"


@pytest.mark.parametrize(
    ("configured", "signed", "accepted"),
    [
        # The issue's input: a non-default port the signature left out.
        (_ISSUE_URL, _ISSUE_URL.replace(":8443", ""), True),
        (_ISSUE_URL, _ISSUE_URL, True),
        (_ISSUE_URL, _ISSUE_URL.replace(":8443", ":443"), False),
        (_ISSUE_URL.replace(":8443", ""), _ISSUE_URL, False),
        ("https://hooks.example.com/cb", "https://hooks.example.com:443/cb", True),
        ("https://hooks.example.com:443/cb", "https://hooks.example.com/cb", True),
        ("http://hooks.example.com/cb", "http://hooks.example.com:80/cb", True),
        ("http://hooks.example.com/cb", "http://hooks.example.com:443/cb", False),
        ("https://hooks.example.com/cb", "https://hooks.example.com:80/cb", False),
        ("http://hooks.example.com:8080/cb", "http://hooks.example.com/cb", True),
        ("https://hooks.example.com:8443/cb", "http://hooks.example.com/cb", False),
        ("https://hooks.example.com/cb/", "https://hooks.example.com/cb", False),
        ("https://hooks.example.com/cb", "https://hooks.example.com/cb/", False),
        ("https://hooks.example.com/a%20b", "https://hooks.example.com/a b", False),
        ("https://hooks.example.com/cb?", "https://hooks.example.com/cb", True),
        ("https://hooks.example.com/cb?", "https://hooks.example.com/cb?", False),
        ("HTTPS://hooks.example.com/cb", "https://hooks.example.com/cb", True),
        ("HTTPS://hooks.example.com/cb", "HTTPS://hooks.example.com/cb", False),
        ("https://hooks.example.com:abc/cb", "https://hooks.example.com/cb", False),
        ("https://hooks.example.com:65536/cb", "https://hooks.example.com:65536/cb", False),
        ("https://user@hooks.example.com:8443/cb", "https://user@hooks.example.com/cb", True),
        ("https://[2001:db8::1]/cb", "https://[2001:db8::1]:443/cb", True),
        ("https://[2001:db8::1]:8443/cb", "https://[2001:db8::1]:8443/cb", True),
        # RequestValidator accepts these two; we do not (see the module docstring).
        ("https://[2001:db8::1]:8443/cb", "https://[2001/cb", False),
        ("https://user:pw@hooks.example.com:8443/cb", "https://user/cb", False),
    ],
)
def test_url_variants(configured: str, signed: str, accepted: bool) -> None:
    params = {"interactionSid": "KI" + "0" * 32, "Body": "héllo"}
    assert _assert_agrees(configured, params, _oracle_sign(signed, params)) is accepted


def test_the_two_refused_cuts_are_the_only_disagreement() -> None:
    for configured, cut in [
        ("https://[2001:db8::1]:8443/cb", "https://[2001/cb"),
        ("https://user:pw@hooks.example.com:8443/cb", "https://user/cb"),
    ]:
        signature = _oracle_sign(cut, {})
        assert _oracle_accepts(configured, {}, signature)
        assert not validate_signature(TOKEN, configured, {}, signature)


@pytest.mark.parametrize(
    ("signed_form", "received_form", "accepted"),
    [
        ([("a", "1"), ("a", "1")], [("a", "1")], True),  # a repeated pair counts once
        ([("a", "1")], [("a", "1"), ("a", "1")], True),
        ([("a", "2"), ("a", "1")], [("a", "1"), ("a", "2")], True),  # order is free
        ([("b", ""), ("a", "x")], [("a", "x"), ("b", "")], True),
        ([("a", "1"), ("a", "2")], [("a", "1")], False),
        ([("b", "")], [], False),  # an empty value is still signed
        ([("Body", "👋 é")], [("Body", "👋 e")], False),
    ],
)
def test_form_variants(
    signed_form: list[tuple[str, str]], received_form: list[tuple[str, str]], accepted: bool
) -> None:
    url = "https://hooks.example.com/cb"
    signature = _oracle_sign(url, MultiDict(signed_form))
    assert _assert_agrees(url, MultiDict(received_form), signature) is accepted


# -------------------------------------------------------------------------- tampering


def _tampered(data: st.DataObject, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    how = data.draw(st.sampled_from(["change", "add", "remove"]), label="tamper")
    if how == "add" or not pairs:
        extra = data.draw(st.tuples(_text, _text), label="added")
        at = data.draw(st.integers(0, len(pairs)), label="at")
        return [*pairs[:at], extra, *pairs[at:]]
    index = data.draw(st.integers(0, len(pairs) - 1), label="index")
    if how == "remove":
        return [pair for pair in pairs if pair != pairs[index]]
    name, value = pairs[index]
    new = data.draw(_text.filter(lambda text: text != value), label="value")
    return [*pairs[:index], (name, new), *pairs[index + 1 :]]


@settings(max_examples=200, deadline=None)
@given(url=_urls, pairs=_pairs, data=st.data())
def test_tampered_requests_never_pass(
    url: _Url, pairs: list[tuple[str, str]], data: st.DataObject
) -> None:
    configured = str(url)
    params = MultiDict(pairs)
    signature = _oracle_sign(configured, params)
    tampered = MultiDict(_tampered(data, pairs))
    # Only a change to the set of pairs is a change; and the signed string has no
    # delimiters, so a=bc and ab=c are one string to Twilio: skip those collisions.
    assume(set(tampered.items()) != set(params.items()))
    assume(_oracle_sign(configured, tampered) != signature)
    assert not validate_signature(TOKEN, configured, tampered, signature)
    assert not _oracle_accepts(configured, tampered, signature)

    moved = str(
        attrs.evolve(
            url,
            path=data.draw(_paths.filter(lambda path: path != url.path), label="path"),
        )
    )
    requeried = str(
        attrs.evolve(
            url,
            query=data.draw(_queries.filter(lambda query: query != url.query), label="query"),
        )
    )
    for other in (moved, requeried):
        # A changed path or query is another request, unless urllib reads both the same
        # (an empty "?" or trailing ";" is dropped).
        assume(_as_urllib_reads(other) != _as_urllib_reads(configured))
        assert not validate_signature(TOKEN, other, params, signature)
        assert not _oracle_accepts(other, params, signature)
    from_other_account = _oracle_sign(configured, params, token=OTHER_TOKEN)
    assert not validate_signature(TOKEN, configured, params, from_other_account)


# ------------------------------------------------------------------------- JSON bodies


_bodies = st.one_of(
    st.sampled_from(['{"interactionSid": "KI1"}', "{}", "", '{"b": "\\ud83d"}']),
    st.text(st.characters(codec="utf-8"), max_size=20),
)


@settings(max_examples=200, deadline=None)
@given(url=_urls, body=_bodies, data=st.data())
def test_json_signatures_agree_with_request_validator(
    url: _Url, body: str, data: st.DataObject
) -> None:
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    hashes = data.draw(
        st.sampled_from(
            [
                [digest],
                [digest],
                [digest.upper()],
                [""],
                [],
                [digest, "0" * 64],
                ["0" * 64, digest],
                [hashlib.sha256(b"other").hexdigest()],
            ]
        ),
        label="bodySHA256",
    )
    extra = "&".join(f"bodySHA256={value}" for value in hashes)
    query = extra if not url.query else (f"{url.query}&{extra}" if extra else url.query)
    with_hash = attrs.evolve(url, query=query or None, fragment=None)
    configured = str(with_hash)
    signed = _signed_variant(data, with_hash)
    signature = _oracle_sign(signed, {})
    ours = validate_json_signature(TOKEN, configured, body, signature)
    assert ours == validate_json_signature(TOKEN, configured, body.encode("utf-8"), signature)
    theirs = _oracle_accepts(configured, body, signature)
    if theirs and not ours:
        assert _cut_at_first_colon(configured) is not None
    else:
        assert ours == theirs
    # The request-level helper picks the same check for such a request.
    as_received = validate_request(
        TOKEN, configured, body.encode("utf-8"), signature, content_type="application/json"
    )
    assert as_received == ours


@settings(max_examples=100, deadline=None)
@given(url=_urls, pairs=_pairs, data=st.data())
def test_raw_form_requests_agree_with_request_validator(
    url: _Url, pairs: list[tuple[str, str]], data: st.DataObject
) -> None:
    # A form body as sent, decoded by validate_request, vs the form handed to the oracle.
    params = MultiDict(pairs)
    configured = str(url)  # no bodySHA256 in it: the strategies cannot spell one
    signature = _oracle_sign(_signed_variant(data, url), params)
    body = urlencode(pairs).encode("ascii")
    ours = validate_request(TOKEN, configured, body, signature, content_type=FORM)
    assert ours == _assert_agrees(configured, params, signature)


def test_the_issue_input() -> None:
    configured = _ISSUE_URL
    params = {"interactionSid": "KI" + "1" * 32, "interactionType": "Message"}
    signed_over = "https://hooks.example.com/proxy/cb?x=1"
    signature = RequestValidator(TOKEN).compute_signature(signed_over, params)
    assert RequestValidator(TOKEN).validate(configured, params, signature)
    assert validate_signature(TOKEN, configured, params, signature) is True
    body = urlencode(params).encode("ascii")
    assert validate_request(TOKEN, configured, body, signature, content_type=FORM) is True


# ------------------------------------------------------------------------- bad inputs


_GOOD_URL = "https://hooks.example.com/cb"
_GOOD = _oracle_sign(_GOOD_URL, {})

_CALLS: list[Callable[[object], object]] = [
    lambda url: validate_signature(TOKEN, url, {}, _GOOD),  # type: ignore[arg-type]
    lambda url: validate_signature(TOKEN, url, {}, None),  # type: ignore[arg-type]
    lambda url: validate_json_signature(TOKEN, url, b"", _GOOD),  # type: ignore[arg-type]
    lambda url: validate_request(TOKEN, url, b"", None, content_type=FORM),  # type: ignore[arg-type]
    lambda url: compute_signature(TOKEN, url, {}),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("url", [None, b"https://hooks.example.com/cb", 5, ["x"]])
@pytest.mark.parametrize("call", _CALLS)
def test_a_url_that_is_not_a_str_is_a_programming_error(
    call: Callable[[object], object], url: object
) -> None:
    with pytest.raises(InvalidParameterError, match="url") as info:
        call(url)
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)


@pytest.mark.parametrize(
    "params", ["interactionSid=KI1", b"a=1", [("a", "1")], None, {"a": 1}, {"a": [None]}]
)
def test_a_form_that_is_not_a_mapping_of_text_is_a_programming_error(params: object) -> None:
    # Whatever the signature: a missing one must not hide the bug.
    for signature in (_GOOD, None):
        with pytest.raises(InvalidParameterError, match="params"):
            validate_signature(TOKEN, _GOOD_URL, params, signature)  # type: ignore[arg-type]


@pytest.mark.parametrize("body", [None, 5, bytearray(b"{}"), {"a": 1}])
def test_a_json_body_that_is_not_bytes_or_str_is_a_programming_error(body: object) -> None:
    with pytest.raises(InvalidParameterError, match="body"):
        validate_json_signature(TOKEN, _GOOD_URL, body, _GOOD)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "signature",
    [None, "", b"x", _GOOD.encode(), 5, " " + _GOOD, _GOOD + "\n", _GOOD.lower(), "é" * 28],
)
def test_a_missing_or_garbled_signature_is_false(signature: object) -> None:
    assert validate_signature(TOKEN, _GOOD_URL, {}, _GOOD) is True
    assert validate_signature(TOKEN, _GOOD_URL, {}, signature) is False  # type: ignore[arg-type]
    assert validate_json_signature(TOKEN, _GOOD_URL, b"", signature) is False  # type: ignore[arg-type]
    received = validate_request(TOKEN, _GOOD_URL, b"", signature, content_type=FORM)  # type: ignore[arg-type]
    assert received is False


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com:abc/cb",
        "https://hooks.example.com:99999/cb",
        "https://[::1/cb",
        "https://hooks.example.com/cb\udc80",
        "",
        "not a url",
    ],
)
def test_a_url_twilio_cannot_have_called_is_false_not_an_error(url: str) -> None:
    signature = _oracle_sign("https://hooks.example.com/cb", {})
    assert validate_signature(TOKEN, url, {}, signature) is False
    assert validate_json_signature(TOKEN, url, b"", signature) is False
    assert validate_request(TOKEN, url, b"", signature, content_type=FORM) is False
    assert not _oracle_accepts(url, {}, signature)


def test_text_twilio_cannot_have_signed_is_false() -> None:
    lone = {"Body": "see you \ud83d"}
    with pytest.raises(UnicodeEncodeError):  # the oracle cannot sign or check it either
        RequestValidator(TOKEN).validate(_GOOD_URL, lone, _GOOD)
    assert validate_signature(TOKEN, _GOOD_URL, lone, _GOOD) is False
    assert validate_json_signature(TOKEN, _GOOD_URL, "see you \ud83d", _GOOD) is False


def test_huge_inputs_are_checked_in_linear_time() -> None:
    url = "https://hooks.example.com/cb?q=" + "a" * 2_000_000
    params = {"Body": "é" * 1_000_000, "To": "+15005550006"}
    signature = _oracle_sign(url, params)
    started = time.perf_counter()
    assert validate_signature(TOKEN, url, params, signature) is True
    assert validate_signature(TOKEN, url, {**params, "To": "+15005550007"}, signature) is False
    assert validate_signature(TOKEN, url, params, "A" * 10_000_000) is False
    assert time.perf_counter() - started < 5

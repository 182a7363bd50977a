"""Webhook signatures by agreement with twilio-python's ``RequestValidator`` as the oracle.

twilio (test extra only) signs each generated request; our validators must accept exactly
when ``RequestValidator.validate`` does. The one documented difference (see
``proxy_async.webhooks.signing.url_variants``): for an authority with a ``:`` before its port
(``user:pw@host:8443``, ``[::1]:8443``) RequestValidator also accepts a signature over the
authority cut at its first ``:`` (``https://user/...``); we refuse that one, so we never
accept what the oracle refuses.

Both of twilio 9.13's algorithms are covered (HMAC-SHA1 with the Auth Token, HMAC-SHA256
as a Webhook Rule's SharedKey signs), named in any case or not at all, and so is its
reading of the ``X-Twilio-Webhooks-Signature-Settings`` header (``get_signature_algorithm``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeAlias
from urllib.parse import urlencode, urlparse

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from multidict import MultiDict
from twilio.request_validator import (  # type: ignore[import-untyped]
    RequestValidator,
    get_signature_algorithm,
)

from proxy_async.errors import InvalidParameterError
from proxy_async.webhooks import (
    HMAC_SHA1,
    HMAC_SHA256,
    compute_signature,
    signature_algorithm,
    validate_json_signature,
    validate_request,
    validate_signature,
)

TOKEN = "5f1a8c0d9e2b4a6c8e0f1a3b5c7d9e1f"
OTHER_TOKEN = "5f1a8c0d9e2b4a6c8e0f1a3b5c7d9e10"
FORM = "application/x-www-form-urlencoded"

Params: TypeAlias = "MultiDict[str] | dict[str, str]"


def _oracle_sign(
    url: str, params: Params | dict[str, Any], token: str = TOKEN, algorithm: str = HMAC_SHA1
) -> str:
    signature: str = RequestValidator(token).compute_signature(url, params, algorithm)
    return signature


def _oracle_accepts(
    url: str, params: Params | str, signature: str, algorithm: str = HMAC_SHA1
) -> bool:
    """RequestValidator.validate; an exception (what it does with input it cannot read) is no."""
    try:
        return bool(RequestValidator(TOKEN).validate(url, params, signature, algorithm))
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


def _assert_agrees(
    configured: str, params: Params, signature: str, algorithm: str = HMAC_SHA1
) -> bool:
    ours = validate_signature(TOKEN, configured, params, signature, algorithm=algorithm)
    theirs = _oracle_accepts(configured, params, signature, algorithm)
    if theirs and not ours:
        # The documented difference, and nothing else.
        cut = _cut_at_first_colon(configured)
        assert cut is not None
        assert _oracle_sign(cut, params, algorithm=algorithm) == signature
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


_KNOWN = [HMAC_SHA1, HMAC_SHA256, "hmac_sha256", "Hmac_Sha1", ""]
# Names twilio 9.13 refuses (it logs a warning and returns False; compute raises).
_UNKNOWN = ["HMAC_SHA512", "sha256", "HMAC-SHA256", "HMAC_SHA256 ", "RSA"]
_signers = st.sampled_from([HMAC_SHA1, HMAC_SHA256])


def _claimed(data: st.DataObject, signer: str) -> str:
    """The algorithm a request names: mostly the signer's, in some case; or any other."""
    same = [name for name in _KNOWN if name.upper() == signer or (not name and signer == HMAC_SHA1)]
    return data.draw(
        st.one_of(st.sampled_from(same), st.sampled_from(_KNOWN + _UNKNOWN)), label="algorithm"
    )


def _settings_header(data: st.DataObject, algorithm: str) -> str | None:
    """An X-Twilio-Webhooks-Signature-Settings value naming ``algorithm`` as Twilio's does."""
    if algorithm in ("", HMAC_SHA1) and data.draw(st.booleans(), label="no header"):
        return None
    parts = ["key=webhooks_sharedkey_01", f"algorithm={algorithm}"]
    if data.draw(st.booleans(), label="reversed"):
        parts.reverse()
    return data.draw(st.sampled_from([",", ", ", " , "]), label="comma").join(parts)


# ---------------------------------------------------------------------- agreement: forms


@settings(max_examples=300, deadline=None)
@given(url=_urls, pairs=_pairs, as_dict=st.booleans(), signer=_signers, data=st.data())
def test_form_signatures_agree_with_request_validator(
    url: _Url, pairs: list[tuple[str, str]], as_dict: bool, signer: str, data: st.DataObject
) -> None:
    params = _form(pairs, as_dict)
    configured = str(url)
    signed = _signed_variant(data, url)
    claimed = _claimed(data, signer)
    # Both ways: Twilio signed one URL and the Service is configured with the other.
    _assert_agrees(configured, params, _oracle_sign(signed, params, algorithm=signer), claimed)
    _assert_agrees(signed, params, _oracle_sign(configured, params, algorithm=signer), claimed)
    # compute_signature is RequestValidator.compute_signature: the URL exactly as given.
    if claimed in _KNOWN:
        ours = compute_signature(TOKEN, signed, params, algorithm=claimed)
        assert ours == _oracle_sign(signed, params, algorithm=claimed)
    else:
        with pytest.raises(ValueError, match="Unsupported"):
            _oracle_sign(signed, params, algorithm=claimed)
        with pytest.raises(InvalidParameterError, match="algorithm"):
            compute_signature(TOKEN, signed, params, algorithm=claimed)


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
@given(url=_urls, body=_bodies, signer=_signers, data=st.data())
def test_json_signatures_agree_with_request_validator(
    url: _Url, body: str, signer: str, data: st.DataObject
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
    signature = _oracle_sign(signed, {}, algorithm=signer)
    claimed = _claimed(data, signer)
    ours = validate_json_signature(TOKEN, configured, body, signature, algorithm=claimed)
    raw = body.encode("utf-8")
    assert ours == validate_json_signature(TOKEN, configured, raw, signature, algorithm=claimed)
    theirs = _oracle_accepts(configured, body, signature, claimed)
    if theirs and not ours:
        assert _cut_at_first_colon(configured) is not None
    else:
        assert ours == theirs
    # The request-level helper picks the same check for such a request, the algorithm
    # read from the settings header (which strips what a direct caller's name keeps).
    header = _settings_header(data, claimed)
    as_received = validate_request(
        TOKEN,
        configured,
        raw,
        signature,
        content_type="application/json",
        signature_settings=header,
    )
    from_header = get_signature_algorithm(header)
    assert as_received == validate_json_signature(
        TOKEN, configured, raw, signature, algorithm=from_header
    )
    if from_header == claimed:
        assert as_received == ours


@settings(max_examples=100, deadline=None)
@given(url=_urls, pairs=_pairs, signer=_signers, data=st.data())
def test_raw_form_requests_agree_with_request_validator(
    url: _Url, pairs: list[tuple[str, str]], signer: str, data: st.DataObject
) -> None:
    # A form body as sent, decoded by validate_request, vs the form handed to the oracle.
    params = MultiDict(pairs)
    configured = str(url)  # no bodySHA256 in it: the strategies cannot spell one
    signature = _oracle_sign(_signed_variant(data, url), params, algorithm=signer)
    claimed = _claimed(data, signer)
    header = _settings_header(data, claimed)
    body = urlencode(pairs).encode("ascii")
    ours = validate_request(
        TOKEN, configured, body, signature, content_type=FORM, signature_settings=header
    )
    assert ours == _assert_agrees(configured, params, signature, get_signature_algorithm(header))


# ------------------------------------------------------------ signature settings header

_header_parts = st.one_of(
    st.sampled_from(
        [
            "key=webhooks_sharedkey_01",
            "algorithm=HMAC_SHA256",
            "algorithm=hmac_sha1",
            " algorithm = HMAC_SHA256 ",
            "algorithm=",
            "algorithm= ",
            "algorithm",
            "Algorithm=HMAC_SHA256",
            "algorithm==HMAC_SHA256",
            "algorithm=HMAC_SHA256=x",
            "algorithm=\xa0HMAC_SHA256\t",
            "key=a=b",
            "=",
            "",
            " ",
        ]
    ),
    st.text(st.sampled_from("algorithm=HMAC_SHA256 ,\t\xa0k;"), max_size=14),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(
    header=st.one_of(
        st.none(),
        st.lists(_header_parts, max_size=5).flatmap(
            lambda parts: st.sampled_from([",", ", ", ";"]).map(lambda comma: comma.join(parts))
        ),
    )
)
def test_settings_header_parsing_agrees_with_get_signature_algorithm(header: str | None) -> None:
    assert signature_algorithm(header) == get_signature_algorithm(header)


@pytest.mark.parametrize(
    ("header", "algorithm"),
    [
        (None, HMAC_SHA1),
        ("", HMAC_SHA1),
        ("key=webhooks_sharedkey_01", HMAC_SHA1),
        ("key=webhooks_sharedkey_01,algorithm=HMAC_SHA256", HMAC_SHA256),
        ("algorithm=HMAC_SHA256, key=webhooks_sharedkey_01", HMAC_SHA256),
        (" algorithm = hmac_sha256 ", "hmac_sha256"),  # as sent; validators ignore case
        ("algorithm=,algorithm=HMAC_SHA256", HMAC_SHA256),  # the first non-empty one
        ("algorithm=HMAC_SHA512,algorithm=HMAC_SHA256", "HMAC_SHA512"),
        ("Algorithm=HMAC_SHA256", HMAC_SHA1),  # the name is case-sensitive
        ("algorithm;HMAC_SHA256", HMAC_SHA1),
    ],
)
def test_settings_header_examples(header: str | None, algorithm: str) -> None:
    assert signature_algorithm(header) == algorithm == get_signature_algorithm(header)


# ------------------------------------------------------------------- which secret checks

SHARED = "sk_" + "7" * 40  # a SharedKey secret
_FORM_PARAMS = {"interactionSid": "KI" + "2" * 32, "Body": "héllo"}
_FORM_BODY = urlencode(_FORM_PARAMS).encode("utf-8")
_WITH_KEY_256 = "key=webhooks_sharedkey_01,algorithm=HMAC_SHA256"
_WITH_KEY_1 = "key=webhooks_sharedkey_01,algorithm=HMAC_SHA1"


def _signed(secret: str, algorithm: str) -> str:
    return _oracle_sign(_GOOD_URL, _FORM_PARAMS, token=secret, algorithm=algorithm)


@pytest.mark.parametrize(
    ("auth_token", "shared_key", "header", "signed_with", "accepted"),
    [
        # Only the Auth Token: it checks every request, with the header's algorithm,
        # as RequestValidator(auth_token).validate(..., get_signature_algorithm(header)).
        (TOKEN, None, None, (TOKEN, HMAC_SHA1), True),
        (TOKEN, None, _WITH_KEY_256, (TOKEN, HMAC_SHA256), True),
        (TOKEN, None, _WITH_KEY_256, (TOKEN, HMAC_SHA1), False),  # not the named algorithm
        (TOKEN, None, None, (TOKEN, HMAC_SHA256), False),
        (TOKEN, None, _WITH_KEY_256, (SHARED, HMAC_SHA256), False),
        # Both: the header's presence picks the secret, and only that one is tried.
        (TOKEN, SHARED, _WITH_KEY_256, (SHARED, HMAC_SHA256), True),
        (TOKEN, SHARED, _WITH_KEY_256, (TOKEN, HMAC_SHA256), False),
        (TOKEN, SHARED, None, (TOKEN, HMAC_SHA1), True),
        (TOKEN, SHARED, None, (SHARED, HMAC_SHA1), False),
        (TOKEN, SHARED, None, (SHARED, HMAC_SHA256), False),
        (TOKEN, SHARED, "", (TOKEN, HMAC_SHA1), True),  # an empty header is no header
        (TOKEN, SHARED, _WITH_KEY_1, (SHARED, HMAC_SHA1), True),  # a Setting may name SHA1
        (TOKEN, SHARED, _WITH_KEY_1, (TOKEN, HMAC_SHA1), False),
        (TOKEN, SHARED, "key=webhooks_sharedkey_01", (SHARED, HMAC_SHA1), True),
        # Only the SharedKey: a request without the header is refused, whoever signed it.
        (None, SHARED, _WITH_KEY_256, (SHARED, HMAC_SHA256), True),
        (None, SHARED, None, (SHARED, HMAC_SHA1), False),
        (None, SHARED, None, (TOKEN, HMAC_SHA1), False),
        (None, SHARED, _WITH_KEY_256, (SHARED, HMAC_SHA1), False),
        # An unknown algorithm is refused, whatever was signed.
        (TOKEN, SHARED, "algorithm=HMAC_SHA512", (SHARED, HMAC_SHA256), False),
        (TOKEN, None, "algorithm=HMAC_SHA512", (TOKEN, HMAC_SHA1), False),
    ],
)
def test_validate_request_picks_the_secret_by_the_settings_header(
    auth_token: str | None,
    shared_key: str | None,
    header: str | None,
    signed_with: tuple[str, str],
    accepted: bool,
) -> None:
    signature = _signed(*signed_with)
    result = validate_request(
        auth_token,
        _GOOD_URL,
        _FORM_BODY,
        signature,
        content_type=FORM,
        signature_settings=header,
        shared_key=shared_key,
    )
    assert result is accepted
    # The oracle: Twilio's documented choice (the SharedKey secret when the header is
    # there, else the Auth Token), checked by RequestValidator with the header's algorithm.
    secret = shared_key if shared_key is not None and header else auth_token
    algorithm = get_signature_algorithm(header)
    oracle = secret is not None and RequestValidator(secret).validate(
        _GOOD_URL, _FORM_PARAMS, signature, algorithm
    )
    assert oracle is accepted


def test_an_unknown_algorithm_is_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hostile = "HMAC_SHA512\n" + "x" * 500 + SHARED
    signature = _signed(SHARED, HMAC_SHA256)
    header = f"key=webhooks_sharedkey_01,algorithm={hostile}"
    assert not validate_request(
        TOKEN,
        _GOOD_URL,
        _FORM_BODY,
        signature,
        content_type=FORM,
        signature_settings=header,
        shared_key=SHARED,
    )
    [record] = [r for r in caplog.records if r.name == "proxy_async"]
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    assert "'HMAC_SHA512\\n" in message  # repr: the newline cannot forge a log line
    assert "\n" not in message
    for secret in (TOKEN, SHARED, "x" * 40):
        assert secret not in message
    assert _GOOD_URL not in message
    assert signature not in message
    # A request without a usable signature is refused before the algorithm matters.
    caplog.clear()
    assert not validate_signature(TOKEN, _GOOD_URL, {}, None, algorithm="HMAC_SHA512")
    assert not [r for r in caplog.records if r.name == "proxy_async"]


def test_sha256_signature_of_a_json_body_through_validate_request() -> None:
    body = b'{"interactionSid": "KI1"}'
    url = f"{_GOOD_URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = _oracle_sign(url, {}, token=SHARED, algorithm=HMAC_SHA256)
    assert RequestValidator(SHARED).validate(url, body.decode(), signature, HMAC_SHA256)
    common: dict[str, Any] = {"content_type": "application/json", "shared_key": SHARED}
    assert validate_request(TOKEN, url, body, signature, signature_settings=_WITH_KEY_256, **common)
    assert not validate_request(TOKEN, url, body, signature, **common)
    assert not validate_request(
        TOKEN, url, b"{}", signature, signature_settings=_WITH_KEY_256, **common
    )


@pytest.mark.parametrize("algorithm", [None, b"HMAC_SHA256", 256, ["HMAC_SHA1"]])
def test_an_algorithm_that_is_not_a_str_is_a_programming_error(algorithm: object) -> None:
    calls: list[Callable[[], object]] = [
        lambda: validate_signature(TOKEN, _GOOD_URL, {}, _GOOD, algorithm=algorithm),  # type: ignore[arg-type]
        lambda: validate_signature(TOKEN, _GOOD_URL, {}, None, algorithm=algorithm),  # type: ignore[arg-type]
        lambda: validate_json_signature(TOKEN, _GOOD_URL, b"", _GOOD, algorithm=algorithm),  # type: ignore[arg-type]
        lambda: compute_signature(TOKEN, _GOOD_URL, {}, algorithm=algorithm),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidParameterError, match="algorithm"):
            call()


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"auth_token": None}, "auth_token"),
        ({"shared_key": b"sk"}, "shared_key"),
        ({"shared_key": "sk\udc80"}, "shared_key"),
        ({"auth_token": 5, "shared_key": SHARED}, "auth_token"),
        ({"signature_settings": b"algorithm=HMAC_SHA256"}, "signature_settings"),
    ],
)
def test_bad_secrets_or_header_values_are_programming_errors(
    changes: dict[str, Any], parameter: str
) -> None:
    arguments: dict[str, Any] = {"auth_token": TOKEN, **changes}
    auth_token = arguments.pop("auth_token")
    for signature in (_GOOD, None):  # a missing signature must not hide the bug
        with pytest.raises(InvalidParameterError, match=parameter) as info:
            validate_request(auth_token, _GOOD_URL, b"", signature, content_type=FORM, **arguments)
        assert TOKEN not in str(info.value)
        assert SHARED not in str(info.value)


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

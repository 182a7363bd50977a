"""Tests for proxy_async.webhooks: X-Twilio-Signature checks and Proxy callback parsing.

Expected signatures are computed here with hmac/hashlib/base64 directly from the
documented algorithm, never with the module's own compute_signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import attrs
import pytest
from aiohttp import test_utils, web
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from proxy_async.errors import InvalidCallbackError, InvalidParameterError, ProxyError
from proxy_async.models.enums import InteractionType, ResourceStatus, SessionMode, SessionStatus
from proxy_async.models.records import Interaction
from proxy_async.webhooks import (
    SIGNATURE_HEADER,
    OutOfSessionCallback,
    OutOfSessionParticipant,
    ProxyCallback,
    asgi_request_url,
    compute_signature,
    parse_callback,
    parse_out_of_session_callback,
    validate_json_signature,
    validate_request,
    validate_signature,
    verify_request,
)

TOKEN = "f3a9c1d2e4b5a6978877665544332211"
OTHER_TOKEN = "00000000000000000000000000000000"
FORM = "application/x-www-form-urlencoded"


def _sig(token: str, signed: str) -> str:
    """Twilio's algorithm, straight from the docs: base64(HMAC-SHA1(token, string))."""
    digest = hmac.new(token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _canonical(url: str, params: Mapping[str, str | Sequence[str]]) -> str:
    """URL, then each name and value: names sorted, a name's distinct values sorted."""
    text = url
    for name in sorted(params):
        raw = params[name]
        for value in sorted({raw} if isinstance(raw, str) else set(raw)):
            text += name + value
    return text


def _sid(prefix: str, n: int) -> str:
    return f"{prefix}{n:032x}"


# ------------------------------------------------------------------ signature vectors


def test_published_form_vector() -> None:
    # The reference vector of Twilio's helper libraries' own test suites.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
        "Caller": "+14158675309",
    }
    assert validate_signature("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert compute_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_published_json_vector() -> None:
    body = '{"property": "value", "boolean": true}'
    url = (
        "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    )
    assert validate_json_signature("12345", url, body, "a9nBmqA0ju/hNViExpshrM61xv4=")
    assert validate_json_signature("12345", url, body.encode(), "a9nBmqA0ju/hNViExpshrM61xv4=")


def test_known_form_with_several_params() -> None:
    url = "https://example.com/proxy/callback"
    ki, kc = _sid("KI", 1), _sid("KC", 2)
    params = {
        "interactionType": "Message",
        "interactionSid": ki,
        "interactionData": '{"body": "hi"}',
        "interactionSessionSid": kc,
        "inboundResourceStatus": "",
    }
    # Written out by hand: names in byte order, empty values still count.
    signed = (
        url
        + "inboundResourceStatus"
        + "interactionData"
        + '{"body": "hi"}'
        + "interactionSessionSid"
        + kc
        + "interactionSid"
        + ki
        + "interactionType"
        + "Message"
    )
    signature = _sig(TOKEN, signed)
    assert validate_signature(TOKEN, url, params, signature)
    assert compute_signature(TOKEN, url, params) == signature


def test_names_sort_case_sensitively() -> None:
    url = "https://example.com/cb"
    params = {"b": "1", "B": "2", "a": "3", "_": "4"}
    signature = _sig(TOKEN, url + "B2" + "_4" + "a3" + "b1")
    assert validate_signature(TOKEN, url, params, signature)


def test_repeated_values_are_appended_once_each_in_sorted_order() -> None:
    # twilio-python's RequestValidator signs sorted(set(values)): a pair repeated
    # verbatim counts once (tests/webhooks/test_webhook_oracle.py checks the agreement).
    url = "https://example.com/cb"
    signature = _sig(TOKEN, url + "ax" + "b1" + "b10" + "b2")
    as_list: dict[str, str | list[str]] = {"b": ["2", "10", "2", "1"], "a": "x"}
    as_tuple: dict[str, str | tuple[str, ...]] = {"b": ("10", "2", "1", "2"), "a": "x"}
    as_multidict = MultiDict([("b", "2"), ("a", "x"), ("b", "1"), ("b", "2"), ("b", "10")])
    assert validate_signature(TOKEN, url, as_list, signature)
    assert validate_signature(TOKEN, url, as_tuple, signature)
    assert validate_signature(TOKEN, url, as_multidict, signature)
    assert compute_signature(TOKEN, url, as_multidict) == signature
    assert validate_signature(TOKEN, url, {"b": ["1", "10", "2"], "a": "x"}, signature)
    # Dropping a distinct value, or keeping only the first, is a different request.
    assert not validate_signature(TOKEN, url, {"b": ["1", "2"], "a": "x"}, signature)
    assert not validate_signature(TOKEN, url, {"b": "2", "a": "x"}, signature)
    assert not validate_signature(
        TOKEN, url, {"b": ["2", "10", "2", "1"], "a": "x"}, _sig(TOKEN, url + "axb1b10b2b2")
    )


def test_unicode_values_and_names() -> None:
    url = "https://example.com/cb"
    params = {"Body": "héllo 👋 世界", "Ñame": "ü"}
    signature = _sig(TOKEN, url + "Bodyhéllo 👋 世界" + "Ñameü")
    assert validate_signature(TOKEN, url, params, signature)
    assert not validate_signature(TOKEN, url, {"Body": "hello 👋 世界", "Ñame": "ü"}, signature)


def test_url_with_query_string() -> None:
    url = "https://example.com/cb?tenant=acme&x=a%20b"
    params = {"interactionSid": _sid("KI", 9)}
    signature = _sig(TOKEN, url + "interactionSid" + _sid("KI", 9))
    assert validate_signature(TOKEN, url, params, signature)
    assert not validate_signature(TOKEN, "https://example.com/cb?tenant=acme", params, signature)
    assert not validate_signature(
        TOKEN, "https://example.com/cb?x=a%20b&tenant=acme", params, signature
    )


@pytest.mark.parametrize(
    ("signed_url", "checked_url"),
    [
        ("https://example.com:443/cb?a=1", "https://example.com/cb?a=1"),
        ("https://example.com/cb?a=1", "https://example.com:443/cb?a=1"),
        ("http://example.com:80/cb", "http://example.com/cb"),
        ("http://example.com/cb", "http://example.com:80/cb"),
        ("https://user:pw@example.com:443/cb", "https://user:pw@example.com/cb"),
        ("https://[2001:db8::1]:443/cb", "https://[2001:db8::1]/cb"),
        # A configured non-default port may be left out of the signed URL.
        ("https://example.com/cb", "https://example.com:8443/cb"),
        ("http://example.com/cb", "http://example.com:443/cb"),
        ("https://user@example.com/cb", "https://user@example.com:8443/cb"),
    ],
)
def test_port_variants_twilio_python_accepts(signed_url: str, checked_url: str) -> None:
    params = {"interactionSid": _sid("KI", 3)}
    signature = _sig(TOKEN, signed_url + "interactionSid" + _sid("KI", 3))
    assert validate_signature(TOKEN, checked_url, params, signature)
    assert validate_signature(TOKEN, signed_url, params, signature)


@pytest.mark.parametrize(
    ("signed_url", "checked_url"),
    [
        # A port is never added to a configured URL except the scheme's default.
        ("https://example.com:8443/cb", "https://example.com/cb"),
        ("http://example.com:443/cb", "http://example.com/cb"),
        ("https://example.com:80/cb", "https://example.com/cb"),
        ("https://example.com:8443/cb", "https://example.com:9443/cb"),
        ("http://example.com/cb", "https://example.com/cb"),
        # An authority with a ":" before the port keeps its port (see _url_variants).
        ("https://[2001:db8::1]/cb", "https://[2001:db8::1]:443/cb"),
        ("https://user:pw@example.com/cb", "https://user:pw@example.com:8443/cb"),
        ("https://user/cb", "https://user:pw@example.com:8443/cb"),
        ("https://[/cb", "https://[2001:db8::1]:8443/cb"),
    ],
)
def test_other_ports_and_schemes_are_refused(signed_url: str, checked_url: str) -> None:
    signature = _sig(TOKEN, signed_url)
    assert not validate_signature(TOKEN, checked_url, {}, signature)


def test_json_body_with_body_sha256() -> None:
    body = b'{"interactionSid": "KI1", "note": "caf\xc3\xa9"}'
    digest = hashlib.sha256(body).hexdigest()
    url = f"https://example.com/cb?tenant=acme&bodySHA256={digest}"
    signature = _sig(TOKEN, url)  # the URL alone: the body is covered by its digest
    assert validate_json_signature(TOKEN, url, body, signature)
    assert validate_json_signature(TOKEN, url, body.decode("utf-8"), signature)
    assert validate_json_signature(
        TOKEN, url.replace("example.com", "example.com:443"), body, signature
    )
    # Twilio sends the digest in lowercase; RequestValidator compares it exactly.
    upper = f"https://example.com/cb?tenant=acme&bodySHA256={digest.upper()}"
    assert not validate_json_signature(TOKEN, upper, body, _sig(TOKEN, upper))


def test_json_body_tampered_or_wrong_digest() -> None:
    body = b'{"a": 1}'
    url = f"https://example.com/cb?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = _sig(TOKEN, url)
    assert not validate_json_signature(TOKEN, url, b'{"a": 2}', signature)
    wrong = f"https://example.com/cb?bodySHA256={hashlib.sha256(b'other').hexdigest()}"
    assert not validate_json_signature(TOKEN, wrong, body, _sig(TOKEN, wrong))
    not_hex = "https://example.com/cb?bodySHA256=zz"
    assert not validate_json_signature(TOKEN, not_hex, body, _sig(TOKEN, not_hex))


def test_json_body_needs_a_non_empty_body_sha256() -> None:
    body = b"{}"
    digest = hashlib.sha256(body).hexdigest()
    other = hashlib.sha256(b"[]").hexdigest()
    for unvouched in (
        "https://example.com/cb",
        "https://example.com/cb?bodySHA256=",
        f"https://example.com/cb#bodySHA256={digest}",
    ):
        assert not validate_json_signature(TOKEN, unvouched, body, _sig(TOKEN, unvouched))
        # An empty body needs nothing to vouch for it: the signed URL is the request.
        assert validate_json_signature(TOKEN, unvouched, b"", _sig(TOKEN, unvouched))
    # The whole URL is signed, both values included; the first is the body's digest.
    twice = f"https://example.com/cb?bodySHA256={digest}&bodySHA256={other}"
    assert validate_json_signature(TOKEN, twice, body, _sig(TOKEN, twice))
    swapped = f"https://example.com/cb?bodySHA256={other}&bodySHA256={digest}"
    assert not validate_json_signature(TOKEN, swapped, body, _sig(TOKEN, swapped))


# --------------------------------------------------------------------- negative cases

_URL = "https://example.com/proxy/callback"
_PARAMS = {"interactionSid": _sid("KI", 5), "interactionType": "Voice", "interactionData": ""}
_GOOD = _sig(TOKEN, _canonical(_URL, _PARAMS))


def test_good_signature_sanity() -> None:
    assert validate_signature(TOKEN, _URL, _PARAMS, _GOOD)


@pytest.mark.parametrize(
    "params",
    [
        {**_PARAMS, "interactionType": "voice"},  # tampered value
        {**_PARAMS, "interactionData": " "},  # an empty value is part of the signature
        {**_PARAMS, "extra": "1"},  # added parameter
        {k: v for k, v in _PARAMS.items() if k != "interactionData"},  # removed parameter
        {"interactionsid": _sid("KI", 5), "interactionType": "Voice", "interactionData": ""},
    ],
)
def test_tampered_params_fail(params: dict[str, str]) -> None:
    assert not validate_signature(TOKEN, _URL, params, _GOOD)


def test_wrong_token_fails() -> None:
    assert not validate_signature(OTHER_TOKEN, _URL, _PARAMS, _GOOD)
    assert not validate_signature(
        TOKEN, _URL, _PARAMS, _sig(OTHER_TOKEN, _canonical(_URL, _PARAMS))
    )


@pytest.mark.parametrize("signature", [None, "", "not-base64", _GOOD[:-1], _GOOD + "=", "é" * 28])
def test_missing_empty_or_malformed_signature_is_false(signature: str | None) -> None:
    assert validate_signature(TOKEN, _URL, _PARAMS, signature) is False
    assert validate_json_signature(TOKEN, _URL + "?bodySHA256=00", b"", signature) is False


def test_empty_token_is_false_not_an_error() -> None:
    assert validate_signature("", _URL, _PARAMS, _GOOD) is False
    assert validate_json_signature("", _URL, b"", _GOOD) is False
    with pytest.raises(InvalidParameterError, match="auth_token"):
        compute_signature("", _URL, _PARAMS)


@pytest.mark.parametrize(
    "other_url",
    [
        "https://example.com/proxy/intercept",
        "https://example.com/proxy/callback/",
        "https://example.com/proxy/callback?x=1",
        "https://attacker.example/proxy/callback",
        "http://example.com/proxy/callback",
    ],
)
def test_signature_replayed_on_another_url_fails(other_url: str) -> None:
    assert not validate_signature(TOKEN, other_url, _PARAMS, _GOOD)


def test_text_twilio_cannot_have_signed_is_false() -> None:
    lone_surrogate = {"Body": "\udc80"}
    assert validate_signature(TOKEN, _URL, lone_surrogate, _GOOD) is False
    assert validate_signature(TOKEN, _URL + "\ud800", {}, _GOOD) is False
    with pytest.raises(InvalidParameterError):
        compute_signature(TOKEN, _URL, lone_surrogate)


@pytest.mark.parametrize(
    "params",
    [{"Body": 5}, {"Body": b"bytes"}, {"Body": [1]}, {"Body": None}, {1: "x"}],
)
def test_params_of_the_wrong_type_raise(params: object) -> None:
    with pytest.raises(InvalidParameterError):
        validate_signature(TOKEN, _URL, params, _GOOD)  # type: ignore[arg-type]


def test_token_never_appears_in_errors() -> None:
    secret = "s3cr3t-token-\udc80-value"
    errors: list[BaseException] = []
    for call in (
        lambda: validate_signature(secret, _URL, _PARAMS, _GOOD),
        lambda: compute_signature(secret, _URL, _PARAMS),
        lambda: compute_signature(TOKEN + "x", _URL, {"Body": "\udc80"}),
        lambda: validate_signature(secret.encode("utf-8", "surrogateescape"), _URL, {}, _GOOD),  # type: ignore[arg-type]
        lambda: validate_signature(TOKEN + "x", _URL, {"Body": 5}, _GOOD),  # type: ignore[dict-item]
    ):
        with pytest.raises(ProxyError) as info:
            call()
        errors.append(info.value)
    for error in errors:
        # Walk the chain too: a UnicodeEncodeError would hold the whole token in .object.
        link: BaseException | None = error
        while link is not None:
            seen = (str(link), repr(link), repr(link.args), repr(getattr(link, "object", "")))
            for text in seen:
                assert "s3cr3t" not in text
                assert TOKEN not in text
            link = link.__cause__ or link.__context__


# ---------------------------------------------------------------- hypothesis property

_names = st.text(min_size=1, max_size=8)
_value = st.text(max_size=12)
_values = st.one_of(_value, st.lists(_value, min_size=1, max_size=3))
_urls = st.sampled_from(
    [
        "https://example.com/cb",
        "https://example.com:443/cb?x=1",
        "http://127.0.0.1:8080/hook?a=b&c=",
        "https://[::1]/p",
    ]
)


@settings(deadline=None, max_examples=150)
@given(
    params=st.dictionaries(_names, _values, min_size=1, max_size=6),
    url=_urls,
    data=st.data(),
)
def test_property_signature_validates_and_any_one_char_change_breaks_it(
    params: dict[str, str | list[str]], url: str, data: st.DataObject
) -> None:
    signed = _canonical(url, params)
    signature = _sig(TOKEN, signed)
    assert validate_signature(TOKEN, url, params, signature)
    assert compute_signature(TOKEN, url, params) == signature

    slots = [
        (name, index)
        for name, raw in params.items()
        for index in range(1 if isinstance(raw, str) else len(raw))
    ]
    name, index = data.draw(st.sampled_from(slots), label="value")
    raw = params[name]
    old = raw if isinstance(raw, str) else raw[index]
    edits = ["insert", "replace", "delete"] if old else ["insert"]
    edit = data.draw(st.sampled_from(edits), label="edit")
    if edit == "insert":
        at = data.draw(st.integers(0, len(old)), label="at")
        new = old[:at] + data.draw(st.characters(), label="char") + old[at:]
    else:
        at = data.draw(st.integers(0, len(old) - 1), label="at")
        if edit == "delete":
            new = old[:at] + old[at + 1 :]
        else:
            char = data.draw(st.characters().filter(lambda c: c != old[at]), label="char")
            new = old[:at] + char + old[at + 1 :]
    changed: dict[str, str | list[str]] = dict(params)
    if isinstance(raw, str):
        changed[name] = new
    else:
        changed[name] = [*raw[:index], new, *raw[index + 1 :]]
    # The signature covers the canonical string only; skip the (theoretical) edits
    # that re-sort repeated values into the very same string.
    assume(_canonical(url, changed) != signed)
    assert not validate_signature(TOKEN, url, changed, signature)


# ------------------------------------------------------------------------ parsing

_CALLBACK_FORM = {
    "inboundParticipantSid": _sid("KP", 1),
    "inboundResourceSid": _sid("CA", 2),
    "inboundResourceStatus": "completed",
    "inboundResourceType": "call",
    "inboundResourceUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls/CA2.json",
    "interactionAccountSid": _sid("AC", 3),
    "interactionData": '{"duration": "5"}',
    "interactionDateCreated": "2018-03-13T22:42:54Z",
    "interactionDateUpdated": "2018-03-13T22:42:56.250Z",
    "interactionServiceSid": _sid("KS", 4),
    "interactionSessionSid": _sid("KC", 5),
    "interactionSid": _sid("KI", 6),
    "interactionType": "Voice",
    "outboundParticipantSid": _sid("KP", 7),
    "outboundResourceSid": _sid("CA", 8),
    "outboundResourceStatus": "initiated",
    "outboundResourceType": "call",
    "outboundResourceUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls/CA8.json",
}


def test_parse_full_callback_form() -> None:
    cb = parse_callback(_CALLBACK_FORM)
    assert cb == ProxyCallback(
        interaction_sid=_sid("KI", 6),
        interaction_type=InteractionType.VOICE,
        interaction_data_raw='{"duration": "5"}',
        interaction_data={"duration": "5"},
        interaction_account_sid=_sid("AC", 3),
        interaction_service_sid=_sid("KS", 4),
        interaction_session_sid=_sid("KC", 5),
        interaction_date_created=datetime(2018, 3, 13, 22, 42, 54, tzinfo=timezone.utc),
        interaction_date_updated=datetime(2018, 3, 13, 22, 42, 56, 250000, tzinfo=timezone.utc),
        inbound_participant_sid=_sid("KP", 1),
        inbound_resource_sid=_sid("CA", 2),
        inbound_resource_status=ResourceStatus.COMPLETED,
        inbound_resource_type="call",
        inbound_resource_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Calls/CA2.json",
        outbound_participant_sid=_sid("KP", 7),
        outbound_resource_sid=_sid("CA", 8),
        outbound_resource_status=ResourceStatus.INITIATED,
        outbound_resource_type="call",
        outbound_resource_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Calls/CA8.json",
    )
    assert cb.extra == {}
    assert cb.message_body is None
    assert cb.interaction_date_created is not None
    assert cb.interaction_date_created.utcoffset() is not None


def test_callback_types_and_statuses_are_the_records_open_enums() -> None:
    # As Interaction reads "type" and the resource statuses: case-insensitively, and a
    # value the spec does not list kept as an unknown member that equals the text sent.
    cb = parse_callback(
        {
            "interactionSid": _sid("KI", 1),
            "interactionType": "Voice",
            "inboundResourceStatus": "completed",
            "outboundResourceStatus": "sent-to-the-moon",
        }
    )
    assert cb.interaction_type is InteractionType.VOICE
    assert cb.inbound_resource_status is ResourceStatus.COMPLETED
    # Equal to the spec's text, as before (a str enum).
    assert (cb.interaction_type, cb.inbound_resource_status) == ("voice", "completed")
    assert isinstance(cb.outbound_resource_status, ResourceStatus)
    assert cb.outbound_resource_status == "sent-to-the-moon"
    assert not cb.outbound_resource_status.is_known
    api = Interaction(sid=None, type=InteractionType("Voice"))
    assert cb.interaction_type == api.type
    oos = parse_out_of_session_callback(
        {
            "AccountSid": _sid("AC", 1),
            "From": "+14155550100",
            "To": "+14155550199",
            "sessionStatus": "in-progress",
            "sessionMode": "voice-only",
        }
    )
    assert oos.session_status is SessionStatus.IN_PROGRESS
    assert oos.session_mode is SessionMode.VOICE_ONLY


def test_callback_model_is_frozen_slotted_and_hashable() -> None:
    cb = parse_callback(_CALLBACK_FORM)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cb.interaction_sid = "x"  # type: ignore[misc]
    assert not hasattr(cb, "__dict__")
    assert hash(cb) == hash(parse_callback(dict(_CALLBACK_FORM)))


def test_message_interaction_body() -> None:
    form = {"interactionSid": _sid("KI", 1), "interactionData": '{"body": "héllo 👋"}'}
    cb = parse_callback(form)
    assert cb.message_body == "héllo 👋"
    assert cb.interaction_data == {"body": "héllo 👋"}


def test_missing_and_empty_optional_params_are_none() -> None:
    cb = parse_callback(
        {"interactionSid": _sid("KI", 1), "interactionData": "", "outboundResourceSid": ""}
    )
    assert cb.interaction_sid == _sid("KI", 1)
    for field in attrs.fields(ProxyCallback):
        if field.name not in ("interaction_sid", "extra"):
            assert getattr(cb, field.name) is None, field.name
    assert cb.extra == {}


def test_extra_params_are_kept_read_only() -> None:
    form = MultiDict(
        [
            ("interactionSid", _sid("KI", 1)),
            ("newParam", "v"),
            ("tag", "a"),
            ("tag", "b"),
            ("blank", ""),
        ]
    )
    cb = parse_callback(form)
    assert cb.extra == {"newParam": "v", "tag": ("a", "b"), "blank": ""}
    with pytest.raises(TypeError):
        cb.extra["newParam"] = "w"  # type: ignore[index]
    built = ProxyCallback(interaction_sid=_sid("KI", 1), extra={"a": "b"})
    assert isinstance(built.extra, Mapping)
    with pytest.raises(TypeError):
        built.extra["a"] = "c"  # type: ignore[index]


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        # Half an emoji (concatenated SMS segments): legal JSON that orjson refuses.
        ('{"body":"my password \\ud83d"}', {"body": "my password \ud83d"}),
        ('{"body":"a\\ud83d\\ude00b"}', {"body": "a\U0001f600b"}),  # a whole pair
        (
            '{"body":"x","n":123456789012345678901234567890}',
            {"body": "x", "n": 123456789012345678901234567890},
        ),
        ('\ufeff{"body":"behind a byte order mark"}', {"body": "behind a byte order mark"}),
        ('{"body":"first","body":"last"}', {"body": "last"}),
    ],
    ids=["lone-surrogate", "surrogate-pair", "wide-integer", "bom", "duplicate-key"],
)
def test_interaction_data_is_read_as_response_bodies_are(raw: str, decoded: Any) -> None:
    cb = parse_callback({"interactionSid": _sid("KI", 1), "interactionData": raw})
    assert cb.interaction_data == decoded
    assert type(cb.interaction_data.get("n", 0)) is int
    assert cb.message_body == decoded["body"]
    assert cb.interaction_data_raw == raw
    assert Interaction(sid=None, data=raw).decoded_data == decoded


def test_data_holding_a_lone_surrogate_itself_is_read() -> None:
    # A page's "data" string holding the escape decodes to a str holding U+D83D itself.
    data = '{"body":"see you \ud83d"}'
    assert Interaction(sid=None, data=data).decoded_data == {"body": "see you \ud83d"}


@pytest.mark.parametrize("raw", ["hello there", "{not json", "{'body': 'single quotes'}", "NaN"])
def test_non_json_interaction_data_falls_back_to_raw(raw: str) -> None:
    cb = parse_callback({"interactionSid": _sid("KI", 1), "interactionData": raw})
    # As Interaction.decoded_data does for the same field read through the API.
    assert cb.interaction_data == raw
    assert cb.interaction_data == Interaction(sid=None, data=raw).decoded_data
    assert cb.interaction_data_raw == raw
    assert cb.message_body is None


def test_lists_with_one_value_are_accepted() -> None:
    cb = parse_callback({"interactionSid": [_sid("KI", 1)], "interactionType": ("Message",)})
    assert cb.interaction_sid == _sid("KI", 1)
    assert cb.interaction_type is InteractionType.MESSAGE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-03-13T23:42:54+01:00", datetime(2018, 3, 13, 22, 42, 54, tzinfo=timezone.utc)),
        ("2018-03-13T22:42:54", datetime(2018, 3, 13, 22, 42, 54, tzinfo=timezone.utc)),
        (
            "2018-03-13T22:42:54.123z",
            datetime(2018, 3, 13, 22, 42, 54, 123000, tzinfo=timezone.utc),
        ),
        ("Tue, 13 Mar 2018 22:42:54 +0000", datetime(2018, 3, 13, 22, 42, 54, tzinfo=timezone.utc)),
        ("2018-03-13T22:42:54.1Z", datetime(2018, 3, 13, 22, 42, 54, 100000, tzinfo=timezone.utc)),
        (
            "2018-03-13T22:42:54.123456789-0130",
            datetime(2018, 3, 14, 0, 12, 54, 123456, tzinfo=timezone.utc),
        ),
        ("2018-03-13 22:42Z", datetime(2018, 3, 13, 22, 42, tzinfo=timezone.utc)),
        ("Tue, 13 Mar 2018 22:42:54 -0000", datetime(2018, 3, 13, 22, 42, 54, tzinfo=timezone.utc)),
    ],
)
def test_dates_become_aware_utc(value: str, expected: datetime) -> None:
    cb = parse_callback({"interactionSid": _sid("KI", 1), "interactionDateCreated": value})
    assert cb.interaction_date_created == expected
    assert cb.interaction_date_created is not None
    assert cb.interaction_date_created.tzinfo is timezone.utc


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"interactionSid": None}, "interactionSid"),
        ({"interactionSid": ""}, "interactionSid"),
        ({"interactionSid": _sid("CA", 1)}, "interactionSid"),
        ({"interactionSid": "KI123"}, "interactionSid"),
        ({"interactionSid": [_sid("KI", 1), _sid("KI", 2)]}, "interactionSid"),
        ({"interactionSid": []}, "interactionSid"),
        ({"interactionSid": 42}, "interactionSid"),
        ({"interactionSid": b"KI"}, "interactionSid"),
        ({"interactionSessionSid": _sid("KS", 1)}, "interactionSessionSid"),
        ({"inboundParticipantSid": "KP-nope"}, "inboundParticipantSid"),
        ({"inboundResourceSid": "call-1"}, "inboundResourceSid"),
        ({"interactionDateCreated": "yesterday"}, "interactionDateCreated"),
        ({"interactionDateUpdated": "2018-13-45T99:00:00Z"}, "interactionDateUpdated"),
        ({"interactionDateUpdated": "2018-02-30T00:00:00Z"}, "interactionDateUpdated"),
        ({"interactionDateUpdated": "2018-03-13T22:42:54+24:00"}, "interactionDateUpdated"),
        ({"interactionDateUpdated": "0001-01-01T00:00:00+01:00"}, "interactionDateUpdated"),
        ({"interactionDateUpdated": "9999-12-31T23:59:59-01:00"}, "interactionDateUpdated"),
        ({"interactionDateUpdated": "2018-03-13"}, "interactionDateUpdated"),
        # Forms only some Pythons' fromisoformat reads: refused on every version.
        ({"interactionDateUpdated": "20180313T224254Z"}, "interactionDateUpdated"),
        ({"interactionDateUpdated": "2018-03-13T22"}, "interactionDateUpdated"),
        ({"inboundResourceUrl": "/relative/path"}, "inboundResourceUrl"),
        ({"interactionType": ["voice", "message"]}, "interactionType"),
        ({"interactionData": {"body": "x"}}, "interactionData"),
        ({"someExtra": 3.5}, "someExtra"),
        ({"someExtra": ["ok", 7]}, "someExtra"),
    ],
)
def test_malformed_callback_raises_typed_error_naming_the_param(
    change: dict[str, object], parameter: str
) -> None:
    form: dict[str, object] = dict(_CALLBACK_FORM)
    for key, value in change.items():
        if value is None:
            del form[key]
        else:
            form[key] = value
    with pytest.raises(InvalidCallbackError) as info:
        parse_callback(form)
    error = info.value
    assert error.parameter == parameter
    assert repr(parameter) in str(error)
    assert isinstance(error, ProxyError)
    assert isinstance(error, ValueError)
    assert not isinstance(error, KeyError)


def test_callback_error_never_quotes_the_value() -> None:
    phone = "+14155550100"
    with pytest.raises(InvalidCallbackError) as info:
        parse_callback({"interactionSid": phone})
    assert phone not in str(info.value)


def test_date_error_neither_quotes_nor_chains_the_value() -> None:
    secret = "2018-03-13T22:42:54 call +14155550100"
    with pytest.raises(InvalidCallbackError) as info:
        parse_callback({"interactionSid": _sid("KI", 1), "interactionDateCreated": secret})
    error = info.value
    assert error.parameter == "interactionDateCreated"
    assert "+14155550100" not in str(error)
    # The parser's own error quotes the value: it must not ride along as the context.
    assert error.__context__ is None
    assert error.__cause__ is None


def test_non_mapping_form_raises_typed_error() -> None:
    with pytest.raises(InvalidCallbackError):
        parse_callback([("interactionSid", _sid("KI", 1))])  # type: ignore[arg-type]
    with pytest.raises(InvalidCallbackError):
        parse_callback({1: "x", "interactionSid": _sid("KI", 1)})  # type: ignore[dict-item]


_OUT_OF_SESSION_SMS = {
    "AccountSid": _sid("AC", 1),
    "ApiVersion": "2010-04-01",
    "Body": "Are you still there?",
    "From": "+14155550100",
    "FromCity": "SAN FRANCISCO",
    "MessageSid": _sid("SM", 2),
    "NumMedia": "0",
    "SmsSid": _sid("SM", 2),
    "To": "+14155550199",
    "sessionSid": _sid("KC", 3),
    "sessionUniqueName": "order-1234",
    "sessionAccountSid": _sid("AC", 1),
    "sessionServiceSid": _sid("KS", 4),
    "sessionStatus": "closed",
    "sessionMode": "message-only",
    "sessionClosedReason": "",
    "ttl": "3600",
    "sessionDateCreated": "2018-03-13T20:00:00Z",
    "sessionDateStarted": "2018-03-13T20:00:01Z",
    "sessionDateUpdated": "2018-03-13T21:00:00Z",
    "sessionDateEnded": "2018-03-13T21:00:00Z",
    "sessionDateLastInteraction": "2018-03-13T20:30:00Z",
    "inboundParticipantSid": _sid("KP", 5),
    "inboundParticipantIdentifier": "+14155550100",
    "inboundParticipantFriendlyName": "Alice",
    "inboundParticipantProxyIdentifier": "+14155550199",
    "inboundParticipantProxyIdentifierSid": _sid("PN", 6),
    "inboundParticipantAccountSid": _sid("AC", 1),
    "inboundParticipantServiceSid": _sid("KS", 4),
    "inboundParticipantSessionSid": _sid("KC", 3),
    "inboundParticipantDateCreated": "2018-03-13T20:00:00Z",
    "inboundParticipantDateUpdated": "2018-03-13T20:00:00Z",
    "outboundParticipantSid": _sid("KP", 7),
    "outboundParticipantIdentifier": "+14155550111",
}


def test_parse_out_of_session_message() -> None:
    cb = parse_out_of_session_callback(_OUT_OF_SESSION_SMS)
    t = datetime(2018, 3, 13, 20, 0, tzinfo=timezone.utc)
    assert cb.kind == "message"
    assert (cb.account_sid, cb.from_, cb.to) == (_sid("AC", 1), "+14155550100", "+14155550199")
    assert cb.body == "Are you still there?"
    assert cb.message_sid == _sid("SM", 2)
    assert cb.call_sid is None
    assert cb.session_sid == _sid("KC", 3)
    assert cb.session_unique_name == "order-1234"
    assert cb.session_status is SessionStatus.CLOSED
    assert cb.session_mode is SessionMode.MESSAGE_ONLY
    assert cb.session_closed_reason is None
    assert cb.session_ttl == 3600
    assert cb.session_date_created == t
    assert cb.session_date_last_interaction == datetime(2018, 3, 13, 20, 30, tzinfo=timezone.utc)
    assert cb.inbound_participant == OutOfSessionParticipant(
        sid=_sid("KP", 5),
        identifier="+14155550100",
        friendly_name="Alice",
        proxy_identifier="+14155550199",
        proxy_identifier_sid=_sid("PN", 6),
        account_sid=_sid("AC", 1),
        service_sid=_sid("KS", 4),
        session_sid=_sid("KC", 3),
        date_created=t,
        date_updated=t,
    )
    assert cb.outbound_participant == OutOfSessionParticipant(
        sid=_sid("KP", 7), identifier="+14155550111"
    )
    assert cb.extra == {
        "ApiVersion": "2010-04-01",
        "FromCity": "SAN FRANCISCO",
        "NumMedia": "0",
        "SmsSid": _sid("SM", 2),
    }


def test_parse_out_of_session_call_without_earlier_session() -> None:
    form = {
        "AccountSid": _sid("AC", 1),
        "CallSid": _sid("CA", 2),
        "CallStatus": "ringing",
        "From": "+14155550100",
        "To": "+14155550199",
        "inboundParticipantSid": "",
    }
    cb = parse_out_of_session_callback(form)
    assert cb == OutOfSessionCallback(
        account_sid=_sid("AC", 1),
        from_="+14155550100",
        to="+14155550199",
        call_sid=_sid("CA", 2),
        call_status="ringing",
    )
    assert cb.kind == "voice"
    assert cb.inbound_participant is None
    assert cb.outbound_participant is None


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"AccountSid": None}, "AccountSid"),
        ({"From": None}, "From"),
        ({"To": ""}, "To"),
        ({"ttl": "one hour"}, "ttl"),
        ({"ttl": "-5"}, "ttl"),
        ({"sessionDateEnded": "soon"}, "sessionDateEnded"),
        ({"inboundParticipantSid": _sid("KC", 1)}, "inboundParticipantSid"),
        ({"outboundParticipantDateCreated": "x"}, "outboundParticipantDateCreated"),
        ({"CallSid": _sid("SM", 1)}, "CallSid"),
        ({"Body": ["a", "b"]}, "Body"),
    ],
)
def test_malformed_out_of_session_raises_typed_error(
    change: dict[str, object], parameter: str
) -> None:
    form: dict[str, object] = dict(_OUT_OF_SESSION_SMS)
    for key, value in change.items():
        if value is None:
            del form[key]
        else:
            form[key] = value
    with pytest.raises(InvalidCallbackError) as info:
        parse_out_of_session_callback(form)
    assert info.value.parameter == parameter


# ------------------------------------------------------- raw requests, in any framework

_RAW_URL = "https://hooks.example.com/proxy/intercept?tenant=acme"
_RAW_PAIRS = [
    ("interactionSid", _sid("KI", 1)),
    ("interactionData", '{"body": "caf\u00e9 & tea"}'),
    ("tag", "b"),
    ("tag", "a"),
]


def _raw_form_signature(url: str, pairs: list[tuple[str, str]], token: str = TOKEN) -> str:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return _sig(token, _canonical(url, grouped))


@pytest.mark.parametrize(
    "content_type",
    [FORM, "application/x-www-form-urlencoded; charset=utf-8", "Application/X-WWW-Form-Urlencoded"],
)
def test_validate_request_form_body(content_type: str) -> None:
    body = urlencode(_RAW_PAIRS).encode()
    signature = _raw_form_signature(_RAW_URL, _RAW_PAIRS)
    assert validate_request(TOKEN, _RAW_URL, body, signature, content_type=content_type)
    tampered = body.replace(b"tea", b"tee")
    assert not validate_request(TOKEN, _RAW_URL, tampered, signature, content_type=content_type)
    assert not validate_request(OTHER_TOKEN, _RAW_URL, body, signature, content_type=content_type)
    assert not validate_request(TOKEN, _RAW_URL + "&x=1", body, signature, content_type=FORM)
    assert not validate_request(TOKEN, _RAW_URL, body, None, content_type=content_type)
    assert not validate_request(TOKEN, _RAW_URL, body, "", content_type=content_type)


def test_validate_request_other_bodies() -> None:
    json_body = b'{"interactionSid": "KI1"}'
    url = f"{_RAW_URL}&bodySHA256={hashlib.sha256(json_body).hexdigest()}"
    signature = _sig(TOKEN, url)
    assert validate_request(TOKEN, url, json_body, signature, content_type="application/json")
    assert not validate_request(TOKEN, url, b"{}", signature, content_type="application/json")
    # A body nothing covers: not a form, and no bodySHA256 in the URL.
    url_only = _sig(TOKEN, _RAW_URL)
    assert not validate_request(TOKEN, _RAW_URL, json_body, url_only, content_type=None)
    assert validate_request(TOKEN, _RAW_URL, b"", url_only, content_type=None)
    # Not UTF-8: Twilio cannot have signed it.
    assert not validate_request(TOKEN, _RAW_URL, b"a=%ff", url_only, content_type=FORM)
    with pytest.raises(InvalidParameterError, match="body"):
        validate_request(TOKEN, _RAW_URL, "a=b", url_only, content_type=FORM)  # type: ignore[arg-type]


def _scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "https",
        "method": "POST",
        "path": "/proxy/a b/intercept",
        "raw_path": b"/proxy/a%20b/intercept",
        "root_path": "",
        "query_string": b"tenant=acme&x=%2F",
        "headers": [(b"content-type", FORM.encode()), (b"host", b"hooks.example.com")],
        "server": ("10.0.0.5", 8080),
    }
    scope.update(changes)
    return scope


def test_asgi_request_url_keeps_the_path_and_query_as_sent() -> None:
    expected = "https://hooks.example.com/proxy/a%20b/intercept?tenant=acme&x=%2F"
    assert asgi_request_url(_scope()) == expected
    # ... and a signature of that URL validates (Twilio signed what it sent).
    body = urlencode(_RAW_PAIRS).encode()
    signature = _raw_form_signature(expected, _RAW_PAIRS)
    assert validate_request(TOKEN, asgi_request_url(_scope()), body, signature, content_type=FORM)


def test_asgi_request_url_fallbacks() -> None:
    assert asgi_request_url(_scope(query_string=b"")) == (
        "https://hooks.example.com/proxy/a%20b/intercept"
    )
    # No Host header: the server address; an IPv6 one in brackets.
    assert asgi_request_url(_scope(headers=[], query_string=b"")) == (
        "https://10.0.0.5:8080/proxy/a%20b/intercept"
    )
    assert asgi_request_url(_scope(headers=[], server=("::1", 443), query_string=b"")) == (
        "https://[::1]:443/proxy/a%20b/intercept"
    )
    # No raw_path: the decoded path, quoted back.
    assert asgi_request_url(_scope(raw_path=None, root_path="/app", path="/a b")) == (
        "https://hooks.example.com/app/a%20b?tenant=acme&x=%2F"
    )
    with pytest.raises(InvalidParameterError, match="scope"):
        asgi_request_url(_scope(headers=[], server=None))


def test_asgi_request_url_public_url_and_forwarded_headers() -> None:
    public = "https://public.example.com/cb?tenant=acme"
    assert asgi_request_url(_scope(), public_url=public) == public
    digest = "ab" * 32
    scope = _scope(query_string=f"bodySHA256={digest}".encode())
    assert asgi_request_url(scope, public_url=public) == f"{public}&bodySHA256={digest}"
    forged = _scope(
        headers=[(b"host", b"10.0.0.5:8080"), (b"x-forwarded-host", b"public.example.com")]
    )
    assert asgi_request_url(forged).startswith("https://10.0.0.5:8080/")


# --------------------------------------------------------------- aiohttp integration

PUBLIC_URL = "https://proxy.example.com/twilio/callback?tenant=acme"


async def _answer(request: web.Request, public_url: str | None) -> web.Response:
    if not await verify_request(request, TOKEN, public_url=public_url):
        return web.json_response({"valid": False}, status=403)
    if request.content_type == FORM:
        # The body is still readable after verification.
        cb = parse_callback(await request.post())
        return web.json_response({"valid": True, "sid": cb.interaction_sid})
    return web.json_response({"valid": True, "body": (await request.read()).decode()})


async def _direct(request: web.Request) -> web.Response:
    return await _answer(request, None)


async def _behind_proxy(request: web.Request) -> web.Response:
    return await _answer(request, PUBLIC_URL)


@pytest.fixture
async def client() -> AsyncIterator[test_utils.TestClient[web.Request, web.Application]]:
    app = web.Application()
    app.router.add_post("/proxy/callback", _direct)
    app.router.add_get("/proxy/callback", _direct)
    app.router.add_post("/internal/cb", _behind_proxy)
    server = test_utils.TestServer(app, host="127.0.0.1", port=0)
    async with test_utils.TestClient(server) as test_client:
        yield test_client


def _local_url(client: test_utils.TestClient[web.Request, web.Application], path: str) -> str:
    return f"http://127.0.0.1:{client.server.port}{path}"


_TWILIO_FORM = [
    ("interactionSid", _sid("KI", 1)),
    ("interactionType", "Message"),
    ("interactionData", '{"body": "h\u00e9 & you + me=1"}'),
    ("tag", "b"),
    ("tag", "a"),
    ("empty", ""),
]


def _form_signature(url: str, pairs: list[tuple[str, str]], token: str = TOKEN) -> str:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return _sig(token, _canonical(url, grouped))


async def test_aiohttp_valid_form_request(
    client: test_utils.TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = "/proxy/callback?tenant=acme&x=a%20b"
    signature = _form_signature(_local_url(client, path), _TWILIO_FORM)
    response = await client.post(
        path,
        data=urlencode(_TWILIO_FORM),
        headers={"Content-Type": FORM, SIGNATURE_HEADER: signature},
    )
    assert response.status == 200
    assert await response.json() == {"valid": True, "sid": _sid("KI", 1)}
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


async def test_aiohttp_rejects_bad_requests(
    client: test_utils.TestClient[web.Request, web.Application],
) -> None:
    path = "/proxy/callback"
    signature = _form_signature(_local_url(client, path), _TWILIO_FORM)
    tampered = [*_TWILIO_FORM[:-1], ("empty", "x")]
    cases: list[tuple[str, list[tuple[str, str]], dict[str, str]]] = [
        (path, tampered, {SIGNATURE_HEADER: signature}),
        (path, _TWILIO_FORM, {}),
        (path, _TWILIO_FORM, {SIGNATURE_HEADER: ""}),
        (
            path,
            _TWILIO_FORM,
            {
                SIGNATURE_HEADER: _form_signature(
                    _local_url(client, path), _TWILIO_FORM, OTHER_TOKEN
                )
            },
        ),
        (path + "?x=1", _TWILIO_FORM, {SIGNATURE_HEADER: signature}),  # replayed elsewhere
    ]
    for target, pairs, headers in cases:
        response = await client.post(
            target, data=urlencode(pairs), headers={"Content-Type": FORM, **headers}
        )
        assert response.status == 403, (target, headers)


async def test_aiohttp_public_url_override(
    client: test_utils.TestClient[web.Request, web.Application],
) -> None:
    # Twilio called the public URL; a load balancer forwarded it to /internal/cb.
    signature = _form_signature(PUBLIC_URL, _TWILIO_FORM)
    headers = {"Content-Type": FORM, SIGNATURE_HEADER: signature}
    response = await client.post("/internal/cb", data=urlencode(_TWILIO_FORM), headers=headers)
    assert response.status == 200
    assert (await response.json())["sid"] == _sid("KI", 1)
    # Without the override the rebuilt local URL differs from the signed one.
    response = await client.post("/proxy/callback", data=urlencode(_TWILIO_FORM), headers=headers)
    assert response.status == 403
    # Forwarded headers are not trusted in place of public_url.
    forged = {**headers, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "proxy.example.com"}
    response = await client.post("/proxy/callback", data=urlencode(_TWILIO_FORM), headers=forged)
    assert response.status == 403


async def test_aiohttp_json_body(
    client: test_utils.TestClient[web.Request, web.Application],
) -> None:
    body = b'{"interactionSid": "KI1", "text": "caf\xc3\xa9"}'
    path = f"/proxy/callback?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = _sig(TOKEN, _local_url(client, path))
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    response = await client.post(path, data=body, headers=headers)
    assert response.status == 200
    assert (await response.json())["body"] == body.decode()
    response = await client.post(path, data=body.replace(b"KI1", b"KI2"), headers=headers)
    assert response.status == 403
    # A form body cannot stand in for the JSON one under the same URL signature.
    form_headers = {**headers, "Content-Type": FORM}
    response = await client.post(path, data=b"", headers=form_headers)
    assert response.status == 403


async def test_aiohttp_public_url_with_json_body(
    client: test_utils.TestClient[web.Request, web.Application],
) -> None:
    # Twilio appends bodySHA256 to the configured URL; the override keeps that part.
    body = b'{"interactionSid": "KI1"}'
    digest = hashlib.sha256(body).hexdigest()
    signature = _sig(TOKEN, f"{PUBLIC_URL}&bodySHA256={digest}")
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    response = await client.post(f"/internal/cb?bodySHA256={digest}", data=body, headers=headers)
    assert response.status == 200
    response = await client.post(f"/internal/cb?bodySHA256={digest}", data=b"{}", headers=headers)
    assert response.status == 403
    response = await client.post("/internal/cb", data=body, headers=headers)
    assert response.status == 403


async def test_aiohttp_body_not_covered_by_any_signature_is_refused(
    client: test_utils.TestClient[web.Request, web.Application],
) -> None:
    path = "/proxy/callback"
    signature = _sig(TOKEN, _local_url(client, path))  # URL only, no bodySHA256
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    response = await client.post(path, data=b'{"a": 1}', headers=headers)
    assert response.status == 403
    # A request without a body is signed over the URL alone.
    response = await client.get(path, headers={SIGNATURE_HEADER: signature})
    assert response.status == 200


@pytest.mark.parametrize(
    ("parameter", "value", "reason"),
    [
        ("interactionSid", _sid("CA", 1), "expected a KI SID (2 letters, 32 hex digits)"),
        ("interactionSid", _sid("KI", 1) + "0", "expected a KI SID (2 letters, 32 hex digits)"),
        ("inboundResourceSid", "ca" + "0" * 32, "expected a SID (2 letters, 32 hex digits)"),
        ("inboundResourceSid", "CA" + "g" * 32, "expected a SID (2 letters, 32 hex digits)"),
    ],
)
def test_sid_refusals_say_which_kind(parameter: str, value: str, reason: str) -> None:
    form = {"interactionSid": _sid("KI", 1), parameter: value}
    with pytest.raises(InvalidCallbackError) as info:
        parse_callback(form)
    assert (info.value.parameter, info.value.reason) == (parameter, reason)


def test_any_two_capital_letters_make_a_resource_sid() -> None:
    # inboundResourceSid is a Message (SM), Call (CA) or any later kind: no fixed prefix.
    for prefix in ("SM", "CA", "MM", "ZZ"):
        cb = parse_callback(
            {"interactionSid": _sid("KI", 1), "inboundResourceSid": _sid(prefix, 2)}
        )
        assert cb.inbound_resource_sid == _sid(prefix, 2)

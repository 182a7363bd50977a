"""The msgspec fast path builds exactly what the reference path builds, or refuses.

The reference: :func:`decode_json` then :func:`receive_page` and the cattrs hooks. For
every page hypothesis makes (random records, odd values, unknown fields, odd JSON
written byte by byte), whatever the fast path accepts the reference accepts too, with
equal records whose every field has the same type; and :func:`structure_page` of the
bytes (fast path first) answers exactly as the reference does, records or error
message alike. The records as sent agree too: dicts, NDJSON lines, CSV cells, SIDs.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs
import orjson
import pytest
from conftest import load_fixture
from hypothesis import given, settings
from hypothesis import strategies as st
from test_model_properties import (
    FUZZ,
    RECORD_MODELS,
    VALID_MESSAGE_INTERACTION,
    VALID_META,
    attempt,
    datetime_texts,
    json_values,
    randomly_typed_bodies,
    record_bodies,
    well_formed_bodies,
)

from proxy_async import ProxyClient
from proxy_async.bulk_export.formats import CSV_COLUMNS
from proxy_async.errors import InvalidResponseError
from proxy_async.models import (
    Interaction,
    MessageInteraction,
    OpenEnum,
    Page,
    PageMeta,
    receive_body,
    receive_page,
    structure,
    structure_body,
    structure_page,
)
from proxy_async.models.fast_path import (
    MAX_TIMESTAMP_LENGTH,
    mirror_of,
    page_decoder,
    record_decoder,
)
from proxy_async.models.json_codec import decode_json
from proxy_async.models.raw_records import DecodedRecords, MirroredRecords
from proxy_async.testing import FakeProxyServer

LIST_KEY = "interactions"

# Byte-level JSON no Python value encodes to, put where a placeholder string stood.
ODD_TOKENS = [
    b"1e400",  # beyond a double: the reference refuses the page
    b"-1E+999",
    b"1e-400",  # underflows to 0.0: fine
    b"123456789012345678901234567890",  # beyond 64 bits: exact in both
    b"1" * 4400,  # beyond Python's int digits limit: the reference refuses
    b"NaN",
    b'"\\ud83d"',  # half an emoji: the reference keeps it, msgspec refuses
    b'"\\udc00x"',
    b'"\xff"',  # not UTF-8
    b'"\xed\xa0\xbd"',  # a surrogate encoded in UTF-8: not UTF-8 either
    b'"caf\\u00e9 \\/ \\n"',  # escapes
    b'"\xf0\x9f\x98\x80"',  # an emoji, raw
    b"[" * 600 + b"]" * 600,  # deeper than MAX_JSON_DEPTH
    b"[" * 1100 + b"]" * 1100,  # deeper than orjson reads
    b'{"a":1,"a":2}',  # a duplicate key
    b"true",
    b"-0",
    b"\t null \n",
]
PLACEHOLDER = "\x00PLACEHOLDER\x00"
PLACEHOLDER_JSON = json.dumps(PLACEHOLDER).encode()


def encodings() -> st.SearchStrategy[Any]:
    """Ways a server might write the same JSON: compact, ASCII-escaped, indented."""
    return st.sampled_from(
        [
            compact,
            lambda value: json.dumps(value).encode(),
            lambda value: json.dumps(value, ensure_ascii=False).encode(),
            lambda value: json.dumps(value, indent=1, ensure_ascii=False).encode(),
            lambda value: json.dumps(value, separators=(" , ", " : ")).encode(),
        ]
    )


def compact(value: Any) -> bytes:
    """orjson's compact JSON, as the fake server writes it (json's beyond 64-bit integers)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def odd_values(model: type[Any]) -> st.SearchStrategy[Any]:
    """Values for one field: right JSON type, any JSON, or an odd token (placeholder)."""
    del model
    return json_values | datetime_texts() | enum_texts() | st.just(PLACEHOLDER)


def enum_texts() -> st.SearchStrategy[str]:
    members = [member.value for enum in OpenEnum.__subclasses__() for member in enum]
    return st.sampled_from(members).flatmap(
        lambda value: st.sampled_from([value, value.upper(), value.title(), value + " "])
    )


def twilio_values(annotation: object) -> st.SearchStrategy[Any]:
    """Values as Twilio sends them (timestamps in ``Z`` form), with null where allowed."""
    hints_inner = typing.get_args(annotation) or (annotation,)
    if datetime in hints_inner:
        strategy: st.SearchStrategy[Any] = st.builds(
            lambda moment, digits: (
                moment.strftime("%Y-%m-%dT%H:%M:%S") + ("." + digits if digits else "") + "Z"
            ),
            st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2999, 1, 1)),
            st.text("0123456789", max_size=6),
        )
    elif int in hints_inner:
        strategy = st.integers()
    elif dict[str, str] in hints_inner:
        strategy = st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3)
    else:
        enums = [arg for arg in hints_inner if isinstance(arg, type) and issubclass(arg, OpenEnum)]
        strategy = st.sampled_from([member.value for member in enums[0]]) if enums else st.text()
    return strategy | st.none() if type(None) in hints_inner else strategy


@st.composite
def records(draw: st.DrawFn, model: type[Any]) -> dict[str, Any]:
    """A record: as Twilio sends them, well formed, randomly typed, or valid with odd
    fields; sometimes with a key the model does not know, or without one it does."""
    kind = draw(st.sampled_from(["twilio", "twilio", "twilio", "well", "random", "valid"]))
    if kind == "twilio":
        record = draw(record_bodies(model, twilio_values))
    elif kind == "well":
        record = draw(well_formed_bodies(model))
    elif kind == "random":
        record = draw(randomly_typed_bodies(model))
    else:
        names = [field.name for field in attrs.fields(model)]
        record = {key: VALID_MESSAGE_INTERACTION.get(key) for key in names}
        for name in draw(st.lists(st.sampled_from(names), max_size=3)):
            record[name] = draw(odd_values(model))
    if draw(st.integers(0, 9)) == 0:  # a field Twilio might add tomorrow
        record[draw(st.text(min_size=1, max_size=10))] = draw(json_values | st.just(PLACEHOLDER))
    if draw(st.integers(0, 19)) == 0:
        record.pop(draw(st.sampled_from(sorted(record))), None)
    return record


def encoded_with_odd_tokens(draw: st.DrawFn, value: Any) -> bytes:
    """``value`` written by one of :func:`encodings`, each placeholder then replaced by
    an odd JSON token."""
    body: bytes = draw(encodings())(value)
    while PLACEHOLDER_JSON in body:
        body = body.replace(PLACEHOLDER_JSON, draw(st.sampled_from(ODD_TOKENS)), 1)
    return body


@st.composite
def page_bodies(draw: st.DrawFn, model: type[Any]) -> bytes:
    """A list page's bytes, with any placeholder replaced by an odd JSON token."""
    items = draw(st.lists(records(model), max_size=5))
    meta: dict[str, Any] = dict(VALID_META)
    if draw(st.integers(0, 19)) == 0:
        meta[draw(st.sampled_from([*VALID_META, "extra"]))] = draw(
            json_values | st.just(PLACEHOLDER)
        )
    page: dict[str, Any] = {LIST_KEY: items, "meta": meta}
    if draw(st.integers(0, 19)) == 0:
        page["extra"] = draw(json_values)
    body = encoded_with_odd_tokens(draw, page)
    if draw(st.integers(0, 19)) == 0:
        body = b"\xef\xbb\xbf" + body  # a byte order mark
    return body


def reference(body: bytes, model: type[Any]) -> Page[Any] | InvalidResponseError:
    return attempt(lambda: receive_page(decode_json(body), model, LIST_KEY).structure())


def assert_identical(fast: Any, slow: Any) -> None:
    """Equal records whose every field holds a value of the very same type."""
    assert type(fast) is type(slow)
    assert fast == slow
    for field in attrs.fields(type(fast)):
        mine, theirs = getattr(fast, field.name), getattr(slow, field.name)
        assert type(mine) is type(theirs), field.name
        if isinstance(mine, datetime):
            assert mine.tzinfo is theirs.tzinfo, field.name
            assert (mine.isoformat(), mine.fold) == (theirs.isoformat(), theirs.fold), field.name
        if isinstance(mine, OpenEnum):
            assert (mine.value, mine.is_known) == (theirs.value, theirs.is_known), field.name


def assert_all_identical(fast: Iterable[Any], slow: Iterable[Any]) -> None:
    """:func:`assert_identical` record by record; as many records on each side."""
    for mine, theirs in zip(fast, slow, strict=True):
        assert_identical(mine, theirs)


def assert_same_refusal(outcome: object, slow: InvalidResponseError) -> None:
    """The fast path's whole answer refused the input as the reference did: the same
    error, message and field."""
    assert isinstance(outcome, InvalidResponseError)
    assert (str(outcome), outcome.field) == (str(slow), slow.field)


def assert_same_records_as_sent(fast: MirroredRecords, slow: DecodedRecords) -> None:
    assert fast.dicts() == slow.dicts()
    assert fast.sids() == slow.sids()
    lines = fast.ndjson().splitlines()
    assert [json.loads(line) for line in lines] == [
        json.loads(line) for line in slow.ndjson().splitlines()
    ]
    for names in (["sid"], ["url", "sid"]):  # a column, and columns out of field order
        assert [list(column) for column in fast.columns(names)] == [
            list(column) for column in slow.columns(names)
        ]
    if fast.dicts() and all(set(record) <= set(CSV_COLUMNS) for record in fast.dicts()):
        whole = [list(column) for column in fast.columns(CSV_COLUMNS)]
        assert whole == [list(column) for column in slow.columns(CSV_COLUMNS)]
        # In chunks of 2 records (as an export writes CSV), each form alike, and
        # together the whole page's columns.
        chunks = [
            [list(column) for column in chunk] for chunk in fast.column_chunks(CSV_COLUMNS, 2)
        ]
        assert chunks == [
            [list(column) for column in chunk] for chunk in slow.column_chunks(CSV_COLUMNS, 2)
        ]
        joined = [[cell for chunk in chunks for cell in chunk[i]] for i in range(len(whole))]
        assert joined == whole


def check_page(body: bytes, model: type[Any]) -> bool:
    """The properties of the module docstring for one page; whether the fast path took it."""
    slow = reference(body, model)
    decoder = page_decoder(model, LIST_KEY)
    mirrored = decoder.decode(body)
    accepted = mirrored is not None and decoder.accepts(mirrored.mirrors)
    built = decoder.build(mirrored.mirrors) if mirrored is not None and accepted else None
    if accepted:
        assert built is not None, "build refused mirrors that accepts() took"
        assert isinstance(slow, Page), f"the fast path took a page the reference refuses: {slow}"
        assert mirrored is not None
        assert built is not None
        assert mirrored.meta == slow.meta
        assert_identical(mirrored.meta, slow.meta)
        assert len(built) == len(slow.items)
        assert_all_identical(built, slow.items)
        fast_records = MirroredRecords(body, mirrored.mirrors, decoder)
        assert_same_records_as_sent(fast_records, DecodedRecords(slow.raw_items))
    # Whichever path answers, structure_page of the bytes answers as the reference does.
    outcome = attempt(lambda: structure_page(body, model, LIST_KEY))
    if isinstance(slow, InvalidResponseError):
        assert_same_refusal(outcome, slow)
    else:
        assert isinstance(outcome, Page)
        assert outcome.meta == slow.meta
        assert_all_identical(outcome.items, slow.items)
        assert outcome.raw_items == slow.raw_items
        # A stream's way: built a chunk at a time from a page whose items were never read.
        fresh = structure_page(body, model, LIST_KEY)
        assert_all_identical(fresh.iter_items(), slow.items)
    return built is not None


@settings(parent=FUZZ, max_examples=400)
@given(st.data())
def test_fast_path_accepts_only_what_the_reference_builds_identically(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from(RECORD_MODELS))
    check_page(data.draw(page_bodies(model)), model)


@FUZZ
@given(text=datetime_texts() | st.text(alphabet="0123456789-:+TtZz., ", max_size=34))
def test_timestamps_read_alike_or_go_to_the_reference(text: str) -> None:
    check_each_field(("date_created", "date_updated"), text)


@FUZZ
@given(text=enum_texts() | st.text(max_size=12))
def test_enum_values_read_alike_or_go_to_the_reference(text: str) -> None:
    check_each_field(("type", "inbound_resource_status", "outbound_resource_status"), text)


def check_each_field(fields: tuple[str, ...], text: str) -> None:
    """:func:`check_page` of a one-record page with ``text`` in each of ``fields`` in turn."""
    for field in fields:
        record = {**VALID_MESSAGE_INTERACTION, field: text}
        check_page(orjson.dumps({LIST_KEY: [record], "meta": VALID_META}), MessageInteraction)


@st.composite
def record_bodies_bytes(draw: st.DrawFn, model: type[Any]) -> bytes:
    """One record's body (a fetch or create response), or any JSON, as bytes."""
    return encoded_with_odd_tokens(draw, draw(records(model) | json_values))


def check_record(body: bytes, model: type[Any]) -> bool:
    """A fetched record: what the fast path builds the reference builds identically;
    structure_body answers as the reference does. Whether the fast path took it."""
    slow = attempt(lambda: structure(decode_json(body), model))
    fast = record_decoder(model).decode(body)
    if fast is not None:
        assert not isinstance(slow, InvalidResponseError), f"fast path took what fails: {slow}"
        assert_identical(fast, slow)
    outcome = attempt(lambda: structure_body(body, model))
    if isinstance(slow, InvalidResponseError):
        assert_same_refusal(outcome, slow)
    else:
        assert_identical(outcome, slow)
    return fast is not None


@settings(parent=FUZZ, max_examples=300)
@given(st.data())
def test_fetched_records_read_alike_or_go_to_the_reference(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from(RECORD_MODELS))
    check_record(data.draw(record_bodies_bytes(model)), model)


def test_real_fetched_records_take_the_fast_path() -> None:
    for name in ("sdk_message_interaction_fetch_response", "docs_message_interaction_create"):
        assert check_record(orjson.dumps(load_fixture(name)), MessageInteraction) is True


@pytest.mark.parametrize(
    ("text", "taken"),
    [
        ("2015-07-30T20:00:00Z", True),
        ("2015-07-30T20:00:00.123456Z", True),
        ("2015-07-30 20:00:00z", True),
        ("2015-07-30T20:00:00+00:00", True),
        ("2015-07-30T20:00:00.9999999Z", False),  # msgspec rounds, the reference truncates
        ("2015-07-30T20:00:00+01:00", False),  # msgspec keeps the offset
        ("2015-07-30T20:00:00", False),  # msgspec keeps it naive; the reference says UTC
        ("Thu, 30 Jul 2015 20:00:00 +0000", False),  # RFC 2822: the reference only
    ],
)
def test_which_timestamps_the_fast_path_takes(text: str, taken: bool) -> None:
    assert len(text) <= MAX_TIMESTAMP_LENGTH or not taken
    record = {**VALID_MESSAGE_INTERACTION, "date_created": text}
    body = orjson.dumps({LIST_KEY: [record], "meta": VALID_META})
    assert check_page(body, MessageInteraction) is taken


@pytest.mark.parametrize("token", ODD_TOKENS, ids=lambda token: token[:16].decode(errors="replace"))
def test_odd_tokens_in_an_unknown_field(token: bytes) -> None:
    """msgspec skips unknown fields without range or UTF-8 checks: such pages must go to
    the reference, which reads (or refuses) them as it always did."""
    record = orjson.dumps({**VALID_MESSAGE_INTERACTION, "new_field": PLACEHOLDER})
    body = (
        b'{"interactions":['
        + record.replace(PLACEHOLDER_JSON, token)
        + b'],"meta":'
        + orjson.dumps(VALID_META)
        + b"}"
    )
    assert check_page(body, MessageInteraction) is False


def test_real_pages_take_the_fast_path() -> None:
    """The fast path is not refusing everything: Twilio's own example page is taken."""
    body = load_fixture("docs_message_interaction_list_generated")
    assert check_page(orjson.dumps(body), MessageInteraction) is True
    assert check_page(json.dumps(body, indent=2).encode(), MessageInteraction) is True
    received = receive_body(orjson.dumps(body), MessageInteraction, LIST_KEY)
    assert isinstance(received.records, MirroredRecords)


def test_mirrors_follow_the_record_classes() -> None:
    """One mirror per record class, field for field, defaults included."""
    for model in [*RECORD_MODELS, PageMeta]:
        mirror = mirror_of(model)
        assert mirror is not None, model
        hints = typing.get_type_hints(model)
        assert mirror.__struct_fields__ == tuple(field.name for field in attrs.fields(model))
        assert mirror.__struct_defaults__ == tuple(
            field.default for field in attrs.fields(model) if field.default is not attrs.NOTHING
        )
        assert set(hints) == set(mirror.__struct_fields__)


async def fake_server_pages(interactions: int, *, page_size: int) -> list[Page[Any]]:
    """Every page of one session of ``interactions`` records, from the fake server."""
    async with FakeProxyServer(
        sessions_per_service=1, interactions_per_session=interactions
    ) as server:
        service_sid = server.service_sids[0]
        session_sid = server.session_sids(service_sid)[0]
        async with ProxyClient(
            server.account_sid, server.auth_token, base_url=server.url
        ) as client:
            resource = client.services(service_sid).sessions(session_sid).interactions
            return [page async for page in resource.pages(page_size=page_size)]


async def test_stream_and_export_pages_take_the_fast_path(tmp_path: Any) -> None:
    """Pages from the fake server go through the fast path end to end."""
    pages = await fake_server_pages(30, page_size=7)
    assert sum(len(page) for page in pages) == 30
    for page in pages:
        assert isinstance(page.raw_records, MirroredRecords)
        assert page.raw_items == tuple(
            orjson.loads(line) for line in page.raw_records.ndjson().splitlines()
        )
        assert [record.sid for record in page.items] == [raw["sid"] for raw in page.raw_items]


async def test_an_export_checks_every_record_but_builds_none(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exporter writes records as sent: it never needs them built, only checked."""
    from proxy_async.bulk_export.run import export
    from proxy_async.models.fast_path import PageDecoder

    calls = {"accepts": 0, "build": 0}
    real_accepts, real_build = PageDecoder.accepts, PageDecoder.build

    def accepts(self: PageDecoder[Any], mirrors: Any) -> bool:
        calls["accepts"] += 1
        return real_accepts(self, mirrors)

    def build(self: PageDecoder[Any], mirrors: Any) -> Any:
        calls["build"] += 1
        return real_build(self, mirrors)

    monkeypatch.setattr(PageDecoder, "accepts", accepts)
    monkeypatch.setattr(PageDecoder, "build", build)
    async with FakeProxyServer(sessions_per_service=2, interactions_per_session=30) as server:
        service_sid = server.service_sids[0]
        async with ProxyClient(
            server.account_sid, server.auth_token, base_url=server.url
        ) as client:
            summary = await export(client, service_sid, tmp_path / "out.ndjson", page_size=7)
    assert summary.complete
    assert summary.records == 60
    # Interaction pages (5 a session) and the Sessions listing page were all checked;
    # only the listing's Sessions were built (the exporter reads their SIDs).
    assert calls["accepts"] == 11
    assert calls["build"] == 1


async def fake_server_page(interactions: int) -> Page[Any]:
    """The one page of one session of ``interactions`` records, from the fake server."""
    [page] = await fake_server_pages(interactions, page_size=interactions)
    return page


async def test_iter_items_builds_a_chunk_at_a_time_and_keeps_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a stream yields: the records of ``items``, built 64 at a time, none kept."""
    from proxy_async.models.fast_path import PageDecoder

    page = await fake_server_page(150)
    sizes: list[int] = []
    real_build = PageDecoder.build

    def build(self: PageDecoder[Any], mirrors: Any) -> Any:
        sizes.append(len(mirrors))
        return real_build(self, mirrors)

    monkeypatch.setattr(PageDecoder, "build", build)
    streamed = list(page.iter_items())
    assert sizes == [64, 64, 22]
    items = page.items  # built now, all at once, and kept from here on
    assert sizes == [64, 64, 22, 150]
    assert len(streamed) == 150
    assert_all_identical(streamed, items)
    assert list(page.iter_items()) == list(items)
    assert all(a is b for a, b in zip(page.iter_items(), items, strict=True))
    assert sizes == [64, 64, 22, 150]


async def test_iter_items_hands_over_to_the_reference_mid_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should msgspec refuse a chunk it had accepted, the reference path builds the page
    and the records from that chunk on are yielded from it: each exactly once."""
    from proxy_async.models.fast_path import PageDecoder

    page = await fake_server_page(150)
    expected = list(page.raw_items)
    calls = 0
    real_build = PageDecoder.build

    def build(self: PageDecoder[Any], mirrors: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 2 else real_build(self, mirrors)

    monkeypatch.setattr(PageDecoder, "build", build)
    streamed = list(page.iter_items())
    assert [record.sid for record in streamed] == [raw["sid"] for raw in expected]
    assert calls == 2
    reference_items = reference(
        orjson.dumps({LIST_KEY: expected, "meta": attrs.asdict(page.meta)}), Interaction
    )
    assert isinstance(reference_items, Page)
    assert_all_identical(streamed, reference_items.items)

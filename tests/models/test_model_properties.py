"""Property tests: whatever a server sends, the model layer answers with a record or an
InvalidResponseError, never a bare KeyError/TypeError/ValueError, and what it builds is
well typed (strings are strings, datetimes are aware UTC, enums are their enum).

Runs are derandomized (no example database) so CI sees the same examples every time.
"""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy_async.errors import InvalidResponseError, ProxyError
from proxy_async.models import (
    Interaction,
    InteractionType,
    MessageInteraction,
    OpenEnum,
    PageMeta,
    Participant,
    ResourceStatus,
    Session,
    SessionMode,
    SessionStatus,
    decode_json,
    parse_datetime,
    structure,
    structure_page,
)
from proxy_async.models.converter import converter
from proxy_async.models.explain import diagnostic_converter

T = TypeVar("T")
UTC = timezone.utc
LIST_KEY = "interactions"

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

RECORD_MODELS: list[type[Any]] = [Interaction, MessageInteraction, Session, Participant]
ALL_MODELS: list[type[Any]] = [*RECORD_MODELS, PageMeta]

# --------------------------------------------------------------------------- strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

# Whole-minute offsets, as Twilio (and Python 3.10's fromisoformat fallback) handle them.
utc_offsets = st.integers(min_value=-23 * 60 + 1, max_value=23 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30), timezones=utc_offsets
)


@st.composite
def datetime_texts(draw: st.DrawFn) -> str:
    """ISO-8601 and RFC 2822 texts, plus near-misses, as a server might send them."""
    moment = draw(aware_datetimes)
    form = draw(st.sampled_from(["iso", "z", "naive", "fraction", "rfc2822", "noise"]))
    if form == "iso":
        return moment.isoformat()
    if form == "z":
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if form == "naive":
        return moment.replace(tzinfo=None).isoformat(sep=draw(st.sampled_from("T ")))
    if form == "fraction":
        digits = draw(st.text("0123456789", min_size=1, max_size=9))
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + "." + digits + "Z"
    if form == "rfc2822":
        return moment.strftime("%a, %d %b %Y %H:%M:%S %z")
    return draw(st.text(alphabet="0123456789-:+TZ., ", max_size=32))


def plausible_value(annotation: object) -> st.SearchStrategy[Any]:
    """Values of the right JSON type for a field (which may still be invalid, e.g. a date)."""
    inner = _without_none(annotation)
    nullable = inner is not annotation
    if inner is datetime:
        strategy: st.SearchStrategy[Any] = datetime_texts()
    elif inner is int:
        strategy = st.integers(min_value=-(2**63), max_value=2**63)
    elif inner == dict[str, str]:
        strategy = st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3)
    elif isinstance(inner, type) and issubclass(inner, OpenEnum):
        strategy = st.sampled_from([member.value for member in inner]) | st.text(max_size=20)
    else:
        strategy = st.text(max_size=40)
    return strategy | st.none() if nullable else strategy


def record_bodies(
    model: type[Any], value_for: Callable[[object], st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with ``model``'s real keys (``sid`` always, others optional)."""
    hints = typing.get_type_hints(model)
    names = [field.name for field in attrs.fields(model)]
    return st.fixed_dictionaries(
        {"sid": value_for(hints["sid"])},
        optional={name: value_for(hints[name]) for name in names if name != "sid"},
    )


def well_formed_bodies(model: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies with the real keys and values of the right JSON types."""
    return record_bodies(model, plausible_value)


def randomly_typed_bodies(model: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies with the real keys and arbitrary JSON values."""
    return record_bodies(model, lambda _: json_values)


VALID_MESSAGE_INTERACTION: dict[str, Any] = {
    "sid": "KI" + "a" * 32,
    "session_sid": "KC" + "a" * 32,
    "service_sid": "KS" + "a" * 32,
    "account_sid": "AC" + "a" * 32,
    "data": '{"body":"some message"}',
    "type": "message",
    "participant_sid": "KP" + "a" * 32,
    "inbound_participant_sid": None,
    "inbound_resource_sid": None,
    "inbound_resource_status": None,
    "inbound_resource_type": None,
    "inbound_resource_url": None,
    "outbound_participant_sid": "KP" + "a" * 32,
    "outbound_resource_sid": "SM" + "a" * 32,
    "outbound_resource_status": "sent",
    "outbound_resource_type": "Message",
    "outbound_resource_url": None,
    "date_created": "2015-07-30T20:00:00Z",
    "date_updated": "2015-07-30T20:00:00Z",
    "url": "https://proxy.twilio.com/v1/Services/KS/Sessions/KC/Participants/KP/MessageInteractions",
}
VALID_META: dict[str, Any] = {
    "key": "interactions",
    "page": 0,
    "page_size": 50,
    "url": "https://proxy.twilio.com/v1/x?PageSize=50&Page=0",
    "first_page_url": "https://proxy.twilio.com/v1/x?PageSize=50&Page=0",
    "next_page_url": None,
    "previous_page_url": None,
}


# --------------------------------------------------------------------------- checks


def _without_none(annotation: object) -> object:
    args = typing.get_args(annotation)
    if type(None) in args:
        (inner,) = [arg for arg in args if arg is not type(None)]
        return inner
    return annotation


def assert_well_typed(record: object) -> None:
    """Every field of ``record`` holds a value of its declared type (None where Optional)."""
    record_type = type(record)
    assert attrs.has(record_type)
    hints = typing.get_type_hints(record_type)
    for field in attrs.fields(record_type):
        value = getattr(record, field.name)
        annotation = hints[field.name]
        inner = _without_none(annotation)
        if value is None:
            assert inner is not annotation, f"{field.name} is None but not Optional"
            continue
        if inner is datetime:
            assert type(value) is datetime, field.name
            assert value.tzinfo is UTC, f"{field.name} is not UTC: {value!r}"
        elif inner is int:
            assert type(value) is int, field.name
        elif inner is str:
            assert type(value) is str, field.name
        elif inner == dict[str, str]:
            assert type(value) is dict, field.name
            assert all(type(v) is str for v in value.values()), field.name
        else:
            assert isinstance(inner, type), field.name
            assert issubclass(inner, OpenEnum), field.name
            assert type(value) is inner, field.name
            assert type(value.value) is str, field.name


def attempt(action: Callable[[], T]) -> T | InvalidResponseError:
    """The action's result, or the InvalidResponseError it raised (anything else propagates)."""
    try:
        return action()
    except InvalidResponseError as error:
        return error


# --------------------------------------------------------------------------- properties


@FUZZ
@given(data=json_values, model=st.sampled_from(ALL_MODELS))
def test_arbitrary_json_structures_or_raises_invalid_response(data: Any, model: type[Any]) -> None:
    outcome = attempt(lambda: structure(data, model))
    if isinstance(outcome, InvalidResponseError):
        assert isinstance(outcome, ProxyError)
        assert isinstance(outcome.field, str)
    else:
        assert type(outcome) is model
        assert_well_typed(outcome)


@FUZZ
@given(body=json_values, model=st.sampled_from(RECORD_MODELS))
def test_arbitrary_json_page_structures_or_raises_invalid_response(
    body: Any, model: type[Any]
) -> None:
    outcome = attempt(lambda: structure_page(body, model, LIST_KEY))
    if isinstance(outcome, InvalidResponseError):
        assert isinstance(outcome.field, str)
    else:
        assert_well_typed(outcome.meta)
        for record in outcome:
            assert_well_typed(record)


@FUZZ
@given(st.data())
def test_real_keys_with_random_value_types(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from(RECORD_MODELS))
    body = data.draw(randomly_typed_bodies(model))
    outcome = attempt(lambda: structure(body, model))
    if isinstance(outcome, InvalidResponseError):
        assert outcome.field in body, f"{outcome.field!r} is not a key of the body"
    else:
        assert_well_typed(outcome)


@FUZZ
@given(st.data())
def test_real_keys_with_plausible_values(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from(RECORD_MODELS))
    body = data.draw(well_formed_bodies(model))
    hints = typing.get_type_hints(model)
    outcome = attempt(lambda: structure(body, model))
    if isinstance(outcome, InvalidResponseError):
        # Every other plausible value is valid: only a date text can be malformed.
        assert _without_none(hints[outcome.field]) is datetime, outcome.field
        return
    assert_well_typed(outcome)
    for name, value in body.items():
        if hints[name] == str | None:
            assert getattr(outcome, name) == value


MESSAGE_INTERACTION_FIELDS = [field.name for field in attrs.fields(MessageInteraction)]
PAGE_META_FIELDS = [field.name for field in attrs.fields(PageMeta)]


@FUZZ
@given(field=st.sampled_from(MESSAGE_INTERACTION_FIELDS), value=json_values)
def test_valid_record_with_one_field_replaced(field: str, value: Any) -> None:
    body = {**VALID_MESSAGE_INTERACTION, field: value}
    outcome = attempt(lambda: structure(body, MessageInteraction))
    if isinstance(outcome, InvalidResponseError):
        assert outcome.field == field
    else:
        assert_well_typed(outcome)


@FUZZ
@given(
    field=st.sampled_from(MESSAGE_INTERACTION_FIELDS),
    value=json_values,
    index=st.integers(min_value=0, max_value=2),
)
def test_valid_page_with_one_item_field_replaced(field: str, value: Any, index: int) -> None:
    items = [dict(VALID_MESSAGE_INTERACTION) for _ in range(3)]
    items[index][field] = value
    body = {LIST_KEY: items, "meta": VALID_META}
    outcome = attempt(lambda: structure_page(body, MessageInteraction, LIST_KEY))
    if isinstance(outcome, InvalidResponseError):
        assert outcome.field == f"{LIST_KEY}[{index}].{field}"
        return
    assert len(outcome) == 3
    for record in outcome:
        assert_well_typed(record)


@FUZZ
@given(field=st.sampled_from(PAGE_META_FIELDS), value=json_values)
def test_valid_page_with_one_meta_field_replaced(field: str, value: Any) -> None:
    body = {LIST_KEY: [VALID_MESSAGE_INTERACTION], "meta": {**VALID_META, field: value}}
    outcome = attempt(lambda: structure_page(body, MessageInteraction, LIST_KEY))
    if isinstance(outcome, InvalidResponseError):
        assert outcome.field == f"meta.{field}"
    else:
        assert_well_typed(outcome.meta)


@FUZZ
@given(text=datetime_texts())
def test_structured_datetimes_are_aware_utc(text: str) -> None:
    body = {**VALID_MESSAGE_INTERACTION, "date_created": text}
    outcome = attempt(lambda: structure(body, MessageInteraction))
    if isinstance(outcome, InvalidResponseError):
        assert outcome.field == "date_created"
    else:
        assert outcome.date_created is not None
        assert outcome.date_created.tzinfo is UTC


@FUZZ
@given(moment=aware_datetimes)
def test_isoformat_round_trips_to_the_same_instant_in_utc(moment: datetime) -> None:
    parsed = parse_datetime(moment.isoformat())
    assert parsed == moment
    assert parsed.tzinfo is UTC


@FUZZ
@given(moment=aware_datetimes.map(lambda moment: moment.replace(tzinfo=None)))
def test_naive_times_are_taken_as_utc(moment: datetime) -> None:
    parsed = parse_datetime(moment.isoformat())
    assert parsed == moment.replace(tzinfo=UTC)
    assert parsed.tzinfo is UTC


ENUM_TYPES: list[type[OpenEnum]] = [InteractionType, ResourceStatus, SessionStatus, SessionMode]
KNOWN_ENUM_VALUES = sorted({member.value for enum_type in ENUM_TYPES for member in enum_type})
enum_texts = st.text(max_size=20) | st.sampled_from(KNOWN_ENUM_VALUES).flatmap(
    lambda value: st.sampled_from([value, value.upper(), value.title()])
)


@FUZZ
@given(enum_type=st.sampled_from(ENUM_TYPES), text=enum_texts)
def test_any_enum_text_is_kept_and_known_only_if_listed(
    enum_type: type[OpenEnum], text: str
) -> None:
    member = enum_type(text)
    assert type(member) is enum_type
    known_values = {known.value for known in enum_type}
    assert member.is_known == (text.lower() in known_values)
    if member.is_known:
        assert member.value == text.lower()
    else:
        assert member == text
        assert member.value == text


@FUZZ
@given(body=st.binary(max_size=200))
def test_decode_json_of_random_bytes(body: bytes) -> None:
    outcome = attempt(lambda: decode_json(body))
    if isinstance(outcome, InvalidResponseError):
        assert "not valid JSON" in str(outcome)
        assert outcome.field == ""


@FUZZ
@given(value=json_values)
def test_decode_json_round_trips_json_documents(value: Any) -> None:
    assert decode_json(orjson.dumps(value)) == value


@FUZZ
@given(value=json_values, data=st.data())
def test_decode_json_of_truncated_documents(value: Any, data: st.DataObject) -> None:
    document = orjson.dumps(value)
    cut = data.draw(st.integers(min_value=0, max_value=len(document)))
    outcome = attempt(lambda: decode_json(document[:cut]))
    if isinstance(outcome, InvalidResponseError):
        assert "not valid JSON" in str(outcome)
    elif cut == len(document):
        assert outcome == value


def _refuse(text: str) -> Any:
    raise ValueError(text)


def json_or_text(data: str) -> Any:
    """What ``decoded_data`` promises: the JSON value of ``data`` as Python's ``json``
    reads it (a byte order mark skipped; ``NaN``, ``Infinity`` and ``1e400`` refused),
    or ``data`` itself."""

    def finite(text: str) -> float:
        value = float(text)
        return value if math.isfinite(value) else _refuse(text)

    try:
        return json.loads(data.removeprefix("\ufeff"), parse_constant=_refuse, parse_float=finite)
    except (ValueError, RecursionError):
        return data


# Pieces of JSON orjson refuses or misreads (a lone surrogate escaped and raw, a byte
# order mark, integers beyond 64 bits, NaN, a number beyond a double) among plain ones.
_ODD_JSON_TOKENS = [
    *'{}[]":, a1',
    "\\ud83d",
    "\ud83d",
    "\ufeff",
    "123456789012345678901234567890",
    "NaN",
    "1e400",
    '{"body":"',
]


@FUZZ
@given(
    data=st.none()
    | st.text(max_size=60)
    | json_values.map(lambda value: orjson.dumps(value).decode())
    | st.lists(st.sampled_from(_ODD_JSON_TOKENS), max_size=12).map("".join)
)
def test_decoded_data_is_the_json_value_or_the_text(data: str | None) -> None:
    record = structure({**VALID_MESSAGE_INTERACTION, "data": data}, MessageInteraction)
    assert record.data == data
    assert record.decoded_data == (None if data is None else json_or_text(data))


# ------------------------------------------- the generated fast path vs cattrs' own hooks
#
# models.converter structures records with hooks generated by proxy_async
# (models.record_hook); the diagnostic converter uses cattrs' generated hooks over the
# same primitive hooks. The fast path must build exactly what cattrs builds, and fail
# exactly where cattrs fails.


def _reference(body: Any, model: type[T]) -> T:
    return diagnostic_converter.structure(body, model)


def _fields_of(record: Any) -> list[tuple[str, type, object]]:
    """Each field's name, exact type and value: equal records with equal field types."""
    return [
        (field.name, type(getattr(record, field.name)), getattr(record, field.name))
        for field in attrs.fields(type(record))
    ]


def assert_same_as_cattrs(body: Any, model: type[Any]) -> None:
    fast_hook = converter.get_structure_hook(model)
    try:
        expected = _reference(body, model)
    except Exception:
        with pytest.raises(Exception):  # noqa: B017, PT011 (any failure: then explained)
            fast_hook(body, model)
        with pytest.raises(InvalidResponseError):
            structure(body, model)
        return
    built = fast_hook(body, model)
    assert type(built) is model
    assert built == expected
    assert _fields_of(built) == _fields_of(expected)


def test_fast_path_hooks_are_generated_for_every_record_model() -> None:
    for model in ALL_MODELS:
        hook = converter.get_structure_hook(model)
        assert hook.__name__ == f"structure_{model.__name__}"
        assert hook.__doc__ is not None
        assert "def structure_" in hook.__doc__


@pytest.mark.parametrize("model", RECORD_MODELS, ids=lambda model: model.__name__)
@FUZZ
@given(data=st.data())
def test_fast_path_equals_cattrs_on_well_formed_records(model: type[Any], data: Any) -> None:
    assert_same_as_cattrs(data.draw(well_formed_bodies(model)), model)


@pytest.mark.parametrize("model", RECORD_MODELS, ids=lambda model: model.__name__)
@FUZZ
@given(data=st.data())
def test_fast_path_equals_cattrs_on_randomly_typed_records(model: type[Any], data: Any) -> None:
    assert_same_as_cattrs(data.draw(randomly_typed_bodies(model)), model)


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            name: plausible_value(annotation) | json_values
            for name, annotation in typing.get_type_hints(PageMeta).items()
        },
    )
)
def test_fast_path_equals_cattrs_on_page_meta(body: dict[str, Any]) -> None:
    assert_same_as_cattrs(body, PageMeta)


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
@FUZZ
@given(body=json_values)
def test_fast_path_equals_cattrs_on_any_json(model: type[Any], body: Any) -> None:
    assert_same_as_cattrs(body, model)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"type": "MESSAGE"},
        {"type": "Voice"},
        {"type": "carrier-pigeon"},
        {"type": ""},
        {"type": 1},
        {"type": ["message"]},
        {"outbound_resource_status": "in-progress"},
        {"outbound_resource_status": {"a": 1}},
        {"date_created": "1984-11-24T21:58:21.033Z"},
        {"date_created": "2015-07-30T20:00:00+02:00"},
        {"date_created": "2015-07-30 20:00:00"},
        {"date_created": "Thu, 30 Jul 2015 20:00:00 +0000"},
        {"date_created": 12},
        {"date_created": "yesterday"},
        {"sid": None},
        {"sid": 7},
        {"data": {"body": "an object, not a string"}},
        {"participant_sid": True},
    ],
    ids=repr,
)
def test_fast_path_equals_cattrs_on_edge_cases(changes: dict[str, Any]) -> None:
    assert_same_as_cattrs({**VALID_MESSAGE_INTERACTION, **changes}, MessageInteraction)
    without_sid = {k: v for k, v in VALID_MESSAGE_INTERACTION.items() if k != "sid"}
    assert_same_as_cattrs(without_sid, MessageInteraction)


def test_fast_path_equals_cattrs_on_session_defaults() -> None:
    sid = "KC" + "a" * 32
    for body in [
        {"sid": sid},
        {"sid": sid, "ttl": 3600, "links": {"participants": "https://x"}},
        {"sid": sid, "ttl": None},
        {"sid": sid, "ttl": "3600"},
        {"sid": sid, "links": {"participants": 1}},
        {"sid": sid, "status": "OPEN", "mode": "voice-and-message"},
    ]:
        assert_same_as_cattrs(body, Session)

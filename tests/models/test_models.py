"""The model layer: every shared fixture, datetimes, enums, ``data``, and bad responses.

Every payload in ``../shared/fixtures`` must structure into the record its endpoint
returns, with each field checked for value *and* type (``==`` alone would let a plain
``"message"`` pass for ``InteractionType.MESSAGE`` and a ``+05:00`` datetime pass for UTC).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

from proxy_async.errors import InvalidResponseError, ProxyError, ResponseError
from proxy_async.models import (
    Interaction,
    InteractionType,
    MessageInteraction,
    OpenEnum,
    Page,
    PageMeta,
    Participant,
    ResourceStatus,
    Session,
    SessionMode,
    SessionStatus,
    decode_json,
    hooks,
    parse_datetime,
    structure,
    structure_page,
)
from proxy_async.models.hooks import _parse_datetime_slow

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FIXTURES = SHARED / "fixtures"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))
EXPECTED_FIXTURE_COUNT = 9

UTC = timezone.utc
LIST_KEY = "interactions"

AC_A = "AC" + "a" * 32
KS_A = "KS" + "a" * 32
KC_A = "KC" + "a" * 32
KI_A = "KI" + "a" * 32
KP_A = "KP" + "a" * 32
KP_B = "KP" + "b" * 32
SM_A = "SM" + "a" * 32
SM_B = "SM" + "b" * 32
SESSION_URL = f"https://proxy.twilio.com/v1/Services/{KS_A}/Sessions/{KC_A}"
PARTICIPANT_URL = f"{SESSION_URL}/Participants/{KP_A}"
JULY_30_2015_20H = datetime(2015, 7, 30, 20, 0, 0, tzinfo=UTC)
SOME_MESSAGE_DATA = '{"body":"some message"}'

InteractionModel = type[Interaction] | type[MessageInteraction]
InteractionRecord = Interaction | MessageInteraction
InteractionPage = Page[Interaction] | Page[MessageInteraction]


# --------------------------------------------------------------------------- expectations


def empty_page_meta(list_url: str) -> PageMeta:
    """The ``meta`` of the first, empty page of a list at ``list_url`` (default size 50)."""
    first_page = f"{list_url}?PageSize=50&Page=0"
    return PageMeta(
        key="interactions",
        page=0,
        page_size=50,
        url=first_page,
        first_page_url=first_page,
        next_page_url=None,
        previous_page_url=None,
    )


SDK_INTERACTION = Interaction(
    sid=KI_A,
    session_sid=KC_A,
    service_sid=KS_A,
    account_sid=AC_A,
    data=SOME_MESSAGE_DATA,
    type=InteractionType.MESSAGE,
    inbound_participant_sid=KP_A,
    inbound_resource_sid=SM_A,
    inbound_resource_status=ResourceStatus.SENT,
    inbound_resource_type="Message",
    inbound_resource_url=None,
    outbound_participant_sid=KP_B,
    outbound_resource_sid=SM_B,
    outbound_resource_status=ResourceStatus.SENT,
    outbound_resource_type="Message",
    outbound_resource_url=None,
    date_created=JULY_30_2015_20H,
    date_updated=JULY_30_2015_20H,
    url=f"{SESSION_URL}/Interactions/{KI_A}",
)

SDK_MESSAGE_INTERACTION = MessageInteraction(
    sid=KI_A,
    session_sid=KC_A,
    service_sid=KS_A,
    account_sid=AC_A,
    data=SOME_MESSAGE_DATA,
    type=InteractionType.MESSAGE,
    inbound_participant_sid=None,
    inbound_resource_sid=None,
    inbound_resource_status=None,
    inbound_resource_type=None,
    inbound_resource_url=None,
    outbound_participant_sid=KP_A,
    outbound_resource_sid=SM_A,
    outbound_resource_status=ResourceStatus.SENT,
    outbound_resource_type="Message",
    outbound_resource_url=None,
    date_created=JULY_30_2015_20H,
    date_updated=JULY_30_2015_20H,
    url=f"{PARTICIPANT_URL}/MessageInteractions/{KI_A}",
    participant_sid=KP_A,
)

# The API reference example: "string" placeholders in SID fields and +00:00 offsets.
DOCS_CREATED_AT = datetime(2023, 5, 4, 9, 42, 0, tzinfo=UTC)
DOCS_MESSAGE_INTERACTION_CREATE = MessageInteraction(
    sid="string",
    session_sid="string",
    service_sid="string",
    account_sid="string",
    data="string",
    type=InteractionType.MESSAGE,
    inbound_participant_sid="string",
    inbound_resource_sid="string",
    inbound_resource_status=ResourceStatus.ACCEPTED,
    inbound_resource_type="string",
    inbound_resource_url="https://example.com",
    outbound_participant_sid="string",
    outbound_resource_sid="string",
    outbound_resource_status=ResourceStatus.ACCEPTED,
    outbound_resource_type="string",
    outbound_resource_url="https://example.com",
    date_created=DOCS_CREATED_AT,
    date_updated=DOCS_CREATED_AT,
    url="https://example.com",
    participant_sid="string",
)

DOCS_MESSAGE_INTERACTION_FETCH = attrs.evolve(
    SDK_MESSAGE_INTERACTION, outbound_resource_status=ResourceStatus.SENT
)

# Schema-generated: mixed-case hex SIDs, type voice, millisecond timestamps, odd URLs.
GENERATED_VOICE_RECORD = MessageInteraction(
    sid="KI151E5F18f4A04162DCaF81Fd7bfCAE8B",
    session_sid="KCA0CfcEd0AACF071D7B4bFa19D09A9581",
    service_sid="KSC75da6B95807411E54fc6C8ca02Adc5c",
    account_sid="AC24DBE22a6BcB0cacc75bb7E47A7cE9D1",
    data="fugiat voluptate e",
    type=InteractionType.VOICE,
    participant_sid="KPAECD9AE773847ECFb1fDDB43F02D0d64",
    inbound_participant_sid="KPf2D52EfcB2355d82aa57acC6EF45F381",
    inbound_resource_sid="Ym099913666c4Bd6Cf79Ee59Bef85AFD27",
    inbound_resource_status=ResourceStatus.INITIATED,
    inbound_resource_type="esse consequat Duis",
    inbound_resource_url=(
        "https://LKsgQXIuNoTzVeyKDKTgcheDjf.iifT14JWGHwedWoldsaTCvI0Bt-nvn0ZaQZsEkYR439wYKaoORy"
        "+usQi506Ueg0"
    ),
    outbound_participant_sid="KP379AC7B0E835EFB8A6E96515a27db25A",
    outbound_resource_sid="tv6Cf0a38b6958bfDa3eeAC11becD946d6",
    outbound_resource_status=ResourceStatus.SCHEDULED,
    outbound_resource_type="ex sit qui magna est",
    outbound_resource_url="https://DkkCdNyfWXI.ezdgb8vwMAgoiJ5TvxK1QLeeR6UO3ku6",
    date_created=datetime(1984, 11, 24, 21, 58, 21, 33_000, tzinfo=UTC),
    date_updated=datetime(1949, 11, 23, 9, 1, 27, 171_000, tzinfo=UTC),
    url="https://YOM.qzzad-FOpkrkFG4-y",
)
GENERATED_MESSAGE_RECORD = MessageInteraction(
    sid="KIba49059aF1d84Fe4BbD1CF7f1dfA7aD9",
    session_sid="KCFfe6c497363B00C9De3deCE1f1BabdF1",
    service_sid="KS80EeAc4e7c2BBed969fe03Cbdf4de6fb",
    account_sid="ACa962C8bEDCE5dC171A15fbE74818cB0a",
    data="sunt dolor",
    type=InteractionType.MESSAGE,
    participant_sid="KP4362Fa4fDD1c2A5CeFcf3601dea4cbdd",
    inbound_participant_sid="KP36B2aD4d63E044B5c8F6fdD3361Cfdc8",
    inbound_resource_sid="ap45bb42FEa46c17Eb99e90fDBd5abcAd4",
    inbound_resource_status=ResourceStatus.SENT,
    inbound_resource_type="cillum ullamco",
    inbound_resource_url="https://rqT.xrGjJhabLtRVp,aM8ST+EuvV55QudX4oISEaBXdIqjt3snXgVNL",
    outbound_participant_sid="KPDaE08B758e5bC911BDcfd3d7BeEfCe74",
    outbound_resource_sid="am4CFFFD809cCa2f7e9ff05cc1458BFf4b",
    outbound_resource_status=ResourceStatus.IN_PROGRESS,
    outbound_resource_type="aute veniam proident",
    outbound_resource_url="http://Zggjll.qmmfyi0,AP5baY",
    date_created=datetime(1966, 7, 27, 18, 12, 43, 435_000, tzinfo=UTC),
    date_updated=datetime(1965, 12, 12, 22, 57, 16, 788_000, tzinfo=UTC),
    url="https://LxSjjpPEZW.fexMuNxGE.AInDYbRvYVPIfqsXF1EsI",
)
GENERATED_META = PageMeta(
    key="in cillum",
    page=-42267287,
    page_size=6803768,
    url="http://WLfkquOzczdozJAOvVKxIbptyKHWNF.ucqss8VbbgT514CcQPO7uKCjY85hdPPWB",
    first_page_url="https://moICOqun.lyjnXj",
    next_page_url="https://HrBLDFbfYjEPmzAtbgLSEn.caioG",
    previous_page_url=(
        "http://XfDdbywJFKrjshOLzt.vljeh.MwkiD5Tn0-WOm8oN220vFXqrhqfm3VtArmT2cIepu6HHMA6YPfLHX1Zd"
    ),
)
GENERATED_PAGE = Page((GENERATED_VOICE_RECORD, GENERATED_MESSAGE_RECORD), GENERATED_META)


@attrs.frozen
class FixtureExpectation:
    """What one shared fixture file holds: its status, endpoint model and exact records."""

    status: int
    model: InteractionModel
    expected: InteractionRecord | InteractionPage

    def structure(self, body: Any) -> object:
        """Structure ``body`` the way the client does for this fixture's endpoint."""
        if isinstance(self.expected, Page):
            return structure_page(body, self.model, LIST_KEY)
        return structure(body, self.model)


INTERACTIONS_URL = f"{SESSION_URL}/Interactions"
MESSAGE_INTERACTIONS_URL = f"{PARTICIPANT_URL}/MessageInteractions"

EXPECTED_BY_FIXTURE: dict[str, FixtureExpectation] = {
    "docs_interaction_list_empty.json": FixtureExpectation(
        200, Interaction, Page((), empty_page_meta(INTERACTIONS_URL))
    ),
    "docs_message_interaction_create.json": FixtureExpectation(
        201, MessageInteraction, DOCS_MESSAGE_INTERACTION_CREATE
    ),
    "docs_message_interaction_fetch.json": FixtureExpectation(
        200, MessageInteraction, DOCS_MESSAGE_INTERACTION_FETCH
    ),
    "docs_message_interaction_list_generated.json": FixtureExpectation(
        200, MessageInteraction, GENERATED_PAGE
    ),
    "sdk_interaction_fetch_response.json": FixtureExpectation(200, Interaction, SDK_INTERACTION),
    "sdk_interaction_read_empty_response.json": FixtureExpectation(
        200, Interaction, Page((), empty_page_meta(INTERACTIONS_URL))
    ),
    "sdk_message_interaction_create_response.json": FixtureExpectation(
        201, MessageInteraction, SDK_MESSAGE_INTERACTION
    ),
    "sdk_message_interaction_fetch_response.json": FixtureExpectation(
        200, MessageInteraction, SDK_MESSAGE_INTERACTION
    ),
    "sdk_message_interaction_read_empty_response.json": FixtureExpectation(
        200, MessageInteraction, Page((), empty_page_meta(MESSAGE_INTERACTIONS_URL))
    ),
}


# --------------------------------------------------------------------------- helpers


def load_fixture_document(path: Path) -> Any:
    """The whole ``{"status": ..., "body": ...}`` document, decoded as the client would."""
    return decode_json(path.read_bytes())


def load_fixture_body(name: str) -> Any:
    """The ``body`` of ``../shared/fixtures/<name>``."""
    return load_fixture_document(FIXTURES / name)["body"]


def assert_utc(value: datetime, where: str = "datetime") -> None:
    """``value`` is timezone-aware and in UTC (the ``timezone.utc`` singleton)."""
    assert value.tzinfo is UTC, f"{where}: tzinfo is {value.tzinfo!r}, expected UTC"
    assert value.utcoffset() == timedelta(0)


def assert_identical(actual: object, expected: object, where: str = "record") -> None:
    """Equal values of identical types, recursively through records, pages and meta."""
    assert type(actual) is type(expected), (
        f"{where}: got {type(actual).__name__}, expected {type(expected).__name__}"
    )
    if isinstance(expected, Page):
        assert isinstance(actual, Page)
        assert len(actual.items) == len(expected.items), f"{where}: item count differs"
        for index, (actual_item, expected_item) in enumerate(
            zip(actual.items, expected.items, strict=True)
        ):
            assert_identical(actual_item, expected_item, f"{where}.items[{index}]")
        assert_identical(actual.meta, expected.meta, f"{where}.meta")
        return
    record_type = type(expected)
    if attrs.has(record_type):
        for field in attrs.fields(record_type):
            assert_identical(
                getattr(actual, field.name), getattr(expected, field.name), f"{where}.{field.name}"
            )
        return
    assert actual == expected, f"{where}: got {actual!r}, expected {expected!r}"
    if isinstance(actual, datetime):
        assert_utc(actual, where)


def with_field(body: dict[str, Any], name: str, value: object) -> dict[str, Any]:
    """A copy of ``body`` with ``name`` set to ``value``."""
    return {**body, name: value}


def without_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of ``body`` without ``name``."""
    return {key: value for key, value in body.items() if key != name}


# --------------------------------------------------------------------------- fixtures


def test_fixture_directory_holds_exactly_the_expected_files() -> None:
    names = {path.name for path in FIXTURE_FILES}
    assert len(FIXTURE_FILES) == EXPECTED_FIXTURE_COUNT, f"fixtures found in {FIXTURES}: {names}"
    assert names == set(EXPECTED_BY_FIXTURE)


@pytest.mark.parametrize("fixture_path", FIXTURE_FILES, ids=lambda path: path.stem)
def test_fixture_structures_into_its_expected_records(fixture_path: Path) -> None:
    expectation = EXPECTED_BY_FIXTURE.get(fixture_path.name)
    assert expectation is not None, (
        f"{fixture_path.name} is new: add the records it must become to EXPECTED_BY_FIXTURE"
    )
    document = load_fixture_document(fixture_path)
    assert document["status"] == expectation.status
    assert_identical(expectation.structure(document["body"]), expectation.expected)


@pytest.mark.parametrize(
    "fixture_name",
    [name for name, case in EXPECTED_BY_FIXTURE.items() if not isinstance(case.expected, Page)],
)
def test_single_record_fixture_also_structures_as_a_list_item(fixture_name: str) -> None:
    expectation = EXPECTED_BY_FIXTURE[fixture_name]
    list_body = {LIST_KEY: [load_fixture_body(fixture_name)], "meta": attrs.asdict(GENERATED_META)}
    page = structure_page(list_body, expectation.model, LIST_KEY)
    assert_identical(page, Page((expectation.expected,), GENERATED_META))


def test_generated_fixture_keeps_mixed_case_sids_verbatim() -> None:
    page = structure_page(
        load_fixture_body("docs_message_interaction_list_generated.json"),
        MessageInteraction,
        LIST_KEY,
    )
    assert [record.sid for record in page] == [
        "KI151E5F18f4A04162DCaF81Fd7bfCAE8B",
        "KIba49059aF1d84Fe4BbD1CF7f1dfA7aD9",
    ]
    assert page.items[0].participant_sid == "KPAECD9AE773847ECFb1fDDB43F02D0d64"
    assert page.items[0].inbound_resource_sid == "Ym099913666c4Bd6Cf79Ee59Bef85AFD27"


def test_generated_fixture_reads_voice_type_and_millisecond_timestamps() -> None:
    page = structure_page(
        load_fixture_body("docs_message_interaction_list_generated.json"),
        MessageInteraction,
        LIST_KEY,
    )
    voice, message = page.items
    assert voice.type is InteractionType.VOICE
    assert message.type is InteractionType.MESSAGE
    assert voice.date_created == datetime(1984, 11, 24, 21, 58, 21, 33_000, tzinfo=UTC)
    assert message.date_updated == datetime(1965, 12, 12, 22, 57, 16, 788_000, tzinfo=UTC)
    for record in page:
        assert record.date_created is not None
        assert record.date_updated is not None
        assert_utc(record.date_created)
        assert_utc(record.date_updated)


def test_generated_fixture_meta_keeps_negative_page_and_odd_urls() -> None:
    page = structure_page(
        load_fixture_body("docs_message_interaction_list_generated.json"),
        MessageInteraction,
        LIST_KEY,
    )
    assert page.meta.page == -42267287
    assert page.meta.page_size == 6803768
    assert page.meta.key == "in cillum"
    assert page.meta.next_page_url == "https://HrBLDFbfYjEPmzAtbgLSEn.caioG"
    assert page.items[1].outbound_resource_url == "http://Zggjll.qmmfyi0,AP5baY"


def test_empty_list_fixture_is_the_last_page() -> None:
    page = structure_page(
        load_fixture_body("sdk_interaction_read_empty_response.json"), Interaction, LIST_KEY
    )
    assert page.items == ()
    assert page.meta.next_page_url is None
    assert page.meta.previous_page_url is None


def test_fixture_null_fields_become_none() -> None:
    record = structure(
        load_fixture_body("sdk_message_interaction_create_response.json"), MessageInteraction
    )
    assert record.inbound_participant_sid is None
    assert record.inbound_resource_sid is None
    assert record.inbound_resource_status is None
    assert record.inbound_resource_type is None
    assert record.inbound_resource_url is None
    assert record.outbound_resource_url is None


def test_docs_create_fixture_reads_plus_zero_offsets_as_utc() -> None:
    record = structure(
        load_fixture_body("docs_message_interaction_create.json"), MessageInteraction
    )
    assert record.date_created == datetime(2023, 5, 4, 9, 42, tzinfo=UTC)
    assert record.date_created is not None
    assert_utc(record.date_created)
    assert record.inbound_resource_status is ResourceStatus.ACCEPTED


# --------------------------------------------------------------------------- datetimes

DATETIME_FORMS: list[tuple[str, datetime]] = [
    ("2015-07-30T20:00:00Z", JULY_30_2015_20H),
    ("2015-07-30T20:00:00z", JULY_30_2015_20H),
    ("2015-07-30t20:00:00Z", JULY_30_2015_20H),
    ("2015-07-30T20:00:00+00:00", JULY_30_2015_20H),
    ("2015-07-30T20:00:00-00:00", JULY_30_2015_20H),
    ("2015-07-30T20:00:00+0000", JULY_30_2015_20H),
    ("2015-07-30T22:30:00+02:30", JULY_30_2015_20H),
    ("2015-07-31T01:30:00+0530", JULY_30_2015_20H),
    ("2015-07-30T15:00:00-05:00", JULY_30_2015_20H),
    ("2015-07-30T19:30:00-00:30", datetime(2015, 7, 30, 20, 0, tzinfo=UTC)),
    ("2015-07-31T01:00:00+05", JULY_30_2015_20H),
    ("2015-07-30T20:00:00", JULY_30_2015_20H),
    ("2015-07-30 20:00:00", JULY_30_2015_20H),
    ("2015-07-30T20:00Z", JULY_30_2015_20H),
    ("2015-07-30T20:00:00,5Z", datetime(2015, 7, 30, 20, 0, 0, 500_000, tzinfo=UTC)),
    ("1984-11-24T21:58:21.033Z", datetime(1984, 11, 24, 21, 58, 21, 33_000, tzinfo=UTC)),
    ("2016-12-31T23:00:00-02:00", datetime(2017, 1, 1, 1, 0, tzinfo=UTC)),
]

# 1..9 fraction digits; past 6 digits the extra ones are below a microsecond (the chosen
# digits make truncating and rounding agree, so either implementation passes).
FRACTION_FORMS: list[tuple[str, datetime]] = [
    (
        f"2015-07-30T20:00:00.{digits}Z",
        JULY_30_2015_20H.replace(microsecond=int(digits[:6].ljust(6, "0"))),
    )
    for digits in ["1", "12", "123", "1234", "12345", "123456", "1234561", "12345612", "123456123"]
]

RFC_2822_FORMS: list[tuple[str, datetime]] = [
    ("Thu, 30 Jul 2015 20:00:00 +0000", JULY_30_2015_20H),
    ("Thu, 30 Jul 2015 20:00:00 -0000", JULY_30_2015_20H),
    ("Thu, 30 Jul 2015 20:00:00 GMT", JULY_30_2015_20H),
    ("Thu, 30 Jul 2015 22:00:00 +0200", JULY_30_2015_20H),
    ("30 Jul 2015 15:00:00 -0500", JULY_30_2015_20H),
]

ALL_DATETIME_FORMS = DATETIME_FORMS + FRACTION_FORMS + RFC_2822_FORMS


@pytest.mark.parametrize(("text", "expected"), ALL_DATETIME_FORMS)
def test_parse_datetime_returns_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert_utc(parsed)


@pytest.mark.parametrize(("text", "expected"), ALL_DATETIME_FORMS)
def test_structured_datetime_fields_are_aware_utc(text: str, expected: datetime) -> None:
    body = {"sid": KI_A, "date_created": text, "date_updated": text}
    record = structure(body, Interaction)
    assert record.date_created == expected
    assert record.date_updated == expected
    assert record.date_created is not None
    assert_utc(record.date_created)


class _DatetimeWithoutFastPath(datetime):
    """Python 3.10's view: ``fromisoformat`` rejects all of these, so the fallback runs."""

    @classmethod
    def fromisoformat(cls, date_string: str) -> _DatetimeWithoutFastPath:
        raise ValueError(f"fast path disabled for {date_string!r}")


@pytest.mark.parametrize(("text", "expected"), ALL_DATETIME_FORMS)
def test_parse_datetime_is_utc_without_the_fromisoformat_fast_path(
    text: str, expected: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "datetime", _DatetimeWithoutFastPath)
    assert vars(hooks)["datetime"] is _DatetimeWithoutFastPath
    parsed = parse_datetime(text)
    assert parsed == expected
    assert_utc(parsed)


SLOW_PATH_ISO_FORMS: list[tuple[str, datetime, timedelta]] = [
    ("2015-07-30T20:00:00Z", JULY_30_2015_20H, timedelta(0)),
    ("2015-07-30T20:00:00+00:00", JULY_30_2015_20H, timedelta(0)),
    ("2015-07-30T20:00:00", JULY_30_2015_20H, timedelta(0)),
    ("2015-07-30T22:30:00+02:30", JULY_30_2015_20H, timedelta(hours=2, minutes=30)),
    ("2015-07-31T01:30:00+0530", JULY_30_2015_20H, timedelta(hours=5, minutes=30)),
    ("2015-07-30T14:30:00-05:30", JULY_30_2015_20H, -timedelta(hours=5, minutes=30)),
    ("2015-07-30T19:30:00-00:30", JULY_30_2015_20H, -timedelta(minutes=30)),
    ("2015-07-31T01:00:00+05", JULY_30_2015_20H, timedelta(hours=5)),
    ("2015-07-30T20:00Z", JULY_30_2015_20H, timedelta(0)),
    ("  2015-07-30T20:00:00Z\n", JULY_30_2015_20H, timedelta(0)),
    ("2015-07-30t20:00:00z", JULY_30_2015_20H, timedelta(0)),
    (
        "2015-07-30T20:00:00.1Z",
        JULY_30_2015_20H.replace(microsecond=100_000),
        timedelta(0),
    ),
    (
        "2015-07-30T20:00:00,25Z",
        JULY_30_2015_20H.replace(microsecond=250_000),
        timedelta(0),
    ),
    (
        "2015-07-30T20:00:00.123456123+00:00",
        JULY_30_2015_20H.replace(microsecond=123_456),
        timedelta(0),
    ),
    (
        "Thu, 30 Jul 2015 22:00:00 +0200",
        JULY_30_2015_20H,
        timedelta(hours=2),
    ),
]


@pytest.mark.parametrize(("text", "instant", "offset"), SLOW_PATH_ISO_FORMS)
def test_parse_datetime_slow_reads_instant_and_offset(
    text: str, instant: datetime, offset: timedelta
) -> None:
    parsed = _parse_datetime_slow(text)
    assert parsed.utcoffset() == offset
    assert parsed == instant


def test_parse_datetime_slow_keeps_rfc_2822_unknown_zone_naive_for_the_caller() -> None:
    parsed = _parse_datetime_slow("Thu, 30 Jul 2015 20:00:00 -0000")
    assert parsed.replace(tzinfo=UTC) == JULY_30_2015_20H
    assert parse_datetime("Thu, 30 Jul 2015 20:00:00 -0000").tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["", "garbage", "2015-07-30T", "30/07/2015 20:00", "2015-07-30T20:00:00+5"]
)
def test_parse_datetime_slow_rejects_non_dates_with_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO-8601 datetime"):
        _parse_datetime_slow(text)


@pytest.mark.parametrize("value", [12, 12.5, None, True, ["2015-07-30T20:00:00Z"]])
def test_parse_datetime_rejects_non_strings(value: object) -> None:
    with pytest.raises(TypeError, match="expected an ISO-8601 datetime string"):
        parse_datetime(value)


@pytest.mark.parametrize(
    "text",
    [
        "2015-13-30T20:00:00Z",
        "2015-02-30T20:00:00Z",
        "2015-07-30T25:00:00Z",
        "2015-07-30T20:00:00+25:00",
        "0001-01-01T00:00:00+01:00",
        "not a date",
        "",
    ],
)
def test_impossible_datetimes_are_invalid_responses(text: str) -> None:
    with pytest.raises(InvalidResponseError) as caught:
        structure({"sid": KI_A, "date_created": text}, Interaction)
    assert caught.value.field == "date_created"


# --------------------------------------------------------------------------- enums

ALL_ENUM_MEMBERS: list[OpenEnum] = [
    member
    for enum_type in (InteractionType, ResourceStatus, SessionStatus, SessionMode)
    for member in enum_type
]


@pytest.mark.parametrize("member", ALL_ENUM_MEMBERS, ids=repr)
def test_known_enum_values_are_known_members(member: OpenEnum) -> None:
    enum_type = type(member)
    assert enum_type(member.value) is member
    assert member.is_known
    assert str(member) == member.value


@pytest.mark.parametrize(
    ("enum_type", "text", "member"),
    [
        (InteractionType, "MESSAGE", InteractionType.MESSAGE),
        (InteractionType, "Voice", InteractionType.VOICE),
        (ResourceStatus, "In-Progress", ResourceStatus.IN_PROGRESS),
        (ResourceStatus, "DELIVERY-UNKNOWN", ResourceStatus.DELIVERY_UNKNOWN),
        (SessionStatus, "CLOSED", SessionStatus.CLOSED),
        (SessionMode, "Voice-And-Message", SessionMode.VOICE_AND_MESSAGE),
    ],
)
def test_enum_lookup_is_case_insensitive(
    enum_type: type[OpenEnum], text: str, member: OpenEnum
) -> None:
    found = enum_type(text)
    assert found is member
    assert found.is_known


def test_enum_field_is_case_insensitive_when_structured() -> None:
    body = {"sid": KI_A, "type": "MESSAGE", "outbound_resource_status": "SENT"}
    record = structure(body, Interaction)
    assert record.type is InteractionType.MESSAGE
    assert record.outbound_resource_status is ResourceStatus.SENT


def test_unknown_enum_value_is_kept_as_an_unknown_pseudo_member() -> None:
    video = InteractionType("video")
    assert isinstance(video, InteractionType)
    assert video == "video"
    assert video.value == "video"
    assert str(video) == "video"
    assert not video.is_known
    assert "video" not in {member.value for member in InteractionType}


def test_unknown_enum_value_survives_structuring() -> None:
    body = {"sid": KI_A, "type": "video", "inbound_resource_status": "teleported"}
    record = structure(body, Interaction)
    assert isinstance(record.type, InteractionType)
    assert record.type == "video"
    assert not record.type.is_known
    assert isinstance(record.inbound_resource_status, ResourceStatus)
    assert record.inbound_resource_status == "teleported"
    assert not record.inbound_resource_status.is_known


def test_unknown_enum_values_do_not_grow_the_enum() -> None:
    members_before = set(SessionStatus)
    SessionStatus("archived")
    assert set(SessionStatus) == members_before
    assert "archived" not in SessionStatus._value2member_map_


@pytest.mark.parametrize("value", [3, None, True, 1.5])
def test_enum_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="is not a valid InteractionType"):
        InteractionType(value)


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize(
    ("data", "decoded"),
    [
        ('{"body":"some message"}', {"body": "some message"}),
        ('{"duration": "5"}', {"duration": "5"}),
        ("sunt dolor", "sunt dolor"),
        ("string", "string"),
        ("", ""),
        ("{not json", "{not json"),
        (None, None),
    ],
)
def test_decoded_data_is_json_or_the_raw_string(data: str | None, decoded: object) -> None:
    record = structure({"sid": KI_A, "data": data}, Interaction)
    assert record.data == data
    assert record.decoded_data == decoded


def test_decoded_data_of_fixtures() -> None:
    fetched = structure(load_fixture_body("sdk_interaction_fetch_response.json"), Interaction)
    assert fetched.decoded_data == {"body": "some message"}
    generated = structure_page(
        load_fixture_body("docs_message_interaction_list_generated.json"),
        MessageInteraction,
        LIST_KEY,
    )
    assert [record.decoded_data for record in generated] == ["fugiat voluptate e", "sunt dolor"]


# --------------------------------------------------------------------------- extra fields


def test_unknown_extra_fields_are_ignored() -> None:
    body = load_fixture_body("sdk_interaction_fetch_response.json")
    extended = {
        **body,
        "brand_new_field": {"nested": [1, 2, 3]},
        "links": {"anything": 5},
        "ttl": "not checked on an Interaction",
    }
    assert_identical(structure(extended, Interaction), SDK_INTERACTION)


def test_unknown_extra_page_and_meta_keys_are_ignored() -> None:
    body = load_fixture_body("docs_message_interaction_list_generated.json")
    extended = {
        **body,
        "sessions": "not this list",
        "meta": {**body["meta"], "page_token": "PT123", "extra": None},
    }
    assert_identical(structure_page(extended, MessageInteraction, LIST_KEY), GENERATED_PAGE)


# --------------------------------------------------------------------------- bad responses

VALID_INTERACTION: dict[str, Any] = {
    "sid": KI_A,
    "type": "message",
    "date_created": "2015-07-30T20:00:00Z",
    "date_updated": "2015-07-30T20:00:00Z",
    "inbound_resource_status": "sent",
    "data": SOME_MESSAGE_DATA,
}
VALID_SESSION: dict[str, Any] = {
    "sid": KC_A,
    "status": "open",
    "mode": "voice-and-message",
    "ttl": 3600,
    "date_expiry": "2015-07-30T20:00:00Z",
    "links": {"interactions": f"{SESSION_URL}/Interactions"},
}
VALID_PARTICIPANT: dict[str, Any] = {
    "sid": KP_A,
    "identifier": "+15558675310",
    "date_deleted": None,
    "links": {"message_interactions": f"{PARTICIPANT_URL}/MessageInteractions"},
}

WRONG_TYPES: list[tuple[type[Any], dict[str, Any], str, object]] = [
    (Interaction, VALID_INTERACTION, "date_created", 12),
    (Interaction, VALID_INTERACTION, "date_updated", "soon"),
    (Interaction, VALID_INTERACTION, "sid", 5),
    (Interaction, VALID_INTERACTION, "type", 3),
    (Interaction, VALID_INTERACTION, "type", {"value": "message"}),
    (Interaction, VALID_INTERACTION, "inbound_resource_status", True),
    (Interaction, VALID_INTERACTION, "data", {"body": "hi"}),
    (Interaction, VALID_INTERACTION, "url", ["https://example.com"]),
    (Interaction, VALID_INTERACTION, "session_sid", 1.5),
    (MessageInteraction, VALID_INTERACTION, "participant_sid", 7),
    (Session, VALID_SESSION, "links", {"a": 1}),
    (Session, VALID_SESSION, "links", ["https://example.com"]),
    (Session, VALID_SESSION, "ttl", "3600"),
    (Session, VALID_SESSION, "ttl", True),
    (Session, VALID_SESSION, "ttl", 3600.0),
    (Session, VALID_SESSION, "status", 1),
    (Session, VALID_SESSION, "date_expiry", False),
    (Participant, VALID_PARTICIPANT, "links", {"a": None}),
    (Participant, VALID_PARTICIPANT, "identifier", 15558675310),
]


@pytest.mark.parametrize(
    ("model", "valid_body", "field", "bad_value"),
    [pytest.param(*case, id=f"{case[0].__name__}.{case[2]}={case[3]!r}") for case in WRONG_TYPES],
)
def test_wrong_json_type_raises_invalid_response_naming_the_field(
    model: type[Any], valid_body: dict[str, Any], field: str, bad_value: object
) -> None:
    structure(valid_body, model)  # the body is fine before the one bad value goes in
    with pytest.raises(InvalidResponseError) as caught:
        structure(with_field(valid_body, field, bad_value), model)
    error = caught.value
    assert error.field == field
    assert repr(field) in str(error)
    assert isinstance(error, ProxyError)
    assert isinstance(error, ResponseError)
    assert not isinstance(error, (KeyError, TypeError, ValueError))


@pytest.mark.parametrize(
    ("model", "valid_body"),
    [
        (Interaction, VALID_INTERACTION),
        (MessageInteraction, VALID_INTERACTION),
        (Session, VALID_SESSION),
        (Participant, VALID_PARTICIPANT),
    ],
)
def test_missing_sid_raises_invalid_response(model: type[Any], valid_body: dict[str, Any]) -> None:
    with pytest.raises(InvalidResponseError, match="required field missing") as caught:
        structure(without_field(valid_body, "sid"), model)
    assert caught.value.field == "sid"


@pytest.mark.parametrize("body", [[VALID_INTERACTION], "KI", 5, None, True])
def test_record_body_that_is_not_an_object_is_an_invalid_response(body: object) -> None:
    with pytest.raises(InvalidResponseError, match="expected a JSON object") as caught:
        structure(body, Interaction)
    assert caught.value.field == ""


def test_structure_prefixes_the_field_with_where() -> None:
    with pytest.raises(InvalidResponseError) as caught:
        structure(with_field(VALID_INTERACTION, "date_created", 12), Interaction, "interaction")
    assert caught.value.field == "interaction.date_created"


def generated_page_body() -> dict[str, Any]:
    """A fresh, mutable copy of the generated list fixture's body."""
    body: dict[str, Any] = json.loads(
        json.dumps(load_fixture_body("docs_message_interaction_list_generated.json"))
    )
    return body


DELETE = object()
"""Marks a change that removes the key instead of setting it."""

PagePath = tuple[str | int, ...]


def changed_page_body(path: PagePath, value: object) -> dict[str, Any]:
    """The generated list body with the value at ``path`` replaced (or deleted)."""
    body = generated_page_body()
    container: Any = body
    for step in path[:-1]:
        container = container[step]
    if value is DELETE:
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return body


BAD_PAGES: list[tuple[PagePath, object, str]] = [
    ((LIST_KEY, 1, "date_updated"), 12, "interactions[1].date_updated"),
    ((LIST_KEY, 1, "sid"), DELETE, "interactions[1].sid"),
    ((LIST_KEY, 0, "type"), 3, "interactions[0].type"),
    ((LIST_KEY, 1, "participant_sid"), [], "interactions[1].participant_sid"),
    ((LIST_KEY, 0), 5, "interactions[0]"),
    ((LIST_KEY, 1), None, "interactions[1]"),
    ((LIST_KEY, 1), "KIaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "interactions[1]"),
    (("meta", "page"), "1", "meta.page"),
    (("meta", "page"), False, "meta.page"),
    (("meta", "page_size"), 50.0, "meta.page_size"),
    (("meta", "url"), None, "meta.url"),
    (("meta", "next_page_url"), 2, "meta.next_page_url"),
    (("meta", "next_page_url"), DELETE, "meta.next_page_url"),
    (("meta", "key"), DELETE, "meta.key"),
    (("meta",), [], "meta"),
    (("meta",), DELETE, "meta"),
    ((LIST_KEY,), {"0": {"sid": KI_A}}, "interactions"),
    ((LIST_KEY,), None, "interactions"),
    ((LIST_KEY,), DELETE, "interactions"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param(
            path, value, field, id=f"{field}={'<deleted>' if value is DELETE else value!r}"
        )
        for path, value, field in BAD_PAGES
    ],
)
def test_bad_pages_raise_invalid_response_naming_the_location(
    path: PagePath, value: object, field: str
) -> None:
    body = changed_page_body(path, value)
    with pytest.raises(InvalidResponseError) as caught:
        structure_page(body, MessageInteraction, LIST_KEY)
    assert caught.value.field == field
    assert not isinstance(caught.value, (KeyError, TypeError, ValueError))


@pytest.mark.parametrize("body", [[], "interactions", 5, None, True])
def test_page_body_that_is_not_an_object_is_an_invalid_response(body: object) -> None:
    with pytest.raises(InvalidResponseError, match="expected a JSON object") as caught:
        structure_page(body, Interaction, LIST_KEY)
    assert caught.value.field == ""


def test_missing_previous_page_url_is_accepted_as_none() -> None:
    body = changed_page_body(("meta", "previous_page_url"), DELETE)
    assert structure_page(body, MessageInteraction, LIST_KEY).meta.previous_page_url is None


def test_first_bad_item_is_the_one_reported() -> None:
    body = generated_page_body()
    body[LIST_KEY][0]["url"] = 1
    body[LIST_KEY][1]["url"] = 2
    with pytest.raises(InvalidResponseError) as caught:
        structure_page(body, MessageInteraction, LIST_KEY)
    assert caught.value.field == "interactions[0].url"


# --------------------------------------------------------------------------- decode_json


def test_decode_json_parses_a_fixture_body() -> None:
    raw = (FIXTURES / "sdk_interaction_fetch_response.json").read_bytes()
    assert decode_json(raw) == json.loads(raw)


@pytest.mark.parametrize(
    ("body", "excerpt"),
    [
        (b'{"interactions": [{"sid": "KI', '{"interactions": [{"sid": "KI'),
        (
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "<html><head><title>502 Bad Gateway</title>",
        ),
        (b"", ""),
        (b"NaN", "NaN"),
        (b"\xff\xfe{", "\ufffd"),
    ],
    ids=["truncated-json", "html", "empty", "nan", "not-utf8"],
)
def test_decode_json_rejects_non_json_with_an_excerpt(body: bytes, excerpt: str) -> None:
    with pytest.raises(InvalidResponseError, match="not valid JSON") as caught:
        decode_json(body)
    assert excerpt in str(caught.value)
    assert caught.value.field == ""


def test_decode_json_excerpt_of_a_huge_body_stays_short() -> None:
    body = b"<html>" + b"x" * 100_000
    with pytest.raises(InvalidResponseError) as caught:
        decode_json(body)
    message = str(caught.value)
    assert "<html>xxx" in message
    assert len(message) < 500


# --------------------------------------------------------------------------- Page


def test_page_iterates_its_items_in_order_and_has_a_length() -> None:
    page = structure_page(
        load_fixture_body("docs_message_interaction_list_generated.json"),
        MessageInteraction,
        LIST_KEY,
    )
    assert len(page) == 2
    assert list(page) == [GENERATED_VOICE_RECORD, GENERATED_MESSAGE_RECORD]
    assert [record.sid for record in page] == [record.sid for record in page.items]


def test_empty_page_has_length_zero_and_no_items() -> None:
    page = structure_page(
        load_fixture_body("docs_interaction_list_empty.json"), Interaction, LIST_KEY
    )
    assert len(page) == 0
    assert list(page) == []
    assert not page.items


# --------------------------------------------------------------------------- frozen, slots, repr

SAMPLE_RECORDS: list[object] = [
    SDK_INTERACTION,
    SDK_MESSAGE_INTERACTION,
    structure(VALID_SESSION, Session),
    structure(VALID_PARTICIPANT, Participant),
    GENERATED_META,
    GENERATED_PAGE,
]


@pytest.mark.parametrize("record", SAMPLE_RECORDS, ids=lambda record: type(record).__name__)
def test_records_are_frozen(record: object) -> None:
    record_type = type(record)
    assert attrs.has(record_type)
    for field in attrs.fields(record_type):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(record, field.name, None)
    new_attribute = "not_a_field"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(record, new_attribute, 1)


@pytest.mark.parametrize("record", SAMPLE_RECORDS, ids=lambda record: type(record).__name__)
def test_records_are_slotted_without_a_dict(record: object) -> None:
    assert not hasattr(record, "__dict__")
    assert "__slots__" in vars(type(record))


@pytest.mark.parametrize("model", [Interaction, MessageInteraction])
def test_data_is_kept_out_of_repr(model: InteractionModel) -> None:
    secret = "call me at +15558675310 about the divorce"
    record = structure({"sid": KI_A, "data": json.dumps({"body": secret})}, model)
    assert record.decoded_data == {"body": secret}
    assert secret not in repr(record)
    assert "data=" not in repr(record)
    assert KI_A in repr(record)
    page = Page((record,), GENERATED_META)
    assert secret not in repr(page)


def test_participant_identifier_is_kept_out_of_repr() -> None:
    participant = structure(VALID_PARTICIPANT, Participant)
    assert participant.identifier == "+15558675310"
    assert "+15558675310" not in repr(participant)
    assert KP_A in repr(participant)


def test_records_with_links_are_hashable_and_do_not_share_the_decoded_dict() -> None:
    links = {"interactions": "https://proxy.twilio.com/v1/x"}
    session = structure({"sid": "KC" + "0" * 32, "links": links}, Session)
    links["interactions"] = "changed"
    assert isinstance(hash(session), int)
    assert session.links == {"interactions": "https://proxy.twilio.com/v1/x"}


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 once converted to UTC
        "Mon, 01 Jan 99999 00:00:00 +0000",  # RFC 2822 with an impossible year
        "\uff12\uff10\uff11\uff15-07-30T20:00:00Z",  # full-width digits are not ISO-8601
    ],
)
def test_out_of_range_or_non_ascii_datetimes_are_typed_errors(value: str) -> None:
    with pytest.raises(ValueError, match="datetime"):
        hooks.parse_datetime(value)
    with pytest.raises(InvalidResponseError) as caught:
        structure({"sid": "KI" + "0" * 32, "date_created": value}, Interaction)
    assert caught.value.field == "date_created"

"""Hostile cases for the msgspec fast path (issue 12 review).

They pin odd inputs that read alike on both paths, and four faults found in review and
fixed since: a fast-path Page pickles and deep-copies like a reference one, a Page
built from a list works, and no columns is [] on either form of records.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import orjson
import pytest
from conftest import load_fixture
from test_fast_path import LIST_KEY, check_page, check_record
from test_model_properties import VALID_MESSAGE_INTERACTION, VALID_META

from proxy_async.models import (
    MessageInteraction,
    Page,
    Session,
    decode_json,
    receive_body,
    receive_page,
    structure_page,
)

FIXTURE = "docs_message_interaction_list_generated"


def page_of(record: bytes, key: str = LIST_KEY) -> bytes:
    return b'{"' + key.encode() + b'":[' + record + b'],"meta":' + orjson.dumps(VALID_META) + b"}"


def fast_and_reference() -> tuple[Page[Any], Page[Any]]:
    body = orjson.dumps(load_fixture(FIXTURE))
    fast = structure_page(body, MessageInteraction, LIST_KEY)
    reference = receive_page(decode_json(body), MessageInteraction, LIST_KEY).structure()
    return fast, reference


RECORD = orjson.dumps(VALID_MESSAGE_INTERACTION)


@pytest.mark.parametrize(
    "record",
    [
        RECORD.replace(b'"sid"', b'"s\\u0069d"'),  # an escaped key
        RECORD[:-1] + b',"sid":"KI2"}',  # a duplicate key: the last one wins in both
        RECORD[:-1] + b',"\\u0074ype":"VOICE"}',  # a duplicate, escaped, upper case
        RECORD.replace(
            b'"date_created":', b'"date_created":"2015-07-30T20:00:00+01:00","date_created":'
        ),  # a bad first duplicate
        RECORD.replace(b'"url":"', b'"url":"\\u2028\\uFEFF\\/'),
    ],
)
def test_odd_keys_and_escapes_read_alike(record: bytes) -> None:
    """Passes today."""
    check_page(page_of(record), MessageInteraction)
    check_record(record, MessageInteraction)


@pytest.mark.parametrize(
    "text",
    [
        "2015-07-30T20:00:00+0000",  # msgspec takes an offset without a colon
        "2015-07-30T20:00:00-00:00",
        "2015-07-30t20:00:00.1z",
        "9999-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "2015-07-30T24:00:00Z",
    ],
)
def test_odd_timestamps_read_alike(text: str) -> None:
    """Passes today."""
    check_page(
        page_of(orjson.dumps({**VALID_MESSAGE_INTERACTION, "date_created": text})),
        MessageInteraction,
    )


@pytest.mark.parametrize("ttl", [b"-0", b"18446744073709551616", b"1" * 4300, b"-" + b"1" * 4300])
def test_wide_integers_in_an_int_field_read_alike(
    ttl: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passes today."""
    import test_fast_path

    monkeypatch.setattr(test_fast_path, "LIST_KEY", "sessions")
    record = b'{"sid":"KC1","ttl":' + ttl + b"}"
    check_page(page_of(record, "sessions"), Session)
    check_record(record, Session)


def test_a_fast_path_page_pickles_like_a_reference_page() -> None:
    """Was: PicklingError (MessageInteractionMirror not found in fast_path)."""
    fast, reference = fast_and_reference()
    # Our own bytes, made just above: nothing untrusted is unpickled.
    assert pickle.loads(pickle.dumps(reference)) == reference  # noqa: S301
    assert pickle.loads(pickle.dumps(fast)) == reference  # noqa: S301


def test_a_fast_path_page_deep_copies_like_a_reference_page() -> None:
    """Was: TypeError: cannot pickle 'msgspec.json.Decoder' object."""
    fast, reference = fast_and_reference()
    assert copy.deepcopy(reference) == reference
    assert copy.deepcopy(fast) == reference


def test_a_page_built_from_a_list_still_works() -> None:
    """Was: TypeError: 'list' object is not callable (worked before 9e73191)."""
    _, reference = fast_and_reference()
    # A list of records is taken (as a tuple), as before the fast path.
    page: Page[Any] = Page(list(reference.items), reference.meta)
    assert len(page) == len(reference.items)
    assert list(page) == list(reference.items)


def test_no_columns_on_either_form() -> None:
    """Was: MirroredRecords.columns([]) raises TypeError; DecodedRecords gives []."""
    body = orjson.dumps(load_fixture(FIXTURE))
    fast = receive_body(body, MessageInteraction, LIST_KEY).records
    reference = receive_page(decode_json(body), MessageInteraction, LIST_KEY).records
    assert list(fast.columns([])) == list(reference.columns([])) == []

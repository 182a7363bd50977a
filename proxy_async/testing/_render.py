"""The JSON of the fake's records: Sessions, Participants and Interactions as Twilio sends them.

Every record is a pure function of ``(seed, service index, session index, record
index)`` and, for created interactions, of what :class:`~._state.SessionState` stored.
The renderers compute each session's (or service's) strings once, since a page renders
up to 1,000 records of one session.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from ._sids import codec
from ._state import SessionRef, session_codecs

if TYPE_CHECKING:
    from ._dataset import Dataset

BASE_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
STEP_SECONDS = 60
# One voice interaction in every 8 (per participant), the rest are messages: the cycle
# of a generated interaction i is i // participants, voice when cycle % 8 == 5.
VOICE_EVERY = 8
VOICE_SLOT = 5

_BODIES = tuple(
    orjson.dumps({"body": text}).decode()
    for text in (
        "Hi, your driver is on the way.",
        "Thanks! See you soon.",
        "I'm outside the building.",
        "Can you call me when you arrive?",
        "Running five minutes late, sorry.",
        "Your order has been picked up.",
        "Great, thank you!",
        "Which entrance should I use?",
        "The package is at the front desk.",
        "Ok",
        "On my way now.",
        "Could you leave it by the door?",
        "Yes, that works for me.",
        "Ticket #4471 has been updated.",
        "Please confirm your appointment for tomorrow.",
        "Confirmed, see you then.",
    )
)
_MESSAGE_OUT_STATUSES = ("delivered",) * 10 + ("sent",) * 3 + ("undelivered", "failed", "queued")
_VOICE_OUT_STATUSES = ("completed",) * 10 + (
    "no-answer",
    "busy",
    "failed",
    "canceled",
    "in-progress",
    "ringing",
)
_SESSION_STATUSES = ("open", "in-progress", "open", "closed")


_DAYS: dict[int, str] = {}
_CLOCK_MINUTES = tuple(f"{minute // 60:02d}:{minute % 60:02d}:" for minute in range(1_440))
_CLOCK_SECONDS = tuple(f"{second:02d}Z" for second in range(60))


def iso_minute(timestamp: int) -> str:
    """``timestamp`` (UTC seconds) as ISO-8601 up to the minute: ``2024-01-01T00:00:``."""
    day, second = divmod(timestamp, 86_400)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400))
        if len(_DAYS) < 100_000:
            _DAYS[day] = prefix
    return prefix + _CLOCK_MINUTES[second // 60]


def iso(timestamp: int) -> str:
    """``timestamp`` (UTC seconds) as Twilio's ISO-8601 form ``2024-01-01T00:00:00Z``."""
    return iso_minute(timestamp) + _CLOCK_SECONDS[timestamp % 60]


def participant_json(data: Dataset, ref: SessionRef, participant: int, base: str) -> dict[str, Any]:
    """The Participant resource of ``participant`` in the session ``ref``."""
    codecs = session_codecs(data.seed, ref.service, ref.session)
    sid = codecs.participant_sid(participant)
    noise = codecs.participant.number(participant)
    created = BASE_EPOCH - 3_600 + participant
    url = f"{base}{ref.path}/Participants/{sid}"
    return {
        "sid": sid,
        "session_sid": ref.session_sid,
        "service_sid": ref.service_sid,
        "account_sid": data.account_sid,
        "friendly_name": f"Participant {participant + 1}",
        "identifier": f"+1555{noise % 10_000_000:07d}",
        "proxy_identifier": f"+1555{(noise >> 32) % 10_000_000:07d}",
        "proxy_identifier_sid": codec("PN", data.seed, ref.service, ref.session).encode(
            participant
        ),
        "date_deleted": None,
        "date_created": iso(created),
        "date_updated": iso(created),
        "url": url,
        "links": {"message_interactions": f"{url}/MessageInteractions"},
    }


class InteractionRenderer:
    """Builds the interaction JSON of one session, with per-session strings computed once."""

    __slots__ = (
        "_calls",
        "_codecs",
        "_data",
        "_generated",
        "_interactions",
        "_messages",
        "_participants",
        "_ref",
        "_state",
    )

    def __init__(self, data: Dataset, ref: SessionRef, base: str) -> None:
        self._data = data
        self._ref = ref
        self._codecs = session_codecs(data.seed, ref.service, ref.session)
        self._state = data.state(ref)
        self._generated = data.interactions
        self._interactions = f"{base}{ref.path}/Interactions/"
        self._participants = f"{base}{ref.path}/Participants/"
        resources = f"https://api.twilio.com/2010-04-01/Accounts/{data.account_sid}"
        self._messages = f"{resources}/Messages/"
        self._calls = f"{resources}/Calls/"

    def interaction(self, raw: int, message_view: bool) -> dict[str, Any]:
        """The record at session raw position ``raw``."""
        if raw >= self._generated:
            return self._created(raw, message_view)
        return self._generated_record(raw, message_view)

    def _generated_record(self, i: int, message_view: bool) -> dict[str, Any]:
        """The generated interaction ``i``. One function on purpose, over 50 lines: it
        runs once per record of every page the benchmarks serve, and each further call
        per record shows in their pages per second."""
        codecs = self._codecs
        number = codecs.interaction.number(i)
        sid = "KI" + number.to_bytes(16, "big").hex()
        noise = number >> 64
        count = self._data.participants
        if count:
            cycle = i // count
            outbound: str | None = codecs.participant_sid(i % count)
            inbound = codecs.participant_sid((i + 1) % count) if count > 1 else None
        else:
            cycle = i
            outbound = inbound = None
        if cycle % VOICE_EVERY == VOICE_SLOT:
            kind, resource_type, resources = "voice", "Call", self._calls
            in_sid = "CA" + (number ^ codecs.call_in).to_bytes(16, "big").hex()
            out_sid = "CA" + (number ^ codecs.call_out).to_bytes(16, "big").hex()
            data = f'{{"duration":"{5 + noise % 900}"}}'
            in_status = "in-progress"
            out_status = _VOICE_OUT_STATUSES[(noise >> 16) % len(_VOICE_OUT_STATUSES)]
        else:
            kind, resource_type, resources = "message", "Message", self._messages
            in_sid = "SM" + (number ^ codecs.message_in).to_bytes(16, "big").hex()
            out_sid = "SM" + (number ^ codecs.message_out).to_bytes(16, "big").hex()
            data = _BODIES[(noise >> 8) % len(_BODIES)]
            in_status = "delivered"
            out_status = _MESSAGE_OUT_STATUSES[(noise >> 16) % len(_MESSAGE_OUT_STATUSES)]
        # Generated records are one minute apart, so both dates share the minute.
        minute = iso_minute(BASE_EPOCH + i * STEP_SECONDS)
        ref = self._ref
        record: dict[str, Any] = {
            "sid": sid,
            "session_sid": ref.session_sid,
            "service_sid": ref.service_sid,
            "account_sid": self._data.account_sid,
            "data": data,
            "type": kind,
            "inbound_participant_sid": inbound,
            "inbound_resource_sid": in_sid,
            "inbound_resource_status": in_status,
            "inbound_resource_type": resource_type,
            "inbound_resource_url": f"{resources}{in_sid}.json",
            "outbound_participant_sid": outbound,
            "outbound_resource_sid": out_sid,
            "outbound_resource_status": out_status,
            "outbound_resource_type": resource_type,
            "outbound_resource_url": f"{resources}{out_sid}.json",
            "date_created": minute + "00Z",
            "date_updated": minute + _CLOCK_SECONDS[1 + (noise >> 24) % 50],
            "url": self._interactions + sid,
        }
        if message_view:
            record["participant_sid"] = outbound
            record["url"] = f"{self._participants}{outbound}/MessageInteractions/{sid}"
        return record

    def _created(self, raw: int, message_view: bool) -> dict[str, Any]:
        item = self._state.created[raw - self._generated]
        participant = self._codecs.participant_sid(item.participant)
        ref = self._ref
        record: dict[str, Any] = {
            "sid": item.sid,
            "session_sid": ref.session_sid,
            "service_sid": ref.service_sid,
            "account_sid": self._data.account_sid,
            "data": item.data,
            "type": "message",
            "inbound_participant_sid": None,
            "inbound_resource_sid": None,
            "inbound_resource_status": None,
            "inbound_resource_type": None,
            "inbound_resource_url": None,
            "outbound_participant_sid": participant,
            "outbound_resource_sid": item.outbound_resource_sid,
            "outbound_resource_status": "sent",
            "outbound_resource_type": "Message",
            "outbound_resource_url": None,
            "date_created": iso(item.timestamp),
            "date_updated": iso(item.timestamp),
            "url": self._interactions + item.sid,
        }
        if message_view:
            record["participant_sid"] = participant
            record["url"] = f"{self._participants}{participant}/MessageInteractions/{item.sid}"
        return record


class SessionRenderer:
    """Builds the Session JSON of one service, with per-service strings computed once."""

    __slots__ = ("_account_sid", "_codec", "_last", "_prefix", "_service_sid")

    def __init__(self, data: Dataset, service: int, service_sid: str, base: str) -> None:
        self._account_sid = data.account_sid
        self._service_sid = service_sid
        self._codec = codec("KC", data.seed, service)
        self._prefix = f"{base}/v1/Services/{service_sid}/Sessions/"
        last = BASE_EPOCH + (data.interactions - 1) * STEP_SECONDS if data.interactions else None
        self._last = iso(last) if last is not None else None

    def session(self, session: int) -> dict[str, Any]:
        """The Session resource at index ``session``."""
        sid = self._codec.encode(session)
        url = self._prefix + sid
        # Sessions start whole minutes apart, so the seconds are always 00.
        created = iso_minute(BASE_EPOCH - 86_400 + session * STEP_SECONDS) + "00Z"
        status = _SESSION_STATUSES[session % len(_SESSION_STATUSES)]
        return {
            "sid": sid,
            "service_sid": self._service_sid,
            "account_sid": self._account_sid,
            "date_started": created,
            "date_ended": (self._last or created) if status == "closed" else None,
            "date_last_interaction": self._last,
            "date_expiry": None,
            "unique_name": f"Order #{1001 + session}",
            "status": status,
            "closed_reason": None,
            "ttl": 0,
            "mode": "voice-and-message",
            "date_created": created,
            "date_updated": created,
            "url": url,
            "links": {"interactions": url + "/Interactions", "participants": url + "/Participants"},
        }

"""Deterministic Proxy data, generated on demand from indices, plus test-made changes.

Nothing here materialises a list of records: every record is a pure function of
``(seed, service index, session index, record index)``. The only stored state is
what tests change: created message interactions, the set of deleted ones, and the
deleted sessions. "Vanishing" sessions are a fixed spread of session indices
(a ``range``, so membership costs nothing) that are listed but answer 404.

Positions: the interactions of a session live at "raw positions" ``0..N-1``
(generated) followed by ``N..`` (created, in creation order). Deleted positions stay
reserved so page tokens, which encode a raw position, never skip or repeat a record.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, Protocol

import attrs
import orjson

from ._sids import codec

BASE_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
STEP_SECONDS = 60
# One voice interaction in every 8 (per participant), the rest are messages.
_VOICE_EVERY = 8
_VOICE_SLOT = 5

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


@attrs.frozen
class SessionRef:
    """A resolved session: indices plus SIDs, as parsed from a request path."""

    service: int
    session: int
    service_sid: str
    session_sid: str

    @property
    def path(self) -> str:
        """The session's API path, ``/v1/Services/KS…/Sessions/KC…``."""
        return f"/v1/Services/{self.service_sid}/Sessions/{self.session_sid}"


@attrs.frozen
class Created:
    """One message interaction created through the API."""

    sid: str
    participant: int
    data: str
    outbound_resource_sid: str
    timestamp: int


class SessionState:
    """What tests changed in one session."""

    __slots__ = ("by_participant", "by_sid", "created", "deleted", "deleted_set")

    def __init__(self) -> None:
        self.created: list[Created] = []
        self.by_sid: dict[str, int] = {}
        self.deleted: list[int] = []
        self.deleted_set: set[int] = set()
        self.by_participant: dict[int, list[int]] = {}


_UNCHANGED = SessionState()


class Source(Protocol):
    """A list resource as the pager sees it: raw positions, some deleted."""

    @property
    def raw_len(self) -> int:
        """One past the last raw position."""

    @property
    def deleted(self) -> list[int]:
        """Deleted raw positions, ascending."""

    def render(self, raw: int) -> dict[str, Any]:
        """The JSON object at a (non-deleted) raw position."""


class _SessionCodecs:
    """SID machinery of one session, with the participant SIDs it has handed out."""

    __slots__ = (
        "call_in",
        "call_out",
        "created",
        "created_out",
        "interaction",
        "message_in",
        "message_out",
        "participant",
        "participants",
    )

    def __init__(self, seed: int, service: int, session: int) -> None:
        self.interaction = codec("KI", seed, service, session)
        self.created = codec("KI", seed, service, session, "created")
        self.created_out = codec("SM", seed, service, session, "created")
        self.participant = codec("KP", seed, service, session)
        self.participants: dict[int, str] = {}
        # Resource SIDs are the interaction's scrambled number XOR a per-session key:
        # still unique and random-looking, at the cost of one XOR.
        keys = hashlib.blake2b(repr((seed, service, session)).encode(), digest_size=64).digest()
        self.message_in, self.message_out, self.call_in, self.call_out = (
            int.from_bytes(keys[start : start + 16], "big") for start in range(0, 64, 16)
        )

    def participant_sid(self, index: int) -> str:
        sid = self.participants.get(index)
        if sid is None:
            sid = self.participant.encode(index)
            # Bounded: with the 1024 cached sessions this stays at most ~256K SIDs.
            if len(self.participants) < 256:
                self.participants[index] = sid
        return sid


@lru_cache(maxsize=1024)
def _session_codecs(seed: int, service: int, session: int) -> _SessionCodecs:
    return _SessionCodecs(seed, service, session)


class Dataset:
    """The fake account's services, sessions, participants and interactions."""

    def __init__(
        self,
        *,
        account_sid: str,
        seed: int,
        services: int,
        sessions_per_service: int,
        participants_per_session: int,
        interactions_per_session: int,
        vanishing_sessions: int = 0,
    ) -> None:
        self.account_sid = account_sid
        self.seed = seed
        self.services = services
        self.sessions = sessions_per_service
        self.participants = participants_per_session
        self.interactions = interactions_per_session
        self._service_codec = codec("KS", seed)
        self._states: dict[tuple[int, int], SessionState] = {}
        self.vanishing = vanishing_range(sessions_per_service, vanishing_sessions)
        # Per service: deleted session indices, ascending (the Sessions list skips them).
        self._deleted_sessions: dict[int, list[int]] = {}

    # -- identities ---------------------------------------------------------------

    def service_sid(self, service: int) -> str:
        """SID of the service at ``service``."""
        return self._service_codec.encode(service)

    def session_sid(self, service: int, session: int) -> str:
        """SID of session ``session`` of service ``service``."""
        return codec("KC", self.seed, service).encode(session)

    def participant_sid(self, ref: SessionRef, participant: int) -> str:
        """SID of participant ``participant`` of a session."""
        return _session_codecs(self.seed, ref.service, ref.session).participant_sid(participant)

    def resolve_service(self, sid: str) -> int | None:
        """Index of the service ``sid``, or None if there is no such service."""
        index = self._service_codec.decode(sid)
        return index if index is not None and index < self.services else None

    def resolve_session(
        self, service_sid: str, session_sid: str, *, include_gone: bool = False
    ) -> SessionRef | None:
        """The session ``session_sid`` of service ``service_sid``, or None.

        Deleted and vanishing sessions resolve to None unless ``include_gone``.
        """
        service = self.resolve_service(service_sid)
        if service is None:
            return None
        session = codec("KC", self.seed, service).decode(session_sid)
        if session is None or session >= self.sessions:
            return None
        if not include_gone and (session in self.vanishing or self.is_deleted(service, session)):
            return None
        return SessionRef(service, session, service_sid, session_sid)

    # -- sessions that are gone ----------------------------------------------------------

    def is_deleted(self, service: int, session: int) -> bool:
        """Whether session ``session`` of service ``service`` was deleted."""
        deleted = self._deleted_sessions.get(service)
        if not deleted:
            return False
        index = bisect.bisect_left(deleted, session)
        return index < len(deleted) and deleted[index] == session

    def delete_session(self, ref: SessionRef) -> None:
        """Delete a session: it leaves the Sessions list and its changes are dropped."""
        if self.is_deleted(ref.service, ref.session):
            return
        bisect.insort(self._deleted_sessions.setdefault(ref.service, []), ref.session)
        self._states.pop((ref.service, ref.session), None)

    def live_sessions(self, service: int) -> Iterator[int]:
        """Indices of the sessions the Sessions list of ``service`` shows, ascending."""
        deleted = self._deleted_sessions.get(service, [])
        previous = 0
        for gone in [*deleted, self.sessions]:
            yield from range(previous, gone)
            previous = gone + 1

    def resolve_participant(self, ref: SessionRef, sid: str) -> int | None:
        """Index of participant ``sid`` in the session, or None."""
        index = _session_codecs(self.seed, ref.service, ref.session).participant.decode(sid)
        return index if index is not None and index < self.participants else None

    def _state(self, ref: SessionRef) -> SessionState:
        return self._states.get((ref.service, ref.session), _UNCHANGED)

    def _writable_state(self, ref: SessionRef) -> SessionState:
        key = (ref.service, ref.session)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = SessionState()
        return state

    # -- interactions ---------------------------------------------------------------

    def locate(self, ref: SessionRef, sid: str) -> int | None:
        """Raw position of the live interaction ``sid`` in the session, or None."""
        state = self._state(ref)
        raw = _session_codecs(self.seed, ref.service, ref.session).interaction.decode(sid)
        if raw is None or raw >= self.interactions:
            raw = state.by_sid.get(sid)
        if raw is None or raw in state.deleted_set:
            return None
        return raw

    def owner(self, ref: SessionRef, raw: int) -> int | None:
        """The participant whose MessageInteractions list holds ``raw``, if any."""
        if raw >= self.interactions:
            return self._state(ref).created[raw - self.interactions].participant
        if not self.participants or (raw // self.participants) % _VOICE_EVERY == _VOICE_SLOT:
            return None
        return raw % self.participants

    def delete(self, ref: SessionRef, raw: int) -> None:
        """Delete the interaction at ``raw`` (which must be live)."""
        state = self._writable_state(ref)
        state.deleted_set.add(raw)
        bisect.insort(state.deleted, raw)

    def create(
        self, ref: SessionRef, participant: int, body: str | None, media_urls: list[str]
    ) -> int:
        """Store a new message interaction to ``participant``; return its raw position."""
        state = self._writable_state(ref)
        codecs = _session_codecs(self.seed, ref.service, ref.session)
        number = len(state.created)
        raw = self.interactions + number
        content: dict[str, Any] = {}
        if body is not None:
            content["body"] = body
        if media_urls:
            content["media_urls"] = media_urls
        state.created.append(
            Created(
                sid=codecs.created.encode(number),
                participant=participant,
                data=orjson.dumps(content).decode(),
                outbound_resource_sid=codecs.created_out.encode(number),
                timestamp=BASE_EPOCH + raw * STEP_SECONDS,
            )
        )
        state.by_sid[state.created[-1].sid] = raw
        state.by_participant.setdefault(participant, []).append(raw)
        return raw

    def created(self, ref: SessionRef, participant: int | None = None) -> list[int]:
        """Raw positions of live created interactions (optionally of one participant)."""
        state = self._state(ref)
        positions: Iterable[int]
        if participant is None:
            positions = range(self.interactions, self.interactions + len(state.created))
        else:
            positions = state.by_participant.get(participant, [])
        return [raw for raw in positions if raw not in state.deleted_set]

    def interaction_sid(self, ref: SessionRef, raw: int) -> str:
        """SID of the interaction at ``raw``."""
        if raw < self.interactions:
            return _session_codecs(self.seed, ref.service, ref.session).interaction.encode(raw)
        return self._state(ref).created[raw - self.interactions].sid

    # -- list sources ---------------------------------------------------------------

    def sessions_source(self, service: int, service_sid: str, base_url: str) -> Source:
        """The Sessions list of a service."""
        return _Sessions(self, service, service_sid, base_url)

    def participants_source(self, ref: SessionRef, base_url: str) -> Source:
        """The Participants list of a session."""
        return _Participants(self, ref, base_url)

    def interactions_source(self, ref: SessionRef, base_url: str) -> Source:
        """The Interactions list of a session."""
        return _Interactions(self, ref, base_url)

    def message_source(self, ref: SessionRef, participant: int, base_url: str) -> Source:
        """The MessageInteractions list of a participant."""
        return _MessageInteractions(self, ref, participant, base_url)

    # -- single records -------------------------------------------------------------

    def session_json(
        self, service: int, service_sid: str, session: int, base: str
    ) -> dict[str, Any]:
        """The Session resource."""
        return _SessionRenderer(self, service, service_sid, base).session(session)

    def participant_json(self, ref: SessionRef, participant: int, base: str) -> dict[str, Any]:
        """The Participant resource."""
        codecs = _session_codecs(self.seed, ref.service, ref.session)
        sid = codecs.participant_sid(participant)
        noise = codecs.participant.number(participant)
        created = BASE_EPOCH - 3_600 + participant
        url = f"{base}{ref.path}/Participants/{sid}"
        return {
            "sid": sid,
            "session_sid": ref.session_sid,
            "service_sid": ref.service_sid,
            "account_sid": self.account_sid,
            "friendly_name": f"Participant {participant + 1}",
            "identifier": f"+1555{noise % 10_000_000:07d}",
            "proxy_identifier": f"+1555{(noise >> 32) % 10_000_000:07d}",
            "proxy_identifier_sid": codec("PN", self.seed, ref.service, ref.session).encode(
                participant
            ),
            "date_deleted": None,
            "date_created": iso(created),
            "date_updated": iso(created),
            "url": url,
            "links": {"message_interactions": f"{url}/MessageInteractions"},
        }

    def interaction_json(
        self, ref: SessionRef, raw: int, base: str, *, message_view: bool = False
    ) -> dict[str, Any]:
        """The Interaction (or, with ``message_view``, MessageInteraction) at ``raw``."""
        return _Renderer(self, ref, base).interaction(raw, message_view)

    # -- MessageInteractions position arithmetic --------------------------------------

    def generated_messages(self, participant: int) -> int:
        """How many generated message interactions a participant's list holds."""
        count = self.participants
        if self.interactions <= participant:
            return 0
        cycles = (self.interactions - participant + count - 1) // count
        full, rest = divmod(cycles, _VOICE_EVERY)
        return full * (_VOICE_EVERY - 1) + (rest if rest <= _VOICE_SLOT else rest - 1)

    def message_to_raw(self, participant: int, position: int) -> int:
        """Session raw position of generated item ``position`` of a participant's list."""
        full, rest = divmod(position, _VOICE_EVERY - 1)
        cycle = full * _VOICE_EVERY + (rest if rest < _VOICE_SLOT else rest + 1)
        return participant + self.participants * cycle

    def raw_to_message(self, raw: int) -> int:
        """Inverse of :meth:`message_to_raw` for a generated message ``raw``."""
        full, rest = divmod(raw // self.participants, _VOICE_EVERY)
        return full * (_VOICE_EVERY - 1) + (rest if rest < _VOICE_SLOT else rest - 1)


class _Renderer:
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
        self._codecs = _session_codecs(data.seed, ref.service, ref.session)
        self._state = data._state(ref)
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
        if cycle % _VOICE_EVERY == _VOICE_SLOT:
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


def vanishing_range(sessions: int, count: int) -> range:
    """The indices of ``count`` vanishing sessions spread evenly over ``sessions``.

    With ``step = sessions // count`` they are ``step - 1, 2 * step - 1, …``: the last
    of each of ``count`` equal blocks, so session 0 vanishes only when all do.
    """
    if count <= 0:
        return range(0)
    if count > sessions:
        raise ValueError(
            f"vanishing_sessions ({count}) must be <= sessions_per_service ({sessions})"
        )
    step = sessions // count
    return range(step - 1, count * step, step)


class _SessionRenderer:
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


class _Sessions:
    """The Sessions list of one service; raw positions are session indices."""

    def __init__(self, data: Dataset, service: int, service_sid: str, base: str) -> None:
        self._renderer = _SessionRenderer(data, service, service_sid, base)
        self.raw_len = data.sessions
        self.deleted = data._deleted_sessions.get(service, [])

    def render(self, raw: int) -> dict[str, Any]:
        return self._renderer.session(raw)


class _Participants:
    def __init__(self, data: Dataset, ref: SessionRef, base: str) -> None:
        self._data, self._ref, self._base = data, ref, base
        self.raw_len = data.participants
        self.deleted: list[int] = []

    def render(self, raw: int) -> dict[str, Any]:
        return self._data.participant_json(self._ref, raw, self._base)


class _Interactions:
    """The Interactions list of one session; raw positions are session positions."""

    def __init__(self, data: Dataset, ref: SessionRef, base: str) -> None:
        self._renderer = _Renderer(data, ref, base)
        state = data._state(ref)
        self.raw_len = data.interactions + len(state.created)
        self.deleted = state.deleted

    def render(self, raw: int) -> dict[str, Any]:
        return self._renderer.interaction(raw, False)


class _MessageInteractions:
    """One participant's MessageInteractions: its generated messages, then its creations."""

    def __init__(self, data: Dataset, ref: SessionRef, participant: int, base: str) -> None:
        self._data, self._ref, self._participant = data, ref, participant
        self._renderer = _Renderer(data, ref, base)
        state = data._state(ref)
        self._generated = data.generated_messages(participant)
        self._created = state.by_participant.get(participant, [])
        self.raw_len = self._generated + len(self._created)
        self.deleted = [
            position for position in map(self._position, state.deleted) if position is not None
        ]

    def _position(self, raw: int) -> int | None:
        data = self._data
        if raw >= data.interactions:
            index = bisect.bisect_left(self._created, raw)
            if index < len(self._created) and self._created[index] == raw:
                return self._generated + index
            return None
        if data.owner(self._ref, raw) != self._participant:
            return None
        return data.raw_to_message(raw)

    def session_raw(self, position: int) -> int:
        if position < self._generated:
            return self._data.message_to_raw(self._participant, position)
        return self._created[position - self._generated]

    def render(self, raw: int) -> dict[str, Any]:
        return self._renderer.interaction(self.session_raw(raw), True)

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
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from ._render import (
    BASE_EPOCH,
    STEP_SECONDS,
    VOICE_EVERY,
    VOICE_SLOT,
    InteractionRenderer,
    SessionRenderer,
    participant_json,
)
from ._sids import codec
from ._sources import (
    InteractionList,
    MessageInteractionList,
    ParticipantList,
    SessionList,
    Source,
)
from ._state import UNCHANGED, Created, SessionRef, SessionState, session_codecs


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
        for name, value in (
            ("services", services),
            ("sessions_per_service", sessions_per_service),
            ("participants_per_session", participants_per_session),
            ("interactions_per_session", interactions_per_session),
            ("vanishing_sessions", vanishing_sessions),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
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
        return session_codecs(self.seed, ref.service, ref.session).participant_sid(participant)

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

    def deleted_sessions(self, service: int) -> list[int]:
        """Indices of the deleted sessions of ``service``, ascending (do not modify)."""
        return self._deleted_sessions.get(service, [])

    def live_sessions(self, service: int) -> Iterator[int]:
        """Indices of the sessions the Sessions list of ``service`` shows, ascending."""
        deleted = self._deleted_sessions.get(service, [])
        previous = 0
        for gone in [*deleted, self.sessions]:
            yield from range(previous, gone)
            previous = gone + 1

    def resolve_participant(self, ref: SessionRef, sid: str) -> int | None:
        """Index of participant ``sid`` in the session, or None."""
        index = session_codecs(self.seed, ref.service, ref.session).participant.decode(sid)
        return index if index is not None and index < self.participants else None

    def state(self, ref: SessionRef) -> SessionState:
        """What tests changed in the session (an empty state, never to be written, if nothing)."""
        return self._states.get((ref.service, ref.session), UNCHANGED)

    def _writable_state(self, ref: SessionRef) -> SessionState:
        key = (ref.service, ref.session)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = SessionState()
        return state

    # -- interactions ---------------------------------------------------------------

    def locate(self, ref: SessionRef, sid: str) -> int | None:
        """Raw position of the live interaction ``sid`` in the session, or None."""
        state = self.state(ref)
        raw = session_codecs(self.seed, ref.service, ref.session).interaction.decode(sid)
        if raw is None or raw >= self.interactions:
            raw = state.by_sid.get(sid)
        if raw is None or raw in state.deleted_set:
            return None
        return raw

    def owner(self, ref: SessionRef, raw: int) -> int | None:
        """The participant whose MessageInteractions list holds ``raw``, if any."""
        if raw >= self.interactions:
            return self.state(ref).created[raw - self.interactions].participant
        if not self.participants or (raw // self.participants) % VOICE_EVERY == VOICE_SLOT:
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
        codecs = session_codecs(self.seed, ref.service, ref.session)
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
        state = self.state(ref)
        positions: Iterable[int]
        if participant is None:
            positions = range(self.interactions, self.interactions + len(state.created))
        else:
            positions = state.by_participant.get(participant, [])
        return [raw for raw in positions if raw not in state.deleted_set]

    def interaction_sid(self, ref: SessionRef, raw: int) -> str:
        """SID of the interaction at ``raw``."""
        if raw < self.interactions:
            return session_codecs(self.seed, ref.service, ref.session).interaction.encode(raw)
        return self.state(ref).created[raw - self.interactions].sid

    # -- list sources ---------------------------------------------------------------

    def sessions_source(self, service: int, service_sid: str, base_url: str) -> Source:
        """The Sessions list of a service."""
        return SessionList(self, service, service_sid, base_url)

    def participants_source(self, ref: SessionRef, base_url: str) -> Source:
        """The Participants list of a session."""
        return ParticipantList(self, ref, base_url)

    def interactions_source(self, ref: SessionRef, base_url: str) -> Source:
        """The Interactions list of a session."""
        return InteractionList(self, ref, base_url)

    def message_source(self, ref: SessionRef, participant: int, base_url: str) -> Source:
        """The MessageInteractions list of a participant."""
        return MessageInteractionList(self, ref, participant, base_url)

    # -- single records -------------------------------------------------------------

    def session_json(
        self, service: int, service_sid: str, session: int, base: str
    ) -> dict[str, Any]:
        """The Session resource."""
        return SessionRenderer(self, service, service_sid, base).session(session)

    def participant_json(self, ref: SessionRef, participant: int, base: str) -> dict[str, Any]:
        """The Participant resource."""
        return participant_json(self, ref, participant, base)

    def interaction_json(
        self, ref: SessionRef, raw: int, base: str, *, message_view: bool = False
    ) -> dict[str, Any]:
        """The Interaction (or, with ``message_view``, MessageInteraction) at ``raw``."""
        return InteractionRenderer(self, ref, base).interaction(raw, message_view)


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

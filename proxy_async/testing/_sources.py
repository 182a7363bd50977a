"""The fake's list resources as the pager sees them: raw positions, some deleted.

Each list (a service's Sessions, a session's Participants and Interactions, a
participant's MessageInteractions) is a :class:`Source` over a :class:`~._dataset.Dataset`;
:mod:`._paging` cuts it into Twilio-style pages.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any, Protocol

from ._render import VOICE_EVERY, VOICE_SLOT, InteractionRenderer, SessionRenderer
from ._state import SessionRef

if TYPE_CHECKING:
    from ._dataset import Dataset


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


class SessionList:
    """The Sessions list of one service; raw positions are session indices."""

    def __init__(self, data: Dataset, service: int, service_sid: str, base: str) -> None:
        self._renderer = SessionRenderer(data, service, service_sid, base)
        self.raw_len = data.sessions
        self.deleted = data.deleted_sessions(service)

    def render(self, raw: int) -> dict[str, Any]:
        return self._renderer.session(raw)


class ParticipantList:
    """The Participants list of one session; raw positions are participant indices."""

    def __init__(self, data: Dataset, ref: SessionRef, base: str) -> None:
        self._data, self._ref, self._base = data, ref, base
        self.raw_len = data.participants
        self.deleted: list[int] = []

    def render(self, raw: int) -> dict[str, Any]:
        return self._data.participant_json(self._ref, raw, self._base)


class InteractionList:
    """The Interactions list of one session; raw positions are session positions."""

    def __init__(self, data: Dataset, ref: SessionRef, base: str) -> None:
        self._renderer = InteractionRenderer(data, ref, base)
        state = data.state(ref)
        self.raw_len = data.interactions + len(state.created)
        self.deleted = state.deleted

    def render(self, raw: int) -> dict[str, Any]:
        return self._renderer.interaction(raw, False)


class MessageInteractionList:
    """One participant's MessageInteractions: its generated messages, then its creations."""

    def __init__(self, data: Dataset, ref: SessionRef, participant: int, base: str) -> None:
        self._data, self._ref, self._participant = data, ref, participant
        self._renderer = InteractionRenderer(data, ref, base)
        state = data.state(ref)
        self._generated = generated_messages(data, participant)
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
        return raw_to_message(data, raw)

    def session_raw(self, position: int) -> int:
        """Session raw position of item ``position`` of this list."""
        if position < self._generated:
            return message_to_raw(self._data, self._participant, position)
        return self._created[position - self._generated]

    def render(self, raw: int) -> dict[str, Any]:
        return self._renderer.interaction(self.session_raw(raw), True)


# -- MessageInteractions position arithmetic ----------------------------------------


def generated_messages(data: Dataset, participant: int) -> int:
    """How many generated message interactions a participant's list holds."""
    count = data.participants
    if data.interactions <= participant:
        return 0
    cycles = (data.interactions - participant + count - 1) // count
    full, rest = divmod(cycles, VOICE_EVERY)
    return full * (VOICE_EVERY - 1) + (rest if rest <= VOICE_SLOT else rest - 1)


def message_to_raw(data: Dataset, participant: int, position: int) -> int:
    """Session raw position of generated item ``position`` of a participant's list."""
    full, rest = divmod(position, VOICE_EVERY - 1)
    cycle = full * VOICE_EVERY + (rest if rest < VOICE_SLOT else rest + 1)
    return participant + data.participants * cycle


def raw_to_message(data: Dataset, raw: int) -> int:
    """Inverse of :func:`message_to_raw` for a generated message ``raw``."""
    full, rest = divmod(raw // data.participants, VOICE_EVERY)
    return full * (VOICE_EVERY - 1) + (rest if rest < VOICE_SLOT else rest - 1)

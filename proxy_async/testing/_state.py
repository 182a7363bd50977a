"""What identifies a session of the fake, and what tests changed in it.

A :class:`SessionRef` is a session resolved from a request path; a :class:`SessionState`
holds the session's created and deleted interactions (the only records stored at all);
:func:`session_codecs` gives the session's SID machinery, cached.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import attrs

from ._sids import codec


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


UNCHANGED = SessionState()
"""The state of every session no test changed (never written to)."""


class SessionCodecs:
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
        """SID of participant ``index``, remembered for the session's first 256."""
        sid = self.participants.get(index)
        if sid is None:
            sid = self.participant.encode(index)
            # Bounded: with the 1024 cached sessions this stays at most ~256K SIDs.
            if len(self.participants) < 256:
                self.participants[index] = sid
        return sid


@lru_cache(maxsize=1024)
def session_codecs(seed: int, service: int, session: int) -> SessionCodecs:
    """The :class:`SessionCodecs` of one session (1,024 sessions cached)."""
    return SessionCodecs(seed, service, session)

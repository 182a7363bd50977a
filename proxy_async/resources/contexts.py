"""The Proxy resources, as twilio-python names them: ``services(..).sessions(..)...``.

Each collection is a :class:`~proxy_async.resources.list_resource.ListResource` over
one path and one :class:`~proxy_async.resources.list_resource.ResourceSpec`; the classes
here add only what their endpoint really has (``delete`` for Interactions, ``create``
for MessageInteractions) and the way down: a Service's Sessions, a Session's
Interactions and Participants, a Participant's Message Interactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from ..models.pages import structure_body
from ..models.records import Interaction, MessageInteraction, Participant, Session
from ..transports.base import Timeouts
from ..validation import check_message, check_sid
from .list_resource import (
    INTERACTIONS,
    MESSAGE_INTERACTIONS,
    PARTICIPANTS,
    SESSIONS,
    ListResource,
    decoded,
)

if TYPE_CHECKING:
    from ..client.proxy_client import ProxyClient

T = TypeVar("T")


class InteractionList(ListResource[Interaction]):
    """A Session's Interactions: list, stream, fetch and delete."""

    def __init__(self, client: ProxyClient, path: str) -> None:
        super().__init__(client, path, INTERACTIONS)

    async def delete(self, sid: str, *, timeout: Timeouts | float | None = None) -> None:
        """Delete one Interaction.

        Retried like any GET; a 404 after an attempt that may have gone through counts as done.
        """
        await self._delete(sid, timeout)


class MessageInteractionList(ListResource[MessageInteraction]):
    """A Participant's Message Interactions: create (send), list, stream and fetch."""

    def __init__(self, client: ProxyClient, path: str) -> None:
        super().__init__(client, path, MESSAGE_INTERACTIONS)

    async def create(
        self,
        body: str | None = None,
        *,
        media_url: str | Sequence[str] | None = None,
        timeout: Timeouts | float | None = None,
    ) -> MessageInteraction:
        """Send a message to this Participant; needs a non-empty ``body`` and/or ``media_url``.

        At most once: if the outcome cannot be known (5xx, reset or timeout after the
        request was sent) it raises :class:`OutcomeUnknownError` instead of retrying.
        """
        text, urls = check_message(body, media_url)
        form = ([("Body", text)] if text is not None else []) + [("MediaUrl", url) for url in urls]
        response = await self._client.request("POST", self._path, form=form, timeout=timeout)
        return decoded(
            response,
            "POST",
            self._path,
            lambda body: structure_body(body, MessageInteraction),
        )


class MemberContext(Generic[T]):
    """One member of a collection, by SID: fetch it and reach what lies beneath it."""

    def __init__(self, parent: ListResource[T], sid: str) -> None:
        self.sid = sid
        self._parent = parent

    async def fetch(self, *, timeout: Timeouts | float | None = None) -> T:
        """Fetch this record."""
        return await self._parent.fetch(self.sid, timeout=timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sid!r})"


class ParticipantContext(MemberContext[Participant]):
    """One Participant of a Session: its Message Interactions."""

    def __init__(self, client: ProxyClient, parent: ParticipantList, sid: str) -> None:
        super().__init__(parent, sid)
        self.message_interactions = MessageInteractionList(
            client, f"{parent.path}/{sid}/MessageInteractions"
        )


class ParticipantList(ListResource[Participant]):
    """A Session's Participants; call it with a SID for one: ``participants("KP…")``."""

    def __init__(self, client: ProxyClient, path: str) -> None:
        super().__init__(client, path, PARTICIPANTS)

    def __call__(self, participant_sid: str) -> ParticipantContext:
        """The Participant with this SID (no request is made)."""
        return ParticipantContext(self._client, self, self._checked_sid(participant_sid))


class SessionContext(MemberContext[Session]):
    """One Session: its Interactions and Participants."""

    def __init__(self, client: ProxyClient, parent: SessionList, sid: str) -> None:
        super().__init__(parent, sid)
        base = f"{parent.path}/{sid}"
        self.interactions = InteractionList(client, f"{base}/Interactions")
        self.participants = ParticipantList(client, f"{base}/Participants")


class SessionList(ListResource[Session]):
    """A Service's Sessions; call it with a SID for one: ``sessions("KC…")``."""

    def __init__(self, client: ProxyClient, path: str) -> None:
        super().__init__(client, path, SESSIONS)

    def __call__(self, session_sid: str) -> SessionContext:
        """The Session with this SID (no request is made)."""
        return SessionContext(self._client, self, self._checked_sid(session_sid))


class ServiceContext:
    """One Proxy Service: the root of its Sessions."""

    def __init__(self, client: ProxyClient, service_sid: str) -> None:
        self.sid = check_sid(service_sid, "KS", "service_sid")
        self.sessions = SessionList(client, f"/v1/Services/{self.sid}/Sessions")

    def __repr__(self) -> str:
        return f"ServiceContext({self.sid!r})"

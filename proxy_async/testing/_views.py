"""What tests can ask the fake server about its data, and delete, outside HTTP."""

from __future__ import annotations

import itertools
import ssl
from typing import Any

from ._dataset import Dataset
from ._prerender import PageCache
from ._state import SessionRef


class DataViews:
    """The data methods of :class:`~proxy_async.testing.FakeProxyServer`.

    SIDs and JSON exactly as the API serves them; the server sets the attributes
    declared here.
    """

    host: str
    port: int
    ssl_context: ssl.SSLContext | None
    prerendered: PageCache | None
    _data: Dataset

    def _base(self) -> str:
        """``scheme://host:port`` the server listens on."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{host}:{self.port}"

    def _forget_rendered(self) -> None:
        """Empty the pre-rendered pages: the data they were made from changed."""
        if self.prerendered is not None:
            self.prerendered.clear()

    @property
    def sessions_per_service(self) -> int:
        """Sessions each service was generated with (deleted ones included)."""
        return self._data.sessions

    @property
    def participants_per_session(self) -> int:
        """Participants of each session."""
        return self._data.participants

    @property
    def interactions_per_session(self) -> int:
        """Generated interactions of each session (before creates and deletes)."""
        return self._data.interactions

    @property
    def vanishing_sessions(self) -> int:
        """How many sessions of each service are listed but answer 404."""
        return len(self._data.vanishing)

    def session_sids(self, service_sid: str, *, limit: int | None = None) -> list[str]:
        """SIDs the Sessions list of ``service_sid`` shows, in list order.

        Deleted sessions are left out; vanishing ones are in (they are listed).
        ``limit`` keeps only the first ``limit``: the whole list of a
        million-session service is ~1,000,000 strings (~90 MB).
        """
        service = self._service(service_sid)
        sessions = itertools.islice(self._data.live_sessions(service), limit)
        return [self._data.session_sid(service, i) for i in sessions]

    def vanishing_session_sids(self, service_sid: str) -> list[str]:
        """SIDs of the ``vanishing_sessions`` of ``service_sid``: listed, but 404.

        In list order; any since deleted with :meth:`delete_session` are left out.
        """
        service = self._service(service_sid)
        return [
            self._data.session_sid(service, i)
            for i in self._data.vanishing
            if not self._data.is_deleted(service, i)
        ]

    def delete_session(self, service_sid: str, session_sid: str) -> None:
        """Delete a session, as ``DELETE /v1/Services/KS…/Sessions/KC…`` would.

        From then on the session and everything under it answer 404 (code 20404),
        the Sessions list leaves it out (a walk already under way neither skips
        nor repeats another session) and its created or deleted interactions are
        forgotten. Raises KeyError for an unknown or already deleted session; a
        vanishing session may be deleted (it then leaves the list too).
        """
        ref = self._data.resolve_session(service_sid, session_sid, include_gone=True)
        if ref is None or self._data.is_deleted(ref.service, ref.session):
            raise KeyError(f"unknown session {service_sid}/{session_sid}")
        self._data.delete_session(ref)
        self._forget_rendered()

    def participant_sids(self, service_sid: str, session_sid: str) -> list[str]:
        """SIDs of the participants of a session, in list order."""
        ref = self._session(service_sid, session_sid)
        return [self._data.participant_sid(ref, i) for i in range(self._data.participants)]

    def interaction_sids(self, service_sid: str, session_sid: str) -> list[str]:
        """SIDs the session's Interactions list currently pages through, in order.

        Generated interactions minus deleted ones, then created ones. This builds the
        whole list: keep it for sessions of test size.
        """
        ref = self._session(service_sid, session_sid)
        source = self._data.interactions_source(ref, self._base())
        deleted = set(source.deleted)
        return [
            self._data.interaction_sid(ref, raw)
            for raw in range(source.raw_len)
            if raw not in deleted
        ]

    def interaction_json(self, service_sid: str, session_sid: str, sid: str) -> dict[str, Any]:
        """Exactly what fetching Interaction ``sid`` returns (KeyError if absent or deleted)."""
        ref = self._session(service_sid, session_sid)
        raw = self._data.locate(ref, sid)
        if raw is None:
            raise KeyError(f"unknown interaction {sid}")
        return self._data.interaction_json(ref, raw, self._base())

    def message_interactions(
        self, service_sid: str, session_sid: str, participant_sid: str
    ) -> list[dict[str, Any]]:
        """Everything the participant's MessageInteractions list pages through, in order.

        That is the generated message interactions whose outbound participant it is,
        then those created for it through the API; deleted ones are left out.
        """
        ref, participant = self._participant(service_sid, session_sid, participant_sid)
        source = self._data.message_source(ref, participant, self._base())
        deleted = set(source.deleted)
        return [source.render(raw) for raw in range(source.raw_len) if raw not in deleted]

    def created_message_interactions(
        self, service_sid: str, session_sid: str, participant_sid: str | None = None
    ) -> list[dict[str, Any]]:
        """MessageInteractions created through the API (and not deleted), oldest first."""
        ref = self._session(service_sid, session_sid)
        participant = None
        if participant_sid is not None:
            participant = self._participant(service_sid, session_sid, participant_sid)[1]
        return [
            self._data.interaction_json(ref, raw, self._base(), message_view=True)
            for raw in self._data.created(ref, participant)
        ]

    def _service(self, service_sid: str) -> int:
        service = self._data.resolve_service(service_sid)
        if service is None:
            raise KeyError(f"unknown service {service_sid}")
        return service

    def _session(self, service_sid: str, session_sid: str) -> SessionRef:
        ref = self._data.resolve_session(service_sid, session_sid)
        if ref is None:
            raise KeyError(
                f"no such session (or deleted or vanishing): {service_sid}/{session_sid}"
            )
        return ref

    def _participant(
        self, service_sid: str, session_sid: str, participant_sid: str
    ) -> tuple[SessionRef, int]:
        ref = self._session(service_sid, session_sid)
        participant = self._data.resolve_participant(ref, participant_sid)
        if participant is None:
            raise KeyError(f"unknown participant {participant_sid}")
        return ref, participant

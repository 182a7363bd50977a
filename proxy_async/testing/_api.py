"""The Proxy v1 resources the fake serves: routing, paging parameters, create, delete.

Pure request -> :class:`~._http.Reply` logic with no HTTP machinery, so the server
module can wrap it in latency, limits and faults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from ._dataset import Dataset
from ._http import Reply, error, not_found
from ._paging import MAX_PAGE_SIZE, PageQuery, PageTokens, build_page
from ._sources import Source
from ._state import SessionRef

_DIGITS = re.compile(r"[0-9]{1,9}")

# Path shapes after ``/v1/Services/{KS}/Sessions``, with the methods each allows.
_ROUTES: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("GET",),
    ("{sid}",): ("GET",),
    ("{sid}", "Participants"): ("GET",),
    ("{sid}", "Participants", "{sid}"): ("GET",),
    ("{sid}", "Participants", "{sid}", "MessageInteractions"): ("GET", "POST"),
    ("{sid}", "Participants", "{sid}", "MessageInteractions", "{sid}"): ("GET",),
    ("{sid}", "Interactions"): ("GET",),
    ("{sid}", "Interactions", "{sid}"): ("GET", "DELETE"),
}


@attrs.frozen
class Call:
    """One authenticated API request, as the resources see it."""

    method: str
    path: str
    query: Mapping[str, str]
    form: list[tuple[str, str]]
    base: str  # absolute URLs in bodies start with this
    page_size: int  # PageSize when the request gives none
    create_status: int


class ProxyApi:
    """Answers :class:`Call` objects from a :class:`~._dataset.Dataset`."""

    def __init__(self, data: Dataset, tokens: PageTokens) -> None:
        self._data = data
        self._tokens = tokens

    def dispatch(self, call: Call) -> Reply:
        """The reply to ``call`` (404/405 for unknown paths and methods)."""
        path = call.path
        parts = path.split("/")
        if len(parts) < 5 or parts[:3] != ["", "v1", "Services"] or parts[4] != "Sessions":
            return not_found(path)
        service_sid, rest = parts[3], parts[5:]
        shape = tuple(part if position % 2 else "{sid}" for position, part in enumerate(rest))
        allowed = _ROUTES.get(shape)
        if allowed is None or "" in parts[1:]:
            return not_found(path)
        if call.method not in allowed:
            reply = error(405, 20004, f"Method {call.method} not allowed on {path}")
            reply.headers["Allow"] = ", ".join(allowed)
            return reply
        if not rest:
            return self._sessions(call, service_sid)
        ref = self._data.resolve_session(service_sid, rest[0])
        if ref is None:
            return not_found(path)
        if len(rest) == 1:
            return Reply(
                200, self._data.session_json(ref.service, service_sid, ref.session, call.base)
            )
        if rest[1] == "Interactions":
            return self._interactions(call, ref, rest[2:])
        if len(rest) == 2:
            source = self._data.participants_source(ref, call.base)
            return self._page(call, source, "participants", f"{ref.path}/Participants")
        participant = self._data.resolve_participant(ref, rest[2])
        if participant is None:
            return not_found(path)
        if len(rest) == 3:
            return Reply(200, self._data.participant_json(ref, participant, call.base))
        return self._message_interactions(call, ref, participant, rest[2], rest[4:])

    def _sessions(self, call: Call, service_sid: str) -> Reply:
        service = self._data.resolve_service(service_sid)
        if service is None:
            return not_found(call.path)
        source = self._data.sessions_source(service, service_sid, call.base)
        return self._page(call, source, "sessions", f"/v1/Services/{service_sid}/Sessions")

    def _interactions(self, call: Call, ref: SessionRef, rest: list[str]) -> Reply:
        if not rest:
            source = self._data.interactions_source(ref, call.base)
            return self._page(call, source, "interactions", f"{ref.path}/Interactions")
        raw = self._data.locate(ref, rest[0])
        if raw is None:
            return not_found(call.path)
        if call.method == "DELETE":
            self._data.delete(ref, raw)
            return Reply(204)
        return Reply(200, self._data.interaction_json(ref, raw, call.base))

    def _message_interactions(
        self, call: Call, ref: SessionRef, participant: int, participant_sid: str, rest: list[str]
    ) -> Reply:
        if rest:
            raw = self._data.locate(ref, rest[0])
            if raw is None or self._data.owner(ref, raw) != participant:
                return not_found(call.path)
            return Reply(200, self._data.interaction_json(ref, raw, call.base, message_view=True))
        if call.method == "POST":
            bodies = [value for key, value in call.form if key == "Body"]
            media = [value for key, value in call.form if key == "MediaUrl"]
            body = bodies[-1] if bodies and bodies[-1] else None
            if body is None and not media:
                return error(400, 21619, "A text message body or media urls must be specified.")
            raw = self._data.create(ref, participant, body, media)
            payload = self._data.interaction_json(ref, raw, call.base, message_view=True)
            return Reply(call.create_status, payload)
        source = self._data.message_source(ref, participant, call.base)
        list_path = f"{ref.path}/Participants/{participant_sid}/MessageInteractions"
        return self._page(call, source, "interactions", list_path)

    def _page(self, call: Call, source: Source, key: str, list_path: str) -> Reply:
        size_text = call.query.get("PageSize")
        size = call.page_size
        if size_text is not None:
            size = int(size_text) if _DIGITS.fullmatch(size_text) else 0
            if not 1 <= size <= MAX_PAGE_SIZE:
                return error(400, 20001, f"PageSize must be an integer from 1 to {MAX_PAGE_SIZE}")
        page_text = call.query.get("Page", "0")
        if _DIGITS.fullmatch(page_text) is None:
            return error(400, 20001, "Page must be a non-negative integer")
        token = call.query.get("PageToken")
        start = None
        if token is not None:
            start = self._tokens.parse(list_path, token)
            if start is None:
                return error(400, 20001, "Invalid PageToken")
        page = build_page(
            source,
            PageQuery(size=size, index=int(page_text), token=token, start=start),
            key=key,
            base_url=call.base,
            list_path=list_path,
            tokens=self._tokens,
        )
        return Reply(200, page.payload, list_key=key, empty_next_url=page.empty_next_url)

"""The one generic collection path: :class:`ListResource` over a :class:`ResourceSpec`.

``pages``/``stream``/``list``/``fetch`` serve Interactions, MessageInteractions,
Sessions and Participants alike (the thin per-endpoint classes are in
:mod:`proxy_async.resources.contexts`). Caller input is validated here, before any
request is built; page URLs are checked on arrival and before they are followed.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
import yarl

from ..client.hosts import parse_page_url
from ..errors import ForeignPageUrlError, InvalidParameterError, InvalidResponseError
from ..models.json_codec import decode_json
from ..models.pages import ReceivedPage, receive_body, structure_body
from ..models.records import Interaction, MessageInteraction, Page, Participant, Session
from ..pagination.seen import SeenRecords
from ..pagination.walk import PageFetch, walk_items, walk_pages
from ..transports.base import Response, Timeouts
from ..validation import check_limit, check_sid, page_size_for

if TYPE_CHECKING:
    from ..client.proxy_client import ProxyClient

T = TypeVar("T")
R = TypeVar("R")


@attrs.frozen
class ResourceSpec(Generic[T]):
    """How one kind of record is listed and fetched."""

    model: type[T]
    list_key: str
    sid_prefix: str
    sid_parameter: str


INTERACTIONS = ResourceSpec(Interaction, "interactions", "KI", "interaction_sid")
MESSAGE_INTERACTIONS = ResourceSpec(MessageInteraction, "interactions", "KI", "interaction_sid")
SESSIONS = ResourceSpec(Session, "sessions", "KC", "session_sid")
PARTICIPANTS = ResourceSpec(Participant, "participants", "KP", "participant_sid")


class ListResource(Generic[T]):
    """A collection endpoint: page through it, stream it, collect it, fetch one record."""

    def __init__(self, client: ProxyClient, path: str, spec: ResourceSpec[T]) -> None:
        self._client = client
        self._path = path
        self._spec = spec

    @property
    def path(self) -> str:
        """The collection's path under the base URL."""
        return self._path

    def pages(
        self,
        *,
        page_size: int | None = None,
        limit: int | None = None,
        start_url: str | None = None,
        timeout: Timeouts | float | None = None,
        seen_records: SeenRecords | None = None,
    ) -> AsyncGenerator[Page[T], None]:
        """Iterate over pages in server order.

        ``limit`` caps the number of records (the last page is truncated and nothing
        further is fetched); ``page_size`` is capped at 1000 and defaults to
        ``min(limit, 1000)`` with a limit, else the server's default (50).
        ``start_url`` resumes from a ``next_page_url`` saved from an earlier walk.
        ``seen_records``: the record SIDs of this list seen by earlier walks (pass the same
        :class:`~proxy_async.pagination.SeenRecords` to each, e.g. when resuming from a
        ``next_page_url`` after an error): pages then come without records already seen
        (a warning counts them), and loops are caught across the walks. Not with ``limit``.
        Arguments are checked now, before anything is sent.
        """
        limit = check_limit(limit)
        if seen_records is not None and (
            not isinstance(seen_records, SeenRecords) or seen_records.fingerprints
        ):
            # Records are left out on a match: a fingerprint collision would drop one.
            expected = "None or a SeenRecords keeping exact SIDs (fingerprints=False)"
            raise InvalidParameterError("seen_records", expected, seen_records)
        if seen_records is not None and limit is not None:
            # The walk remembers whole pages: the unread rest of a truncated page would
            # count as seen, and a later walk would leave those records out.
            expected = "None when limit is given (pages are remembered whole)"
            raise InvalidParameterError("seen_records", expected, seen_records)
        fetch = self._page_fetcher(page_size_for(page_size, limit), timeout)
        return walk_pages(
            fetch,
            limit=limit,
            start_url=_check_start_url(start_url),
            prefetch=self._client.prefetch,
            seen_records=seen_records,
        )

    def stream(
        self,
        *,
        limit: int | None = None,
        page_size: int | None = None,
        start_url: str | None = None,
        timeout: Timeouts | float | None = None,
    ) -> AsyncGenerator[T, None]:
        """Iterate over records in server order, fetching pages as needed (see :meth:`pages`)."""
        limit = check_limit(limit)
        fetch = self._page_fetcher(page_size_for(page_size, limit), timeout)
        return walk_items(
            fetch,
            limit=limit,
            start_url=_check_start_url(start_url),
            prefetch=self._client.prefetch,
        )

    async def list(
        self,
        *,
        limit: int | None = None,
        page_size: int | None = None,
        timeout: Timeouts | float | None = None,
    ) -> builtins.list[T]:
        """Collect records into a list; without ``limit`` this reads the whole collection."""
        return [
            item async for item in self.stream(limit=limit, page_size=page_size, timeout=timeout)
        ]

    async def fetch(self, sid: str, *, timeout: Timeouts | float | None = None) -> T:
        """Fetch one record by SID."""
        return await self._fetched(
            sid, timeout, lambda body: structure_body(body, self._spec.model)
        )

    async def fetch_raw(
        self, sid: str, *, timeout: Timeouts | float | None = None
    ) -> tuple[T, dict[str, Any]]:
        """Fetch one record by SID: typed, and as sent (the decoded JSON object, as a
        page's ``raw_items`` holds its records: Twilio's names and values untouched).

        Raises as :meth:`fetch` does (a 404: :class:`~proxy_async.errors.NotFoundError`).
        """
        model = self._spec.model
        return await self._fetched(
            sid, timeout, lambda body: (structure_body(body, model), decode_json(body))
        )

    async def _fetched(
        self, sid: str, timeout: Timeouts | float | None, build: Callable[[bytes], R]
    ) -> R:
        path = self._member_path(sid)
        response = await self._client.request("GET", path, timeout=timeout)
        return decoded(response, "GET", path, build)

    async def _delete(self, sid: str, timeout: Timeouts | float | None) -> None:
        await self._client.request("DELETE", self._member_path(sid), timeout=timeout)

    def _checked_sid(self, sid: str) -> str:
        return check_sid(sid, self._spec.sid_prefix, self._spec.sid_parameter)

    def _member_path(self, sid: str) -> str:
        return f"{self._path}/{self._checked_sid(sid)}"

    def _page_fetcher(
        self, page_size: int | None, timeout: Timeouts | float | None
    ) -> PageFetch[T]:
        first_params = {} if page_size is None else {"PageSize": str(page_size)}
        spec = self._spec

        # The next_page_url last checked on arrival: the walk's usual next request, which
        # need not be parsed and checked a second time (only a caller's start_url is).
        arrived: list[str | None] = [None]

        async def fetch(url: str | None) -> ReceivedPage[T]:
            if url is not None and url != arrived[0]:
                self._check_page_url(url, "start_url")
            target = self._path if url is None else url
            response = await self._client.request(
                "GET", target, params=first_params if url is None else None, timeout=timeout
            )
            received = decoded(
                response,
                "GET",
                self._path,
                lambda body: receive_body(body, spec.model, spec.list_key, self._path),
            )
            # Checked on arrival: a page pointing elsewhere is refused before its records
            # are used, so a saved position never holds a URL that leads elsewhere.
            if received.meta.next_page_url is not None:
                self._check_page_url(received.meta.next_page_url, "meta.next_page_url")
                arrived[0] = received.meta.next_page_url
            return received

        return fetch

    def _check_page_url(self, url: str, source: str) -> None:
        """A page URL must parse (:func:`~proxy_async.client.hosts.parse_page_url`) and lead to
        this very list, its query aside (else :class:`ForeignPageUrlError`).

        ``source`` is ``"meta.next_page_url"`` for a URL as it arrives from the server
        (unparseable: :class:`InvalidResponseError` naming that field) or ``"start_url"``
        for a caller's (:class:`InvalidParameterError`). Which host it is sent to, if
        any, is decided when it is requested (:func:`~proxy_async.client.hosts.page_url_target`).
        """
        parsed = parse_page_url(url)
        if parsed is None:
            if source == "start_url":
                raise InvalidParameterError("start_url", START_URL_EXPECTED, url)
            raise InvalidResponseError(
                "not an absolute URL a client can follow",
                field=source,
                method="GET",
                path=self._path,
            )
        expected = yarl.URL(self._client.base_url).raw_path.rstrip("/") + self._path
        if parsed.raw_path != expected:
            raise ForeignPageUrlError(url, expected)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"


START_URL_EXPECTED = "an absolute page URL from meta.next_page_url"


def _check_start_url(url: object) -> str | None:
    if url is None:
        return None
    if (
        not isinstance(url, str)
        or not url.startswith(("http://", "https://"))
        or parse_page_url(url) is None
    ):
        raise InvalidParameterError("start_url", START_URL_EXPECTED, url)
    return url


def decoded(response: Response, method: str, path: str, build: Callable[[bytes], R]) -> R:
    """Decode and structure a body, naming the request in any InvalidResponseError."""
    try:
        return build(response.body)
    except InvalidResponseError as error:
        error.method, error.path = method, path
        raise

"""The fake server's record of every request it received, in arrival order."""

from __future__ import annotations

import attrs
from aiohttp import web

from ._faults import Fault, FaultKind


@attrs.frozen
class RecordedRequest:
    """One request the fake server received, as it arrived.

    ``status`` is the HTTP status finally sent (None until answered, and for
    requests answered with no response at all); ``fault`` the kind of fault applied.
    """

    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: list[tuple[str, str]]
    status: int | None = None
    fault: FaultKind | None = None


Slot = tuple[int, int]
"""Where a recorded request is: (generation of the log, index in :attr:`RequestLog.requests`)."""


class RequestLog:
    """:class:`RecordedRequest` entries, each completed with its status once answered.

    :meth:`clear` starts a new generation, so a request answered after it does not
    write its status into whatever entry now sits at its old index.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._generation = 0

    def record(
        self,
        request: web.Request,
        arrival: float,
        form: list[tuple[str, str]],
        fault: Fault | None,
    ) -> Slot:
        """Append ``request`` as it arrived (``arrival``: monotonic seconds)."""
        query = request.query
        self.requests.append(
            RecordedRequest(
                time=arrival,
                method=request.method,
                path=request.path,
                query={key: query.getall(key) for key in dict.fromkeys(query.keys())},
                headers=dict(request.headers),
                form=form,
                fault=None if fault is None else fault.kind,
            )
        )
        return self._generation, len(self.requests) - 1

    def finish(self, slot: Slot | None, status: int | None) -> None:
        """Set the status sent for the request at ``slot`` (None: not recorded)."""
        if slot is None or slot[0] != self._generation or slot[1] >= len(self.requests):
            return
        self.requests[slot[1]] = attrs.evolve(self.requests[slot[1]], status=status)

    def clear(self) -> None:
        """Forget every entry, in place."""
        self.requests.clear()
        self._generation += 1

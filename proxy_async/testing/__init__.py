"""A fake Twilio Proxy v1 server for testing code that talks to the Interaction API.

``FakeProxyServer`` serves generated, deterministic Services/Sessions/Participants/
Interactions over real HTTP on 127.0.0.1, pages them Twilio-style, records every
request, and misbehaves on demand through :class:`Fault`::

    async with FakeProxyServer(interactions_per_session=500) as srv:
        srv.add_fault(Fault.status(429, retry_after="2"), path_contains="/Interactions")
        ...  # point your client at srv.url with FAKE_ACCOUNT_SID / FAKE_AUTH_TOKEN

``proxy-async fake-server --port 8080`` (or ``python -m proxy_async.testing``) runs one
on its own.
"""

from ..transports.mock import MockTransport, json_response
from ._faults import Fault, FaultKind
from ._serve import describe, serve
from ._server import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer, RecordedRequest

__all__ = [
    "FAKE_ACCOUNT_SID",
    "FAKE_AUTH_TOKEN",
    "FakeProxyServer",
    "Fault",
    "FaultKind",
    "MockTransport",
    "RecordedRequest",
    "describe",
    "json_response",
    "serve",
]

"""Sending one HTTP request: the :class:`Transport` protocol and its implementations.

``base`` (Request, Response, Timeouts, Transport), ``default`` (the aiohttp transport),
``failures`` (aiohttp/OS failures as TransportErrors), ``egress`` and ``proxy_url``
(forward proxies, NO_PROXY), ``tls`` (CA trust) and ``mock`` (an in-process transport
for tests).
"""

from .base import Request, Response, Timeouts, Transport
from .default import AiohttpTransport
from .mock import MockTransport, json_response

__all__ = [
    "AiohttpTransport",
    "MockTransport",
    "Request",
    "Response",
    "Timeouts",
    "Transport",
    "json_response",
]

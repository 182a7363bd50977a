"""Sending one HTTP request: the :class:`Transport` protocol, the aiohttp transport, egress."""

from .base import Request, Response, Timeouts, Transport
from .default import AiohttpTransport

__all__ = [
    "AiohttpTransport",
    "Request",
    "Response",
    "Timeouts",
    "Transport",
]

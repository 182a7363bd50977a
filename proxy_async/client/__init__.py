"""The client: credentials and hosts, and :class:`ProxyClient`, which sends every request."""

from .attempts import AttemptEvent, Hook
from .auth import (
    Credentials,
)
from .config import ClientConfig
from .proxy_client import ProxyClient

__all__ = [
    "AttemptEvent",
    "ClientConfig",
    "Credentials",
    "Hook",
    "ProxyClient",
]

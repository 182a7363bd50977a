"""The client: credentials and hosts, and :class:`ProxyClient`, which sends every request."""

from .auth import (
    Credentials,
)
from .config import ClientConfig
from .proxy_client import (
    AttemptEvent,
    Hook,
    ProxyClient,
)

__all__ = [
    "AttemptEvent",
    "ClientConfig",
    "Credentials",
    "Hook",
    "ProxyClient",
]

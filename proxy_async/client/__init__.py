"""The client: credentials and hosts, and :class:`ProxyClient`, which sends every request."""

from .auth import (
    Credentials,
)
from .proxy_client import (
    AttemptEvent,
    Hook,
    ProxyClient,
)

__all__ = [
    "AttemptEvent",
    "Credentials",
    "Hook",
    "ProxyClient",
]

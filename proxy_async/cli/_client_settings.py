"""The one place where command-line options become client options: :class:`ClientSettings`."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ..client.proxy_client import ProxyClient


@attrs.frozen
class ClientSettings:
    """What the command line says about the client: its host, forward proxy and CA bundle.

    None leaves a setting to the environment, as :meth:`ProxyClient.from_env` reads it.
    This is the only place command-line options become client options.
    """

    base_url: str | None = None
    proxy: str | None = attrs.field(default=None, repr=False)
    ca_bundle: str | None = None

    OPTION_NAMES: ClassVar[dict[str, str]] = {
        "base_url": "--base-url",
        "proxy": "--proxy",
        "ca_bundle": "--ca-bundle",
    }
    """The option that sets each client parameter: a failure names the option."""

    @classmethod
    def option_names(cls) -> dict[str, str]:
        """:attr:`OPTION_NAMES` and the other parameters a command passes on as they
        were typed (``out``: ``--out``), for :func:`~proxy_async.cli._failures.failure_of`."""
        return {**cls.OPTION_NAMES, "out": "--out"}

    def client(self, **options: Any) -> ProxyClient:
        """``ProxyClient.from_env`` with these settings and ``options`` (limiter, hooks).

        Raises :class:`~proxy_async.errors.InvalidParameterError` naming the variable
        or the parameter that is wrong (see :func:`~proxy_async.cli._failures.failure_of`).
        """
        for name in ("base_url", "proxy", "ca_bundle"):
            value = getattr(self, name)
            if value is not None:
                options[name] = value
        return ProxyClient.from_env(**options)

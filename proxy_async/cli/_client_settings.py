"""The one place where command-line options become client options: :class:`ClientSettings`."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ..client.config import ClientConfig
from ..client.proxy_client import ProxyClient


@attrs.frozen
class ClientSettings:
    """What the command line says about the client: its host, forward proxy and CA bundle.

    None leaves a setting to the environment, as :meth:`ClientConfig.from_env
    <proxy_async.ClientConfig.from_env>` reads it.
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

    def config(self) -> ClientConfig:
        """The client configuration: the environment's, these options on top.

        Raises :class:`~proxy_async.errors.InvalidParameterError` naming the variable
        or the parameter that is wrong (see :func:`~proxy_async.cli._failures.failure_of`).
        """
        return ClientConfig.from_env(
            base_url=self.base_url, proxy=self.proxy, ca_bundle=self.ca_bundle
        )

    def client(self, **parts: Any) -> ProxyClient:
        """A client from :meth:`config` and ``parts`` (a limiter, hooks)."""
        return ProxyClient.from_config(self.config(), **parts)

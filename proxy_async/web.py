"""One :class:`~proxy_async.ProxyClient` per web application: opened at startup, closed at shutdown.

A client owns a connection pool and a limiter, so a web service should share one across
all its handlers rather than open one per request. These helpers tie that client to the
application's lifecycle, so it is created in the server's event loop once the app
starts, and closed after the server has stopped taking requests and the handlers still
running have finished:

- aiohttp.web: :func:`proxy_client_context` for ``app.cleanup_ctx``; handlers read the
  client as ``request.app[key]``, typed through a ``web.AppKey``.
- ASGI (Starlette, FastAPI): :func:`proxy_client_lifespan` for ``lifespan=``; the
  client is in the lifespan state, read in handlers with :func:`proxy_client_from_state`.

Client options are :class:`~proxy_async.ProxyClient`'s keyword arguments, or
``config=`` a :class:`~proxy_async.ClientConfig` (with the parts that are objects:
``limiter=``, hooks...). Without either, the client is built by
:meth:`ProxyClient.from_env <proxy_async.ProxyClient.from_env>` from the ``TWILIO_*``
environment variables. Every way goes through one :class:`~proxy_async.ClientConfig`.

Nothing here imports an ASGI framework: the lifespan is a plain async context manager.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final

from aiohttp import web

from .client.config import CLIENT_PARTS
from .client.proxy_client import ProxyClient
from .errors import InvalidParameterError

__all__ = [
    "DEFAULT_STATE_KEY",
    "proxy_client_context",
    "proxy_client_from_state",
    "proxy_client_lifespan",
]

DEFAULT_STATE_KEY: Final = "proxy_client"
"""Name of the client in the ASGI lifespan state (``request.state.proxy_client``)."""


def _new_client(options: Mapping[str, Any]) -> ProxyClient:
    """The client ``options`` describe: ``config=`` a :class:`ClientConfig` (and parts),
    the constructor's arguments, or else the environment's settings with these on top.
    Each way builds a :class:`ClientConfig` first, so each is checked alike."""
    if "config" in options:
        settings = sorted(options.keys() - CLIENT_PARTS - {"config"})
        if settings:
            raise InvalidParameterError(
                settings[0],
                "no setting beside config=: put it in the ClientConfig "
                "(attrs.evolve(config, ...)); only the parts (limiter, transport, hooks, "
                "trace_configs, ssl_context) go beside it",
            )
        return ProxyClient.from_config(**options)
    if "account_sid" in options:
        return ProxyClient(**options)
    return ProxyClient.from_env(**options)


def proxy_client_context(
    app_key: web.AppKey[ProxyClient], **client_options: Any
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry that keeps one client under ``app[app_key]`` while the app runs.

    ::

        PROXY = web.AppKey("proxy", ProxyClient)
        app.cleanup_ctx.append(proxy_client_context(PROXY, account_sid=..., auth_token=...))
        ...
        client = request.app[PROXY]

    The client is built at startup (bad options fail the startup, not the import) and
    closed at cleanup, which aiohttp runs after graceful shutdown let the handlers in
    flight finish; it is closed too when a later startup step fails. After shutdown
    ``app[app_key]`` still holds the closed client.
    """

    async def proxy_client(app: web.Application) -> AsyncIterator[None]:
        client = _new_client(client_options)
        try:
            app[app_key] = client
            yield
        finally:
            await client.aclose()

    return proxy_client


def proxy_client_lifespan(
    *, state_key: str = DEFAULT_STATE_KEY, **client_options: Any
) -> Callable[[object], AbstractAsyncContextManager[dict[str, ProxyClient]]]:
    """An ASGI lifespan (Starlette or FastAPI ``lifespan=``) that opens and closes one client.

    ::

        app = Starlette(routes=..., lifespan=proxy_client_lifespan(account_sid=..., ...))
        ...
        client = proxy_client_from_state(request.state)

    It yields the lifespan state ``{state_key: client}``; Starlette hands a copy of it
    to every request, so all share the one client. The client is built when the server
    starts the app, in the server's event loop, and closed when the lifespan ends: after
    the server stopped taking requests, or if the app fails while starting. To open
    other resources next to it, write your own lifespan around
    ``async with ProxyClient(...) as client:``.
    """

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[dict[str, ProxyClient]]:
        async with _new_client(client_options) as client:
            yield {state_key: client}

    return lifespan


def proxy_client_from_state(state: object, key: str = DEFAULT_STATE_KEY) -> ProxyClient:
    """The client :func:`proxy_client_lifespan` put in the lifespan state, typed.

    ``state`` is ``request.state`` (Starlette, FastAPI) or the ``scope["state"]`` mapping.
    Raises LookupError when no client is there, i.e. the app was not started with that
    lifespan (or with another ``state_key``).
    """
    client = state.get(key) if isinstance(state, Mapping) else getattr(state, key, None)
    if not isinstance(client, ProxyClient):
        raise LookupError(
            f"no ProxyClient under {key!r} in the lifespan state: "
            "is the app's lifespan proxy_client_lifespan()?"
        )
    return client

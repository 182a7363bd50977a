"""An aiohttp.web service with one ProxyClient: a Proxy intercept webhook and a send endpoint.

Routes:

- ``POST /proxy/intercept``: the Proxy Service's InterceptCallbackUrl. Twilio calls it
  before each interaction; answering 403 blocks the interaction, anything else lets it
  through. Requests without a valid ``X-Twilio-Signature`` get 403, and so do messages
  containing a banned word.
- ``POST /sessions/{session_sid}/participants/{participant_sid}/messages`` with JSON
  ``{"body": "..."}``: sends a message interaction through the app's client; 201 with the
  new interaction's SID. It has no authentication of its own: keep it internal.

Run it against the built-in fake Proxy server (no Twilio account needed)::

    python -m examples.aiohttp_app --fake

or against Twilio (see :meth:`Settings.from_env <examples.common.Settings.from_env>`)::

    TWILIO_ACCOUNT_SID=AC... TWILIO_AUTH_TOKEN=... PROXY_SERVICE_SID=KS... \\
        PROXY_INTERCEPT_URL=https://example.com/proxy/intercept \\
        python -m examples.aiohttp_app --port 8080
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiohttp import web

from examples.common import Settings, is_blocked, message_text, send_error_status
from proxy_async import ProxyClient, ProxyError
from proxy_async.errors import InvalidCallbackError
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer
from proxy_async.web import proxy_client_context
from proxy_async.webhooks import parse_callback, verify_request

SETTINGS = web.AppKey("settings", Settings)
PROXY_CLIENT = web.AppKey("proxy_client", ProxyClient)


async def intercept(request: web.Request) -> web.Response:
    """Proxy's intercept callback: 403 blocks the interaction, 200 lets it through."""
    settings = request.app[SETTINGS]
    valid = await verify_request(
        request,
        settings.auth_token,
        public_url=settings.intercept_url,
        shared_key=settings.webhook_shared_key,
    )
    if not valid:
        return web.Response(status=403, text="invalid signature")
    try:
        callback = parse_callback(await request.post())
    except InvalidCallbackError as error:
        # Any answer but 403 lets the interaction through: one we cannot read is blocked.
        return web.Response(status=403, text=str(error))
    if is_blocked(callback, settings.banned_words):
        return web.Response(status=403, text="blocked")
    return web.Response(status=200, text="ok")


async def send_message(request: web.Request) -> web.Response:
    """Send ``{"body": ...}`` to a Participant as a Message Interaction."""
    settings = request.app[SETTINGS]
    client = request.app[PROXY_CLIENT]
    try:
        payload: object = await request.json()
    except ValueError:
        payload = None
    body = message_text(payload)
    if body is None:
        return web.json_response({"error": 'expected JSON {"body": "<text>"}'}, status=400)
    try:
        session = client.services(settings.service_sid).sessions(request.match_info["session_sid"])
        participant = session.participants(request.match_info["participant_sid"])
        interaction = await participant.message_interactions.create(body)
    except ProxyError as error:
        return web.json_response(
            {"error": type(error).__name__, "detail": str(error)}, status=send_error_status(error)
        )
    return web.json_response(
        {
            "sid": interaction.sid,
            "session_sid": interaction.session_sid,
            "participant_sid": interaction.participant_sid,
        },
        status=201,
    )


def create_app(settings: Settings) -> web.Application:
    """The service: routes, settings, and the one ProxyClient opened at startup."""
    app = web.Application()
    app[SETTINGS] = settings
    app.cleanup_ctx.append(
        proxy_client_context(
            PROXY_CLIENT,
            account_sid=settings.account_sid,
            auth_token=settings.auth_token,
            base_url=settings.base_url,
        )
    )
    app.router.add_post("/proxy/intercept", intercept)
    app.router.add_post(
        "/sessions/{session_sid}/participants/{participant_sid}/messages", send_message
    )
    return app


async def _app_with_fake_server(port: int) -> web.Application:
    server = FakeProxyServer()
    await server.start()
    service = server.service_sids[0]
    session = server.session_sids(service)[0]
    participant = server.participant_sids(service, session)[0]
    app = create_app(Settings(FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, service, base_url=server.url))

    async def stop_fake_server(_: web.Application) -> None:
        await server.stop()

    # on_cleanup runs after cleanup_ctx: the client closes before the fake server stops.
    app.on_cleanup.append(stop_fake_server)
    url = f"http://127.0.0.1:{port}/sessions/{session}/participants/{participant}/messages"
    payload = '{"body": "hi"}'
    print(f"fake Proxy API at {server.url}; send a message with:")
    print(f"  curl -H 'Content-Type: application/json' -d '{payload}' {url}")
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Run the service until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m examples.aiohttp_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fake", action="store_true", help="use a built-in fake Proxy API")
    args = parser.parse_args(argv)
    if args.fake:
        web.run_app(_app_with_fake_server(args.port), host=args.host, port=args.port)
    else:
        web.run_app(create_app(Settings.from_env()), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

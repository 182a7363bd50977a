"""The example service on Starlette: one ProxyClient in the ASGI lifespan state.

The same two routes as :mod:`examples.aiohttp_app`. FastAPI takes the same ``lifespan=``
argument, and there ``request.state`` holds the client just the same.

Needs ``pip install starlette uvicorn``. Run it with the same environment variables as
the aiohttp example::

    uvicorn --factory examples.starlette_app:app_from_env --port 8080
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from examples.common import Settings, is_blocked, message_text, send_error_status
from proxy_async import ProxyError
from proxy_async.errors import InvalidCallbackError
from proxy_async.web import proxy_client_from_state, proxy_client_lifespan
from proxy_async.webhooks import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    asgi_request_url,
    parse_callback,
    validate_request,
)


def create_app(settings: Settings) -> Starlette:
    """The service: routes over ``settings``, and the client opened by the lifespan."""

    async def intercept(request: Request) -> Response:
        """Proxy's intercept callback: 403 blocks the interaction, 200 lets it through."""
        body = await request.body()
        valid = validate_request(
            settings.auth_token,
            asgi_request_url(request.scope, public_url=settings.intercept_url),
            body,
            request.headers.get(SIGNATURE_HEADER),
            content_type=request.headers.get("content-type"),
            signature_settings=request.headers.get(SIGNATURE_SETTINGS_HEADER),
            shared_key=settings.webhook_shared_key,
        )
        if not valid:
            return PlainTextResponse("invalid signature", status_code=403)
        try:
            callback = parse_callback(
                parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            )
        except InvalidCallbackError as error:
            # Any answer but 403 lets the interaction through: one we cannot read is blocked.
            return PlainTextResponse(str(error), status_code=403)
        if is_blocked(callback, settings.banned_words):
            return PlainTextResponse("blocked", status_code=403)
        return PlainTextResponse("ok")

    async def send_message(request: Request) -> Response:
        """Send ``{"body": ...}`` to a Participant as a Message Interaction."""
        client = proxy_client_from_state(request.state)
        try:
            payload: object = await request.json()
        except ValueError:
            payload = None
        body = message_text(payload)
        if body is None:
            return JSONResponse({"error": 'expected JSON {"body": "<text>"}'}, status_code=400)
        try:
            session = client.services(settings.service_sid).sessions(
                request.path_params["session_sid"]
            )
            participant = session.participants(request.path_params["participant_sid"])
            interaction = await participant.message_interactions.create(body)
        except ProxyError as error:
            return JSONResponse(
                {"error": type(error).__name__, "detail": str(error)},
                status_code=send_error_status(error),
            )
        return JSONResponse(
            {
                "sid": interaction.sid,
                "session_sid": interaction.session_sid,
                "participant_sid": interaction.participant_sid,
            },
            status_code=201,
        )

    return Starlette(
        routes=[
            Route("/proxy/intercept", intercept, methods=["POST"]),
            Route(
                "/sessions/{session_sid}/participants/{participant_sid}/messages",
                send_message,
                methods=["POST"],
            ),
        ],
        lifespan=proxy_client_lifespan(
            account_sid=settings.account_sid,
            auth_token=settings.auth_token,
            base_url=settings.base_url,
        ),
    )


def app_from_env() -> Starlette:
    """The service configured from the environment (``uvicorn --factory``)."""
    return create_app(Settings.from_env())

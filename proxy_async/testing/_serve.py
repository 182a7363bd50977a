"""Run the fake server on its own (``proxy-async fake-server``), and describe it.

:func:`serve` runs a :class:`FakeProxyServer` until cancelled; :func:`describe` is
what its banner says (counts, credentials, a few SIDs, a ready-to-paste export).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Callable, Sequence
from typing import Any

from ..client.environment import BASE_URL_VARIABLE
from ._server import FakeProxyServer


async def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[FakeProxyServer], None] | None = None,
    **kwargs: Any,
) -> None:
    """Run a :class:`FakeProxyServer` until cancelled.

    ``kwargs`` go to the constructor; ``on_ready`` is called once the server
    listens (``port=0`` picks a free port, readable there as ``server.url``).
    """
    async with FakeProxyServer(host=host, port=port, **kwargs) as server:
        if on_ready is not None:
            on_ready(server)
        await asyncio.get_running_loop().create_future()


def describe(server: FakeProxyServer) -> dict[str, Any]:
    """What ``server`` serves, as the ``fake-server --json`` ready line gives it.

    Keys: url, account_sid, auth_token, service_sids, sessions_per_service,
    interactions_per_session, participants_per_session, vanishing_sessions,
    session_sids_sample (the first 3 session SIDs of the first service),
    participant_sid_sample (the first participant of the first session, or None),
    environment (the variables that point ``proxy-async`` and ``ProxyClient.from_env``
    at it) and export_command (a ready-to-run export of the first service, or None).
    Never one entry per session: a million sessions describe in constant size.
    """
    services = server.service_sids
    sessions = server.session_sids(services[0], limit=3) if services else []
    participant = None
    with contextlib.suppress(KeyError, IndexError):  # no session, or it vanishes
        participant = server.participant_sids(services[0], sessions[0])[0]
    environment = {
        "TWILIO_ACCOUNT_SID": server.account_sid,
        "TWILIO_AUTH_TOKEN": server.auth_token,
        BASE_URL_VARIABLE: server.url,
    }
    command = None
    if services:
        command = _shell(
            ["proxy-async", "export", "--service", services[0], "--out", "interactions.ndjson"]
        )
    return {
        "url": server.url,
        "account_sid": server.account_sid,
        "auth_token": server.auth_token,
        "service_sids": services,
        "sessions_per_service": server.sessions_per_service,
        "interactions_per_session": server.interactions_per_session,
        "participants_per_session": server.participants_per_session,
        "vanishing_sessions": server.vanishing_sessions,
        "session_sids_sample": sessions,
        "participant_sid_sample": participant,
        "environment": environment,
        "export_command": command,
    }


def banner(details: dict[str, Any]) -> str:
    """The lines ``proxy-async fake-server`` prints once it listens (from :func:`describe`)."""
    services, sessions = details["service_sids"], details["session_sids_sample"]
    count = len(services)
    lines = [
        f"Fake Twilio Proxy server listening on {details['url']}",
        f"  account sid : {details['account_sid']}",
        f"  auth token  : {details['auth_token']}",
        f"  data        : {count} service{'' if count == 1 else 's'} x "
        f"{details['sessions_per_service']:,} sessions x "
        f"{details['interactions_per_session']:,} interactions, "
        f"{details['participants_per_session']} participants per session",
    ]
    if details["vanishing_sessions"]:
        lines.append(
            f"  vanishing   : {details['vanishing_sessions']:,} sessions per service are "
            "listed, then answer 404"
        )
    if services:
        lines.append(f"  service     : {services[0]}")
    if sessions:
        lines.append(f"  session     : {sessions[0]}")
    if details["participant_sid_sample"]:
        lines.append(
            f"  participant : {details['participant_sid_sample']} (of that session: the "
            "quickstart's create sends as it)"
        )
    if details["export_command"]:
        variables = " ".join(f"{k}={shlex.quote(v)}" for k, v in details["environment"].items())
        lines += [
            "Export it all, from another terminal:",
            f"  export {variables}",
            f"  {details['export_command']}",
        ]
        if sessions:
            lines.append(f"  (or look first: proxy-async sessions list --service {services[0]})")
    lines.append("Press Ctrl+C to stop.")
    return "\n".join(lines)


def _shell(words: Sequence[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)

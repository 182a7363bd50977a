"""10,000 concurrent fetches through one client against a server that caps in-flight."""

from __future__ import annotations

import asyncio

from proxy_async import ProxyClient
from proxy_async.testing import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FakeProxyServer

CAP = 32


async def test_ten_thousand_concurrent_fetches_stay_under_the_cap() -> None:
    async with FakeProxyServer(
        interactions_per_session=500, max_in_flight=CAP, record_requests=False
    ) as server:
        service = server.service_sids[0]
        session = server.session_sids(service)[0]
        sids = server.interaction_sids(service, session)
        wanted = [sids[(i * 7) % len(sids)] for i in range(10_000)]
        async with ProxyClient(
            FAKE_ACCOUNT_SID,
            FAKE_AUTH_TOKEN,
            base_url=server.url,
            max_concurrency=CAP,
            requests_per_second=None,
        ) as client:
            interactions = client.services(service).sessions(session).interactions
            results = await asyncio.gather(*(interactions.fetch(sid) for sid in wanted))
        assert [r.sid for r in results] == wanted
        assert all(r.session_sid == session for r in results)
        assert server.max_in_flight_seen <= CAP

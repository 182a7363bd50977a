"""AdmissionQueue: FIFO slots under a limit that grows and shrinks, each admission
stamped with the grant it was made under."""

from __future__ import annotations

import asyncio

from proxy_async.limits.admission import AdmissionQueue
from proxy_async.limits.window import Grant


async def test_waiters_are_stamped_with_the_grant_they_are_admitted_under() -> None:
    queue = AdmissionQueue(Grant(0, 1))
    assert await queue.enter() == Grant(0, 1)
    first = asyncio.ensure_future(queue.enter())
    second = asyncio.ensure_future(queue.enter())
    await asyncio.sleep(0)
    assert (queue.in_flight, queue.waiting) == (1, 2)
    queue.resize(Grant(1, 2))  # grows by one: the head goes now, under the new grant
    assert (queue.in_flight, queue.waiting) == (2, 1)
    assert await first == Grant(1, 2)
    queue.resize(Grant(2, 1))  # shrinks: nothing revoked, nobody admitted
    queue.leave()
    assert (queue.in_flight, queue.waiting) == (1, 1)
    queue.leave()
    assert await second == Grant(2, 1)
    queue.leave()
    assert (queue.in_flight, queue.waiting) == (0, 0)

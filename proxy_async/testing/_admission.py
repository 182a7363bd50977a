"""Whether the fake server lets a request through: Basic credentials and the rate window."""

from __future__ import annotations

import base64
import binascii
import collections
import hmac
from collections.abc import Mapping


def authorized(
    header: str | None, account_sid: str, auth_token: str, api_keys: Mapping[str, str]
) -> bool:
    """Whether ``header`` (``Authorization``) carries Basic credentials the fake accepts.

    The account SID with ``auth_token``, or an API key SID of ``api_keys`` with its
    secret; the secret is compared in constant time.
    """
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, separator, password = decoded.partition(":")
    expected = auth_token if user == account_sid else api_keys.get(user)
    if not separator or expected is None:
        return False
    return hmac.compare_digest(password.encode(), expected.encode())


class RateWindow:
    """Arrival times of the requests accepted within the last second."""

    def __init__(self) -> None:
        self._times: collections.deque[float] = collections.deque()

    def full(self, now: float, per_second: float) -> bool:
        """Whether ``per_second`` requests were accepted in the second before ``now``
        (monotonic seconds); if not, the request arriving ``now`` is counted in."""
        times = self._times
        while times and times[0] <= now - 1.0:
            times.popleft()
        if len(times) >= per_second:
            return True
        times.append(now)
        return False

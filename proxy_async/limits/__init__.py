"""Admission limits: fixed, adaptive (concurrency and rate) and shared through Redis.

``base`` (the :class:`Limiter` protocol, defaults, checks), ``fixed``
(:class:`RateLimiter`), ``window`` (the adaptive window as pure arithmetic),
``admission`` (the queue that applies it), ``adaptive`` (:class:`AdaptiveLimiter`),
``rate_control`` and ``pacer`` (an adaptive rate's arithmetic and spacing),
``adaptive_rate`` (:class:`AdaptiveRateLimiter`), ``redis`` (:class:`RedisLimiter`).
"""

from .adaptive import AdaptiveLimiter
from .adaptive_rate import AdaptiveRateLimiter
from .base import Limiter
from .fixed import RateLimiter
from .redis import RedisLimiter  # imports redis only when one is created

__all__ = [
    "AdaptiveLimiter",
    "AdaptiveRateLimiter",
    "Limiter",
    "RateLimiter",
    "RedisLimiter",
]

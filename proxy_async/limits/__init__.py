"""Admission limits: fixed, adaptive (concurrency and rate) and shared through Redis."""

from .adaptive import (
    AdaptiveLimiter,
    Limiter,
    RateLimiter,
)
from .adaptive_rate import (
    AdaptiveRateLimiter,
)
from .redis import RedisLimiter  # imports redis only when one is created

__all__ = [
    "AdaptiveLimiter",
    "AdaptiveRateLimiter",
    "Limiter",
    "RateLimiter",
    "RedisLimiter",
]

"""How a worker is configured: :class:`WorkerConfig`, from the ``PROXY_ASYNC_*`` variables.

Read by :meth:`WorkerConfig.from_env` (for ``proxy-async workers run`` and ``arq
proxy_async.workers.WorkerSettings``, when ``WorkerSettings`` is first looked up;
importing :mod:`proxy_async.workers` reads nothing):

* ``TWILIO_ACCOUNT_SID`` with ``TWILIO_AUTH_TOKEN`` (or ``TWILIO_API_KEY`` and
  ``TWILIO_API_SECRET``), ``TWILIO_EDGE``, ``TWILIO_REGION``: the account;
* ``PROXY_ASYNC_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``): queue and limit;
* ``PROXY_ASYNC_RPS`` (default 30): requests per second for the whole pool;
* ``PROXY_ASYNC_MAX_CONCURRENCY`` (default 20): requests in flight per worker;
* ``PROXY_ASYNC_ADAPTIVE`` (``1``): learn each worker's window from 429s instead;
* ``PROXY_ASYNC_MAX_JOBS`` (default 4): batches one worker exports at once;
* ``PROXY_ASYNC_BATCH_CONCURRENCY`` (default 8): sessions one batch walks at once;
* ``PROXY_ASYNC_JOB_TIMEOUT`` (default 3600): seconds one try of a batch may run;
* ``PROXY_ASYNC_RETRIES`` (default 4): retries of one request before its session
  fails; ``PROXY_ASYNC_RETRY_DELAY`` (default 5): seconds x try before arq runs an
  incomplete batch's job again;
* ``PROXY_ASYNC_BASE_URL``: another API host (the fake server, a proxy), read as
  :meth:`ProxyClient.from_env <proxy_async.ProxyClient.from_env>` reads it;
* ``PROXY_ASYNC_PROXY`` / ``PROXY_ASYNC_CA_BUNDLE``: a forward proxy URL and a CA
  bundle for the workers alone (the CLI's ``--proxy`` / ``--ca-bundle``); without them
  ``HTTPS_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``... apply as for any client
  (:mod:`proxy_async.transports.egress`).

Counts (``MAX_CONCURRENCY``, ``MAX_JOBS``, ``BATCH_CONCURRENCY``) are integers from 1 to
1000 (:data:`~proxy_async.limits.base.MAX_CONCURRENCY`), ``RETRIES`` from 0 to 100; rates
and seconds are finite numbers > 0, seconds at most a week; ``ADAPTIVE`` is 1/true/yes/on
or 0/false/no/off. Anything else raises :class:`~proxy_async.errors.InvalidParameterError`
naming the variable, so a worker refuses to start rather than run with a guess.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from ..client.config import ClientConfig
from ..client.environment import base_url_from_env
from ..client.proxy_client import ProxyClient
from ..limits.adaptive import AdaptiveLimiter
from ..limits.base import DEFAULT_MAX_CONCURRENCY, DEFAULT_REQUESTS_PER_SECOND, MAX_CONCURRENCY
from ..limits.redis import DEFAULT_KEY, RedisLimiter
from ..retry.policy import RetryPolicy
from ..validation import check_redis_url, env_flag, env_int, env_number

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_MAX_JOBS = 4

DEFAULT_BATCH_CONCURRENCY = 8
"""Sessions one batch walks at once; the worker's limiter is the real bound."""

DEFAULT_JOB_TIMEOUT = 3600
"""Seconds one try of a batch may run. arq fails a job that runs longer, without a
retry; the batch's state is saved, so ``enqueue --retry-failed`` (or a rerun once arq
has dropped the failed result) continues where it stopped."""

MAX_WAIT = 7 * 86_400.0
"""The longest ``PROXY_ASYNC_JOB_TIMEOUT`` or ``PROXY_ASYNC_RETRY_DELAY`` accepted, in
seconds (a week): a longer one is surely a unit mistake, and arq turns these into
timers and timedeltas, which overflow for huge values."""

MAX_RETRIES = 100
"""The most ``PROXY_ASYNC_RETRIES`` accepted: with backoff, 100 retries of one request
already span hours; more is a typo that would keep a dead session busy for days."""


@attrs.frozen
class WorkerConfig:
    """How a worker builds its client; :meth:`from_env` reads the ``PROXY_ASYNC_*`` variables.

    ``requests_per_second`` is shared by every worker on ``redis_url`` (under
    ``rate_key``); ``fallback_requests_per_second`` is each worker's own rate while
    Redis is unreachable (default: the shared rate / ``expected_workers``).
    ``retry_delay`` is the wait (seconds x try) before an incomplete batch runs again;
    ``batch_concurrency`` the sessions one batch walks at once; ``max_jobs`` the batches
    one worker runs at once; ``job_timeout`` the seconds one try may take.
    ``proxy`` (a forward proxy URL, its password hidden from repr) and ``ca_bundle``
    (a CA file or directory) go to the client; None leaves them to the standard
    variables. ``environ`` supplies the ``TWILIO_*`` credentials and those variables
    (None: the process environment).
    """

    redis_url: str = DEFAULT_REDIS_URL
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    adaptive: bool = False
    base_url: str | None = None
    rate_key: str = DEFAULT_KEY
    expected_workers: int = 4
    fallback_requests_per_second: float | None = None
    retry: RetryPolicy | int | None = None
    retry_delay: float = 5.0
    batch_concurrency: int = DEFAULT_BATCH_CONCURRENCY
    max_jobs: int = DEFAULT_MAX_JOBS
    job_timeout: float = DEFAULT_JOB_TIMEOUT
    proxy: str | None = attrs.field(default=None, repr=False)
    ca_bundle: str | None = None
    environ: Mapping[str, str] | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        """The configuration the ``PROXY_ASYNC_*`` environment variables describe.

        Raises :class:`~proxy_async.errors.InvalidParameterError` naming a variable
        that is not a valid number.
        """
        env = os.environ if environ is None else environ
        redis_url = env.get("PROXY_ASYNC_REDIS_URL") or DEFAULT_REDIS_URL
        check_redis_url(redis_url)
        return cls(
            redis_url=redis_url,
            requests_per_second=env_number(env, "PROXY_ASYNC_RPS", DEFAULT_REQUESTS_PER_SECOND),
            max_concurrency=env_int(
                env, "PROXY_ASYNC_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, MAX_CONCURRENCY
            ),
            adaptive=env_flag(env, "PROXY_ASYNC_ADAPTIVE"),
            base_url=base_url_from_env(env),
            retry=_env_retries(env),
            retry_delay=env_number(env, "PROXY_ASYNC_RETRY_DELAY", 5.0, MAX_WAIT),
            batch_concurrency=env_int(
                env, "PROXY_ASYNC_BATCH_CONCURRENCY", DEFAULT_BATCH_CONCURRENCY, MAX_CONCURRENCY
            ),
            max_jobs=env_int(env, "PROXY_ASYNC_MAX_JOBS", DEFAULT_MAX_JOBS, MAX_CONCURRENCY),
            job_timeout=env_number(env, "PROXY_ASYNC_JOB_TIMEOUT", DEFAULT_JOB_TIMEOUT, MAX_WAIT),
            proxy=env.get("PROXY_ASYNC_PROXY") or None,
            ca_bundle=env.get("PROXY_ASYNC_CA_BUNDLE") or None,
            environ=environ,
        )

    def make_limiter(self) -> RedisLimiter:
        """The shared-rate limiter of one worker (its local part fixed or adaptive)."""
        local = None
        if self.adaptive:
            local = AdaptiveLimiter(
                initial_concurrency=self.max_concurrency,
                max_concurrency=max(self.max_concurrency, 100),
                requests_per_second=None,
            )
        fallback = self.fallback_requests_per_second
        if fallback is None:
            fallback = self.requests_per_second / max(1, self.expected_workers)
        return RedisLimiter(
            self.redis_url,
            requests_per_second=self.requests_per_second,
            key=self.rate_key,
            max_concurrency=self.max_concurrency,
            local=local,
            fallback_requests_per_second=fallback,
        )

    def make_client(self, limiter: RedisLimiter) -> ProxyClient:
        """A client for the ``TWILIO_*`` account through ``limiter``."""
        return ProxyClient.from_config(self.client_config(retry=self.retry), limiter=limiter)

    def client_config(self, **settings: Any) -> ClientConfig:
        """The client settings every client of the pool shares: the ``TWILIO_*`` account,
        the host and egress of this configuration, and ``settings`` (``retry``,
        ``requests_per_second``...) on top, checked as :class:`ClientConfig` checks them."""
        return ClientConfig.from_env(
            self.environ,
            base_url=self.base_url,
            proxy=self.proxy,
            ca_bundle=self.ca_bundle,
            **settings,
        )


def _env_retries(env: Mapping[str, str]) -> int | None:
    """``PROXY_ASYNC_RETRIES``, or None (the client's default policy) when unset or empty."""
    raw = env.get("PROXY_ASYNC_RETRIES")
    if not raw:
        return None
    return env_int(env, "PROXY_ASYNC_RETRIES", 0, MAX_RETRIES, low=0)

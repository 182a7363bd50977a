"""worker_settings from a given WorkerConfig, and ``workers run`` reading the environment once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from proxy_async.cli import main
from proxy_async.workers import CONFIG_KEY, FUNCTIONS, WorkerConfig, worker_settings


def test_worker_settings_use_the_config_given() -> None:
    config = WorkerConfig(redis_url="redis://example:7/3", max_jobs=9, job_timeout=42.0)
    settings: Any = worker_settings(config=config)
    redis = settings.redis_settings
    assert (redis.host, redis.port, redis.database) == ("example", 7, 3)
    assert (settings.max_jobs, settings.job_timeout) == (9, 42.0)
    assert settings.functions == FUNCTIONS
    assert settings.__module__ == "proxy_async.workers"


async def test_the_settings_put_their_config_in_the_worker_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = WorkerConfig(max_jobs=3)
    settings: Any = worker_settings(config=config)
    started: list[dict[Any, Any]] = []

    async def recording_startup(ctx: dict[Any, Any]) -> None:
        started.append(dict(ctx))

    monkeypatch.setattr("proxy_async.workers.jobs.startup", recording_startup)
    await settings.on_startup({})
    other = WorkerConfig(max_jobs=5)
    await settings.on_startup({CONFIG_KEY: other})  # one already there is kept
    assert [ctx[CONFIG_KEY] for ctx in started] == [config, other]


def test_worker_settings_refuse_both_an_environment_and_a_config() -> None:
    with pytest.raises(TypeError, match="environ or config, not both"):
        worker_settings({}, config=WorkerConfig())


class _FakeWorker:
    """What ``workers run`` uses of arq's Worker, for a worker that finds no job."""

    jobs_complete = jobs_failed = jobs_retried = 0

    def __init__(self) -> None:
        self.on_stop: Any = None

    def run(self) -> None:
        """No job, no signal: returns at once."""


@pytest.mark.parametrize("redis_option", [[], ["--redis", "redis://127.0.0.1:6399/4"]])
def test_workers_run_reads_the_environment_once(
    redis_option: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # It read it twice: once for the worker's settings, once more for the Redis URL of
    # its messages, which could then disagree with the worker's own.
    monkeypatch.setenv("PROXY_ASYNC_REDIS_URL", "redis://127.0.0.1:6398/2")
    monkeypatch.setenv("PROXY_ASYNC_MAX_JOBS", "6")
    reads: list[Mapping[str, str] | None] = []
    from_env = WorkerConfig.from_env

    def counting(environ: Mapping[str, str] | None = None) -> WorkerConfig:
        reads.append(environ)
        return from_env(environ)

    monkeypatch.setattr(WorkerConfig, "from_env", counting)
    made: list[Any] = []

    def create_worker(settings: Any, **kwargs: Any) -> _FakeWorker:
        made.append((settings, kwargs))
        return _FakeWorker()

    monkeypatch.setattr("arq.worker.create_worker", create_worker)
    assert main(["workers", "run", "--burst", *redis_option]) == 0
    assert len(reads) == 1
    ((settings, kwargs),) = made
    assert kwargs == {"burst": True}
    assert settings.max_jobs == 6
    assert settings.redis_settings.port == (6399 if redis_option else 6398)
    assert "worker stopped: 0 jobs done" in capsys.readouterr().out

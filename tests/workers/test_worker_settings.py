"""WorkerConfig from the environment, the settings class built from it, and ``workers run``
reading the environment once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from proxy_async.cli import main
from proxy_async.errors import InvalidParameterError
from proxy_async.workers import CONFIG_KEY, FUNCTIONS, WorkerConfig, worker_settings


def test_config_and_worker_settings_from_environment() -> None:
    config = WorkerConfig.from_env(
        {
            "PROXY_ASYNC_REDIS_URL": "redis://example:1/2",
            "PROXY_ASYNC_RPS": "12.5",
            "PROXY_ASYNC_MAX_CONCURRENCY": "7",
            "PROXY_ASYNC_ADAPTIVE": "1",
            "PROXY_ASYNC_BASE_URL": "http://127.0.0.1:9",
            "PROXY_ASYNC_RETRIES": "0",
            "PROXY_ASYNC_RETRY_DELAY": "0.5",
            "PROXY_ASYNC_BATCH_CONCURRENCY": "3",
            "PROXY_ASYNC_MAX_JOBS": "2",
            "PROXY_ASYNC_JOB_TIMEOUT": "60",
        }
    )
    assert (config.retry, config.retry_delay) == (0, 0.5)
    assert (config.redis_url, config.requests_per_second, config.max_concurrency) == (
        "redis://example:1/2",
        12.5,
        7,
    )
    assert (config.batch_concurrency, config.max_jobs, config.job_timeout) == (3, 2, 60)
    assert config.adaptive
    assert config.base_url == "http://127.0.0.1:9"
    assert WorkerConfig.from_env({}) == WorkerConfig(environ={})
    with pytest.raises(InvalidParameterError):
        WorkerConfig.from_env({"PROXY_ASYNC_RPS": "fast"})
    with pytest.raises(InvalidParameterError):
        WorkerConfig.from_env({"PROXY_ASYNC_RETRIES": "-1"})

    settings: Any = worker_settings({"PROXY_ASYNC_REDIS_URL": "redis://example:1/2"})
    assert (settings.redis_settings.host, settings.redis_settings.port) == ("example", 1)
    assert settings.functions == FUNCTIONS
    assert settings.max_jobs == 4


def test_importing_the_workers_reads_no_environment() -> None:
    code = (
        "import proxy_async.workers as w\n"
        "try:\n"
        "    w.WorkerSettings\n"
        "except ValueError as error:\n"
        "    print('on use:', error)\n"
    )
    env = {**os.environ, "PROXY_ASYNC_MAX_JOBS": "many"}
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr  # the import itself did not fail
    assert done.stdout.startswith("on use:")
    assert "PROXY_ASYNC_MAX_JOBS" in done.stdout


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

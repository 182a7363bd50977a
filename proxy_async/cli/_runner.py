"""Run a command's coroutine in its own event loop; SIGINT and SIGTERM stop it cleanly.

A signal cancels the command's task, so an export commits its state and closes its
files before the process exits with 128 + the signal's number.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._failures import EXIT_SIGNALLED, Interrupted

T = TypeVar("T")

_STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_until_signalled(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)``, cancelled by SIGINT or SIGTERM.

    Raises :class:`~proxy_async.cli._failures.Interrupted` (exit 128 + the signal)
    when a signal stopped it; ``work`` may raise its own ``Interrupted`` (with a hint
    such as "rerun with --resume") when cancelled, and gets the signal's number here.
    """
    try:
        return asyncio.run(_until_signalled(work))
    except KeyboardInterrupt:  # a Ctrl-C before the handlers were installed, or after
        raise Interrupted() from None


async def _until_signalled(work: Coroutine[Any, Any, T]) -> T:
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        task.cancel()

    installed = []
    if threading.current_thread() is threading.main_thread():
        for signum in _STOPPING_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stop, signum)
                installed.append(signum)
    try:
        return await task
    except Interrupted as stopped:
        if received:
            stopped.exit_code = EXIT_SIGNALLED + received[0]
        raise
    except asyncio.CancelledError:
        if received:
            raise Interrupted(signum=received[0]) from None
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)

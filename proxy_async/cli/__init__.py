"""The ``proxy-async`` command line (also ``python -m proxy_async``).

One command tree: ``export`` and ``demo`` (:mod:`.export`), ``sessions list`` and
``interactions list|fetch`` (:mod:`.read`), ``workers enqueue|run|merge``
(:mod:`.workers`) and ``fake-server`` (:mod:`.fake_server`). Options become client
options in one place (:class:`._client_settings.ClientSettings`); every failure becomes one
line and an exit code in one place (:mod:`._failures`, reported by :func:`main`).

Built on click: it gives the command tree, typed options checked as they are parsed,
help that shows every default, and in-process testing.
"""

from ._app import cli, main
from ._failures import (
    EXIT_FATAL,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_SIGNALLED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandFailure,
)

__all__ = [
    "EXIT_FATAL",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_SIGNALLED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "CommandFailure",
    "cli",
    "main",
]

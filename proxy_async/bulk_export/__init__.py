"""The bulk export engine: every session of a Service, into a file, resumable."""

from ..errors import ApiUnavailableError, SessionDiscoveryError, SessionsFailedError
from .engine import (
    ExportProgress,
    ExportSummary,
    SessionFailed,
    SessionFailure,
    SessionPage,
    TaggedInteraction,
    discover_sessions,
    export,
    stream_interactions,
    stream_pages,
)
from .files import (
    ExportPaths,
)

__all__ = [
    "ApiUnavailableError",
    "ExportPaths",
    "ExportProgress",
    "ExportSummary",
    "SessionDiscoveryError",
    "SessionFailed",
    "SessionFailure",
    "SessionPage",
    "SessionsFailedError",
    "TaggedInteraction",
    "discover_sessions",
    "export",
    "stream_interactions",
    "stream_pages",
]

"""proxy-async: an asyncio-native client for the Twilio Proxy v1 Interaction API.

async with ProxyClient(account_sid, auth_token) as client:
    session = client.services("KS…").sessions("KC…")
    async for interaction in session.interactions.stream(limit=500):
        ...
"""

from ._version import __version__
from .bulk_export.events import (
    ExportProgress,
    ExportSummary,
    SessionFailed,
    SessionFailedEvent,
    SessionFailure,
    SessionPage,
    TaggedInteraction,
)
from .bulk_export.paths import ExportPaths
from .bulk_export.run import export
from .bulk_export.streams import stream_interactions, stream_pages
from .bulk_export.walk import discover_sessions
from .client.attempts import AttemptEvent
from .client.auth import Credentials
from .client.config import ClientConfig
from .client.proxy_client import ProxyClient
from .errors import (
    ApiError,
    ApiUnavailableError,
    AuthenticationError,
    AuthError,
    BadRequestError,
    CertificateVerifyError,
    ClientClosedError,
    ConflictError,
    ConnectError,
    ConnectionLostError,
    EgressProxyError,
    EgressProxyRefusedError,
    EgressProxyTimeoutError,
    EgressProxyUnresolvedError,
    EmptyPagesError,
    ExportError,
    ExportStateError,
    ExportWriteError,
    ForeignPageUrlError,
    InvalidParameterError,
    InvalidResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PaginationError,
    PaginationLoopError,
    PermissionDeniedError,
    ProxyError,
    RateLimitError,
    RequestTimeoutError,
    ResponseError,
    ResponseTooLargeError,
    ServerError,
    SessionDiscoveryError,
    SessionsFailedError,
    TransportError,
    UnsafePageUrlError,
)
from .limits.adaptive import AdaptiveLimiter
from .limits.adaptive_rate import AdaptiveRateLimiter
from .limits.base import Limiter
from .limits.fixed import RateLimiter
from .limits.redis import RedisLimiter  # imports redis only when one is created
from .models.enums import InteractionType, OpenEnum, ResourceStatus, SessionMode, SessionStatus
from .models.records import Interaction, MessageInteraction, Page, PageMeta, Participant, Session
from .pagination.seen import SeenRecords
from .resources.contexts import (
    InteractionList,
    MemberContext,
    MessageInteractionList,
    ParticipantContext,
    ParticipantList,
    ServiceContext,
    SessionContext,
    SessionList,
)
from .resources.list_resource import ListResource
from .retry.policy import RetryPolicy
from .transports.base import Request, Response, Timeouts, Transport
from .transports.default import AiohttpTransport

__all__ = [
    "AdaptiveLimiter",
    "AdaptiveRateLimiter",
    "AiohttpTransport",
    "ApiError",
    "ApiUnavailableError",
    "AttemptEvent",
    "AuthError",
    "AuthenticationError",
    "BadRequestError",
    "CertificateVerifyError",
    "ClientClosedError",
    "ClientConfig",
    "ConflictError",
    "ConnectError",
    "ConnectionLostError",
    "Credentials",
    "EgressProxyError",
    "EgressProxyRefusedError",
    "EgressProxyTimeoutError",
    "EgressProxyUnresolvedError",
    "EmptyPagesError",
    "ExportError",
    "ExportPaths",
    "ExportProgress",
    "ExportStateError",
    "ExportSummary",
    "ExportWriteError",
    "ForeignPageUrlError",
    "Interaction",
    "InteractionList",
    "InteractionType",
    "InvalidParameterError",
    "InvalidResponseError",
    "Limiter",
    "ListResource",
    "MemberContext",
    "MessageInteraction",
    "MessageInteractionList",
    "NotFoundError",
    "OpenEnum",
    "OutcomeUnknownError",
    "Page",
    "PageMeta",
    "PaginationError",
    "PaginationLoopError",
    "Participant",
    "ParticipantContext",
    "ParticipantList",
    "PermissionDeniedError",
    "ProxyClient",
    "ProxyError",
    "RateLimitError",
    "RateLimiter",
    "RedisLimiter",
    "Request",
    "RequestTimeoutError",
    "ResourceStatus",
    "Response",
    "ResponseError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "SeenRecords",
    "ServerError",
    "ServiceContext",
    "Session",
    "SessionContext",
    "SessionDiscoveryError",
    "SessionFailed",
    "SessionFailedEvent",
    "SessionFailure",
    "SessionList",
    "SessionMode",
    "SessionPage",
    "SessionStatus",
    "SessionsFailedError",
    "TaggedInteraction",
    "Timeouts",
    "Transport",
    "TransportError",
    "UnsafePageUrlError",
    "__version__",
    "discover_sessions",
    "export",
    "stream_interactions",
    "stream_pages",
]

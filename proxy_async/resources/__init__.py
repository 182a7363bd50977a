"""The Proxy resources: one generic list path and the thin contexts built on it.

:mod:`~proxy_async.resources.list_resource` holds :class:`ListResource`, the one
``pages``/``stream``/``list``/``fetch`` path every collection uses, and the
:class:`ResourceSpec` of each kind of record; :mod:`~proxy_async.resources.contexts`
holds the per-endpoint classes, as twilio-python names them
(``services(..).sessions(..).interactions``).
"""

from .contexts import (
    InteractionList,
    MemberContext,
    MessageInteractionList,
    ParticipantContext,
    ParticipantList,
    ServiceContext,
    SessionContext,
    SessionList,
)
from .list_resource import ListResource, ResourceSpec

__all__ = [
    "InteractionList",
    "ListResource",
    "MemberContext",
    "MessageInteractionList",
    "ParticipantContext",
    "ParticipantList",
    "ResourceSpec",
    "ServiceContext",
    "SessionContext",
    "SessionList",
]

"""Records and their conversion: attrs classes, JSON codec, cattrs and msgspec paths."""

from .records import (
    Interaction,
    InteractionType,
    MessageInteraction,
    OpenEnum,
    Page,
    PageMeta,
    Participant,
    ResourceStatus,
    Session,
    SessionMode,
    SessionStatus,
    decode_data,
)

__all__ = [
    "Interaction",
    "InteractionType",
    "MessageInteraction",
    "OpenEnum",
    "Page",
    "PageMeta",
    "Participant",
    "ResourceStatus",
    "Session",
    "SessionMode",
    "SessionStatus",
    "decode_data",
]

"""The string enums of the Proxy v1 records: open, so values Twilio adds later are kept.

Values follow ``twilio_proxy_v1.json`` (the conformance test reads it).
"""

from __future__ import annotations

import enum
from typing import Any


class OpenEnum(str, enum.Enum):
    """A string enum that keeps values Twilio adds later instead of rejecting them.

    Lookup is case-insensitive (``InteractionType("MESSAGE") is InteractionType.MESSAGE``);
    an unknown string becomes a pseudo-member that compares equal to the string and
    has ``is_known == False``. Non-strings are still rejected.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        known = cls._value2member_map_.get(value.lower())
        if known is not None:
            return known
        # Not cached in the class: a misbehaving server must not grow it without bound.
        pseudo = str.__new__(cls, value)
        pseudo._name_ = value.upper().replace("-", "_")
        pseudo._value_ = value
        return pseudo

    @property
    def is_known(self) -> bool:
        """Whether this value is one the spec lists (not one added by Twilio since)."""
        return type(self)._value2member_map_.get(self._value_) is self

    def __str__(self) -> str:
        return str(self.value)


class InteractionType(OpenEnum):
    """``type`` of an Interaction: message, voice or unknown."""

    MESSAGE = "message"
    VOICE = "voice"
    UNKNOWN = "unknown"


class ResourceStatus(OpenEnum):
    """Status of an Interaction's inbound or outbound Call/Message resource."""

    ACCEPTED = "accepted"
    ANSWERED = "answered"
    BUSY = "busy"
    CANCELED = "canceled"
    COMPLETED = "completed"
    DELETED = "deleted"
    DELIVERED = "delivered"
    DELIVERY_UNKNOWN = "delivery-unknown"
    FAILED = "failed"
    IN_PROGRESS = "in-progress"
    INITIATED = "initiated"
    NO_ANSWER = "no-answer"
    QUEUED = "queued"
    RECEIVED = "received"
    RECEIVING = "receiving"
    RINGING = "ringing"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    UNDELIVERED = "undelivered"
    UNKNOWN = "unknown"


class SessionStatus(OpenEnum):
    """``status`` of a Session."""

    OPEN = "open"
    IN_PROGRESS = "in-progress"
    CLOSED = "closed"
    FAILED = "failed"
    UNKNOWN = "unknown"


class SessionMode(OpenEnum):
    """``mode`` of a Session."""

    MESSAGE_ONLY = "message-only"
    VOICE_ONLY = "voice-only"
    VOICE_AND_MESSAGE = "voice-and-message"

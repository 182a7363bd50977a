"""Read a Proxy webhook's form into a typed callback.

:func:`parse_callback` reads a CallbackUrl or InterceptCallbackUrl form into a
:class:`ProxyCallback`; :func:`parse_out_of_session_callback` reads an
OutOfSessionCallbackUrl form into an :class:`OutOfSessionCallback`. Parameters Twilio
may add later, or that are not modelled, land in ``extra``. Required: ``interactionSid``
for the former; ``AccountSid``, ``From`` and ``To`` for the latter. An empty value counts
as absent. A malformed form raises :class:`~proxy_async.errors.InvalidCallbackError`
naming the parameter; its message never repeats the value, which may be a phone number
or a message body.

Types and statuses are the open enums the API's records use
(:class:`~proxy_async.models.records.InteractionType`, ``ResourceStatus``,
``SessionStatus``, ``SessionMode``), read as those are: case-insensitively, so Twilio's
``interactionType=Voice`` is ``InteractionType.VOICE`` (equal to ``"voice"``), and a value
Twilio adds later is kept as a member with ``is_known`` False. ``CallStatus`` is Twilio
Voice's, not a Proxy field, and stays text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

from ..models.enums import InteractionType, ResourceStatus, SessionMode, SessionStatus
from ..models.records import decode_data
from .form_reader import FormReader


def _read_only(
    mapping: Mapping[str, str | tuple[str, ...]],
) -> Mapping[str, str | tuple[str, ...]]:
    return MappingProxyType(dict(mapping))


@attrs.frozen(kw_only=True)
class ProxyCallback:
    """One CallbackUrl or InterceptCallbackUrl request: an Interaction happened.

    Only ``interaction_sid`` is required: every interaction webhook names its
    Interaction, while the legs (an intercept callback has no outbound leg yet) and the
    other fields vary. Absent or empty parameters are None; dates are aware UTC.
    ``interaction_data`` is ``interactionData`` decoded as
    :attr:`Interaction.decoded_data <proxy_async.models.Interaction.decoded_data>` decodes
    it: the JSON value (e.g. ``{"body": "hello"}`` or ``{"duration": "5"}``), or the text
    itself when it is not JSON; None when absent. ``interaction_data_raw`` keeps the text
    as sent. Treat the decoded value as read-only.
    """

    interaction_sid: str
    interaction_type: InteractionType | None = None
    interaction_data_raw: str | None = None
    interaction_data: Any = attrs.field(default=None, hash=False)
    interaction_account_sid: str | None = None
    interaction_service_sid: str | None = None
    interaction_session_sid: str | None = None
    interaction_date_created: datetime | None = None
    interaction_date_updated: datetime | None = None
    inbound_participant_sid: str | None = None
    inbound_resource_sid: str | None = None
    inbound_resource_status: ResourceStatus | None = None
    inbound_resource_type: str | None = None
    inbound_resource_url: str | None = None
    outbound_participant_sid: str | None = None
    outbound_resource_sid: str | None = None
    outbound_resource_status: ResourceStatus | None = None
    outbound_resource_type: str | None = None
    outbound_resource_url: str | None = None
    extra: Mapping[str, str | tuple[str, ...]] = attrs.field(
        factory=dict, converter=_read_only, hash=False
    )

    @property
    def message_body(self) -> str | None:
        """The text of a message interaction (``interactionData``'s ``body``), if any."""
        data = self.interaction_data
        if isinstance(data, dict):
            body = data.get("body")
            if isinstance(body, str):
                return body
        return None


def parse_callback(form: Mapping[str, object]) -> ProxyCallback:
    """Read a CallbackUrl or InterceptCallbackUrl form into a :class:`ProxyCallback`.

    ``form`` maps names to a str or a list of str (a plain dict, or aiohttp's
    ``await request.post()``). Raises :class:`~proxy_async.errors.InvalidCallbackError`
    naming the parameter when ``interactionSid`` is missing, a known parameter is
    repeated or not text, a SID lacks its prefix (``KI``, ``KC``, ``KS``, ``AC``, ``KP``)
    or a date or URL is malformed. Check the signature first: this does not.
    """
    reader = FormReader(form)
    interaction_sid = reader.required_sid("interactionSid", "KI")
    data = reader.text("interactionData")
    return ProxyCallback(
        interaction_sid=interaction_sid,
        interaction_type=reader.choice("interactionType", InteractionType),
        interaction_data_raw=data,
        interaction_data=decode_data(data),
        interaction_account_sid=reader.sid("interactionAccountSid", "AC"),
        interaction_service_sid=reader.sid("interactionServiceSid", "KS"),
        interaction_session_sid=reader.sid("interactionSessionSid", "KC"),
        interaction_date_created=reader.date("interactionDateCreated"),
        interaction_date_updated=reader.date("interactionDateUpdated"),
        inbound_participant_sid=reader.sid("inboundParticipantSid", "KP"),
        inbound_resource_sid=reader.sid("inboundResourceSid", None),
        inbound_resource_status=reader.choice("inboundResourceStatus", ResourceStatus),
        inbound_resource_type=reader.text("inboundResourceType"),
        inbound_resource_url=reader.url("inboundResourceUrl"),
        outbound_participant_sid=reader.sid("outboundParticipantSid", "KP"),
        outbound_resource_sid=reader.sid("outboundResourceSid", None),
        outbound_resource_status=reader.choice("outboundResourceStatus", ResourceStatus),
        outbound_resource_type=reader.text("outboundResourceType"),
        outbound_resource_url=reader.url("outboundResourceUrl"),
        extra=reader.rest(),
    )


@attrs.frozen(kw_only=True)
class OutOfSessionParticipant:
    """A Participant of the caller's earlier Session, as an out-of-session webhook tells it."""

    sid: str | None = None
    identifier: str | None = None
    friendly_name: str | None = None
    proxy_identifier: str | None = None
    proxy_identifier_sid: str | None = None
    account_sid: str | None = None
    service_sid: str | None = None
    session_sid: str | None = None
    date_created: datetime | None = None
    date_updated: datetime | None = None


@attrs.frozen(kw_only=True)
class OutOfSessionCallback:
    """One OutOfSessionCallbackUrl request: a call or message outside any open Session.

    It carries Twilio's usual inbound SMS or voice parameters (``From``, ``To``,
    ``Body``, ``MessageSid`` or ``CallSid``...) plus what Proxy knows of the sender's
    last Session (``session*``) and its Participants (``inboundParticipant*``,
    ``outboundParticipant*``). Required: ``AccountSid``, ``From`` and ``To``, which every
    inbound call or message has; the rest may be absent (None), e.g. when there was no
    earlier Session. Other parameters (``FromCity``, ``NumMedia``...) are in ``extra``.
    """

    account_sid: str
    from_: str
    to: str
    body: str | None = None
    message_sid: str | None = None
    call_sid: str | None = None
    call_status: str | None = None
    session_sid: str | None = None
    session_unique_name: str | None = None
    session_account_sid: str | None = None
    session_service_sid: str | None = None
    session_status: SessionStatus | None = None
    session_mode: SessionMode | None = None
    session_closed_reason: str | None = None
    session_ttl: int | None = None
    session_date_created: datetime | None = None
    session_date_started: datetime | None = None
    session_date_updated: datetime | None = None
    session_date_ended: datetime | None = None
    session_date_last_interaction: datetime | None = None
    inbound_participant: OutOfSessionParticipant | None = None
    outbound_participant: OutOfSessionParticipant | None = None
    extra: Mapping[str, str | tuple[str, ...]] = attrs.field(
        factory=dict, converter=_read_only, hash=False
    )

    @property
    def kind(self) -> str:
        """``"message"``, ``"voice"``, or ``"unknown"`` when neither SID is present."""
        if self.message_sid is not None:
            return "message"
        if self.call_sid is not None:
            return "voice"
        return "unknown"


def _participant(reader: FormReader, prefix: str) -> OutOfSessionParticipant | None:
    if not reader.has_any(prefix):
        return None
    participant = OutOfSessionParticipant(
        sid=reader.sid(f"{prefix}Sid", "KP"),
        identifier=reader.text(f"{prefix}Identifier"),
        friendly_name=reader.text(f"{prefix}FriendlyName"),
        proxy_identifier=reader.text(f"{prefix}ProxyIdentifier"),
        proxy_identifier_sid=reader.sid(f"{prefix}ProxyIdentifierSid", None),
        account_sid=reader.sid(f"{prefix}AccountSid", "AC"),
        service_sid=reader.sid(f"{prefix}ServiceSid", "KS"),
        session_sid=reader.sid(f"{prefix}SessionSid", "KC"),
        date_created=reader.date(f"{prefix}DateCreated"),
        date_updated=reader.date(f"{prefix}DateUpdated"),
    )
    return None if participant == OutOfSessionParticipant() else participant


def parse_out_of_session_callback(form: Mapping[str, object]) -> OutOfSessionCallback:
    """Read an OutOfSessionCallbackUrl form into an :class:`OutOfSessionCallback`.

    Same input and error rules as :func:`parse_callback`; required parameters are
    ``AccountSid``, ``From`` and ``To``. A participant whose parameters are all absent
    or empty is None.
    """
    reader = FormReader(form)
    return OutOfSessionCallback(
        account_sid=reader.required_sid("AccountSid", "AC"),
        from_=reader.required("From"),
        to=reader.required("To"),
        body=reader.text("Body"),
        message_sid=reader.sid("MessageSid", None),
        call_sid=reader.sid("CallSid", "CA"),
        call_status=reader.text("CallStatus"),
        session_sid=reader.sid("sessionSid", "KC"),
        session_unique_name=reader.text("sessionUniqueName"),
        session_account_sid=reader.sid("sessionAccountSid", "AC"),
        session_service_sid=reader.sid("sessionServiceSid", "KS"),
        session_status=reader.choice("sessionStatus", SessionStatus),
        session_mode=reader.choice("sessionMode", SessionMode),
        session_closed_reason=reader.text("sessionClosedReason"),
        session_ttl=reader.integer("ttl"),
        session_date_created=reader.date("sessionDateCreated"),
        session_date_started=reader.date("sessionDateStarted"),
        session_date_updated=reader.date("sessionDateUpdated"),
        session_date_ended=reader.date("sessionDateEnded"),
        session_date_last_interaction=reader.date("sessionDateLastInteraction"),
        inbound_participant=_participant(reader, "inboundParticipant"),
        outbound_participant=_participant(reader, "outboundParticipant"),
        extra=reader.rest(),
    )

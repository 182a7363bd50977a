"""Records and their conversion: attrs classes, JSON codec, cattrs and msgspec paths.

``records`` and ``enums`` hold the typed records; ``pages`` receives list pages and
records (``converter`` with ``hooks`` and ``record_hook``: the cattrs path; ``explain``:
the error text; ``fast_path``: the msgspec path; ``raw_records``: records as sent);
``json_codec`` reads and writes JSON exactly.
"""

from .converter import structure
from .enums import InteractionType, OpenEnum, ResourceStatus, SessionMode, SessionStatus
from .hooks import parse_datetime
from .json_codec import (
    MAX_JSON_DEPTH,
    decode_json,
    decode_json_text,
    encode_json,
    replace_lone_surrogates,
)
from .pages import ReceivedPage, receive_body, receive_page, structure_body, structure_page
from .records import (
    Interaction,
    MessageInteraction,
    Page,
    PageMeta,
    Participant,
    Session,
    decode_data,
)

__all__ = [
    "MAX_JSON_DEPTH",
    "Interaction",
    "InteractionType",
    "MessageInteraction",
    "OpenEnum",
    "Page",
    "PageMeta",
    "Participant",
    "ReceivedPage",
    "ResourceStatus",
    "Session",
    "SessionMode",
    "SessionStatus",
    "decode_data",
    "decode_json",
    "decode_json_text",
    "encode_json",
    "parse_datetime",
    "receive_body",
    "receive_page",
    "replace_lone_surrogates",
    "structure",
    "structure_body",
    "structure_page",
]

"""Import of a proxy-async 0.x export checkpoint (``OUT.checkpoint.json``, version 1).

0.x kept an export's state in one JSON file; a resume that finds one (and no state
database) turns it into a state database (:mod:`proxy_async.bulk_export.state`) first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from ..errors import ExportStateError
from ..validation import check_sid, is_int
from .schema import ExportParams
from .state import ExportState, ImportedSession


def import_legacy_checkpoint(checkpoint: Path, path: Path) -> None:
    """Turn a proxy-async 0.x JSON checkpoint into a state database at ``path``.

    The JSON file (``OUT.checkpoint.json``) is checked as strictly as its own reader
    did, loaded into a new state in one transaction, and deleted once that is
    committed, so a kill at any point leaves one of the two. It had no sessions file,
    so the migrated export writes none. Raises
    :class:`~proxy_async.errors.ExportStateError` if it is unreadable.
    """
    try:
        body = orjson.loads(checkpoint.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise ExportStateError(f"cannot read the checkpoint {checkpoint}: {error}") from None
    if not isinstance(body, dict) or body.get("version") != 1:
        raise ExportStateError(f"{checkpoint} is not a version 1 proxy-async checkpoint")
    params = ExportParams(
        service_sid=_legacy_sid(_legacy(body, "service_sid", str), "KS"),
        base_url=_legacy(body, "base_url", str),
        format=_legacy(body, "format", str),
        compression=None,  # 0.x wrote every name uncompressed
        page_size=_legacy(body, "page_size", int),
        discovered=_legacy(body, "discovered", bool),
        sessions_file=False,
    )
    sessions = _legacy(body, "sessions", dict)
    rows = [_legacy_session(sid, state) for sid, state in sessions.items()]
    state = ExportState.create(path, params)
    try:
        state.import_sessions(rows)
        state.commit(data_bytes=_legacy(body, "data_bytes", int), sessions_bytes=0)
    finally:
        state.close()
    checkpoint.unlink()


def _legacy(body: Mapping[str, Any], name: str, kind: type[Any]) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (kind is int and (not is_int(value) or value < 0)):
        raise ExportStateError(f"the checkpoint's {name!r} is missing or not a {kind.__name__}")
    return value


def _legacy_sid(sid: str, prefix: str) -> str:
    try:
        return check_sid(sid, prefix, "sid")
    except ValueError:
        raise ExportStateError(f"the checkpoint holds an invalid SID {sid!r}") from None


def _legacy_session(sid: str, raw: object) -> ImportedSession:
    if not isinstance(raw, dict):
        raise ExportStateError(f"the checkpoint's state of {sid} is not an object")
    status, url, records, error = (
        raw.get(k) for k in ("status", "next_page_url", "records", "error")
    )
    if (
        status not in ("pending", "running", "done", "failed")
        or not (url is None or isinstance(url, str))
        or not is_int(records)
        or records < 0
        or not (error is None or isinstance(error, str))
    ):
        raise ExportStateError(f"the checkpoint's state of {sid} is malformed")
    return _legacy_sid(sid, "KC"), status, url, records, error

"""The files of a batched export directory, by name.

``DIR`` (``enqueue --out``) holds one export (one Service, one format):

* ``manifest.<format>.db``: the manifest (:mod:`proxy_async.workers.manifest`);
* ``sessions.ndjson[.gz]``: the Session records the listing returned;
* ``batch-000001.<format>[.gz]``, ...: one file per batch, each with its export state
  ``batch-000001.<format>[.gz].state.db`` (:mod:`proxy_async.bulk_export.state`);
* ``manifest.<format>.json`` marks an export of the older one-job-per-session layout,
  which this version refuses to continue.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..bulk_export.formats import Format
from ..bulk_export.paths import Compression

SESSIONS_FILE = "sessions.ndjson"
"""The Session records of the listing, beside the batches (``.gz`` with gzip batches)."""

_EXPORT_FILE = re.compile(r"(batch-\d+\.|sessions\.ndjson|manifest\.)")
"""The start of the name of every file an export directory holds (see above)."""


def manifest_path(directory: str | os.PathLike[str], fmt: str) -> Path:
    """``DIR/manifest.<format>.db``."""
    return Path(directory) / f"manifest.{fmt}.db"


def legacy_manifest_path(directory: str | os.PathLike[str], fmt: str) -> Path:
    """``DIR/manifest.<format>.json``: the manifest of the one-job-per-session layout."""
    return Path(directory) / f"manifest.{fmt}.json"


def sessions_file_path(directory: str | os.PathLike[str], compression: Compression | None) -> Path:
    """``DIR/sessions.ndjson`` (``.gz`` when the batches are gzip)."""
    return Path(directory) / (SESSIONS_FILE + (".gz" if compression == "gzip" else ""))


def batch_name(batch: int, fmt: str, compression: Compression | None) -> str:
    """The file name of batch number ``batch`` (from 1): ``batch-000001.ndjson[.gz]``."""
    return f"batch-{batch:06d}.{fmt}" + (".gz" if compression == "gzip" else "")


def batch_output(
    out_dir: str | os.PathLike[str], batch: int, fmt: Format, compression: Compression | None
) -> Path:
    """Where the job of batch number ``batch`` (from 1) writes: ``OUT/batch-000001.<fmt>[.gz]``."""
    return Path(out_dir) / batch_name(batch, fmt, compression)


def is_export_file(name: str) -> bool:
    """Whether a file called ``name`` in an export directory would be one of its own."""
    return _EXPORT_FILE.match(name) is not None

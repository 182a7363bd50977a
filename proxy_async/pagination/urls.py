"""Page URLs as the walk reads them: the ``PageToken`` and the list path, for messages."""

from __future__ import annotations

from urllib.parse import parse_qsl


def page_token(url: str) -> str | None:
    """The ``PageToken`` query parameter of a page URL, or None if it has none.

    Reads the query by hand (not ``urlsplit``) so that a malformed URL never raises
    here; the client judges the URL before anything is sent to it.
    """
    query = url.partition("?")[2].partition("#")[0]
    for name, value in parse_qsl(query):
        if name == "PageToken" and value:
            return value
    return None


def list_path(path: str, url: str) -> str:
    """The list's path, for messages: the request's, else the page URL's."""
    if path:
        return path.partition("?")[0]
    after_scheme = url.partition("://")[2] or url
    return "/" + after_scheme.partition("/")[2].partition("?")[0]


def short_url(url: str) -> str:
    """``url`` cut to 200 characters, for messages."""
    return url if len(url) <= 200 else url[:197] + "..."

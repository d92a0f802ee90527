"""Paddle's lists, read page after page.

Paddle answers a list with one page (``data``) and ``meta.pagination``: ``has_more``
and ``next``, the address of the next page, whose ``after`` parameter is the cursor. A
look-up that read only the first page (Paddle lists newest first) would miss an
earlier attempt once newer objects pushed it off that page, and a retry would then
charge or refund a second time. So a look-up follows the pages until it finds what it
looks for or the list ends.

Only the ``after`` cursor is taken from ``next``: the next request goes to the same
path with the same filters on the configured API base, never to an address taken from
an answer. A list longer than ``PADDLE_MAX_LIST_PAGES`` pages is refused
(``ProviderRejected``) rather than read on: not finding an earlier attempt would be
taken as licence to create another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from commands.provider_errors import ProviderRejected
from domain.limits import PADDLE_MAX_LIST_PAGES

Page = Mapping[str, Any]
FetchPage = Callable[[dict[str, str]], Page]


def next_cursor(page: Page) -> str | None:
    """The ``after`` cursor of the page after ``page``, or None when it is the last."""
    meta = page.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
    if not isinstance(pagination, Mapping) or not pagination.get("has_more"):
        return None
    following = pagination.get("next")
    if not isinstance(following, str):
        return None
    cursors = parse_qs(urlsplit(following).query).get("after") or []
    return cursors[0] if cursors and cursors[0] else None


def entries(
    fetch: FetchPage, params: Mapping[str, str], *, what: str, provider: str = "paddle"
) -> Iterator[dict[str, Any]]:
    """Every object of the list ``fetch`` reads with ``params``, page after page."""
    query = dict(params)
    for _ in range(PADDLE_MAX_LIST_PAGES):
        page = fetch(query)
        data = page.get("data")
        if isinstance(data, list):
            yield from (entry for entry in data if isinstance(entry, dict))
        cursor = next_cursor(page)
        if cursor is None or cursor == query.get("after"):
            return
        query = {**params, "after": cursor}
    raise ProviderRejected(
        f"Paddle's list of {what} is longer than {PADDLE_MAX_LIST_PAGES} pages; "
        "the look-up gave up rather than risk a second charge or refund",
        provider=provider,
    )

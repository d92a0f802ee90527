"""A page of webhook sends (``adapters.webhook_delivery``): what sending it did
(``Page``), and how it is recorded with the endpoint's tracking row in one transaction
(``adapters.webhook_attempts.write_page``): a page that sent anything clears the
endpoint's failures; one that stopped at a failed send sets its next retry, after a
doubling delay from ``RETRY_FIRST_S`` to at most ``RETRY_LONGEST_S``, and disables the
endpoint through the bus once it has been failing for ``FAILING_DISABLES_AFTER``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from adapters.webhook_attempts import write_page
from adapters.webhook_transport import Sent
from commands.bus import Context
from commands.webhook_endpoints import DisableWebhookEndpoint
from domain.backoff import doubling_delay_s
from domain.webhook_endpoints import FAILING_DISABLES_AFTER, WebhookEndpoint

log = logging.getLogger("tally.webhooks")

RETRY_FIRST_S = 30.0
RETRY_LONGEST_S = 12 * 3600.0
# Who disables a failing endpoint, in the command's context.
ACTOR = "webhooks"


@dataclass
class Page:
    """What sending one page did: the attempts to record, the (position, ordinal)
    reached (the last event acknowledged or skipped), how many events that moved, and
    the failure that stopped it (None: the whole page went, or ``cut_short``: the pass's
    time was up before it)."""

    position: int
    ordinal: int
    attempts: list[dict[str, Any]] = field(default_factory=list)
    moved: int = 0
    failed: Sent | None = None
    cut_short: bool = False


def record_sent(
    conn: psycopg.Connection[Any],
    schema: str,
    endpoint: WebhookEndpoint,
    state: dict[str, Any],
    page: Page,
) -> None:
    """Record the page; a page that sent anything clears the endpoint's failures."""
    moved: dict[str, Any] = {"position": page.position, "ordinal": page.ordinal}
    if page.attempts:
        moved |= {"failures": 0, "next_attempt_at": None, "failing_since": None}
        state |= moved
    write_page(conn, schema, page.attempts, endpoint.id, moved)


def record_failed(
    conn: psycopg.Connection[Any],
    tally: Any,
    endpoint: WebhookEndpoint,
    state: dict[str, Any],
    page: Page,
) -> None:
    """Record the page up to its failed attempt and the endpoint's next retry; disable
    the endpoint when it has been failing for FAILING_DISABLES_AFTER."""
    sent = page.failed
    assert sent is not None
    now = tally.clock.now()
    failures = int(state["failures"]) + 1
    since: datetime = state["failing_since"] or now
    retry_at = now + timedelta(seconds=doubling_delay_s(failures, RETRY_FIRST_S, RETRY_LONGEST_S))
    moved = {"position": page.position, "ordinal": page.ordinal, "failures": failures,
             "next_attempt_at": retry_at, "failing_since": since}  # fmt: skip
    write_page(conn, tally.schema, page.attempts, endpoint.id, moved)
    log.warning("webhook endpoint %s failed: %s (attempt %d)", endpoint.id, sent.error, failures)
    if now - since >= FAILING_DISABLES_AFTER:
        reason = f"deliveries failed since {since.isoformat()}: {sent.error}"[:500]
        command = DisableWebhookEndpoint(endpoint_id=endpoint.id, reason=reason)
        tally.execute(command, Context(endpoint.project_id, ACTOR))

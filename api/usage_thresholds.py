"""Progressive billing's trigger (issue 13): after usage is written, the subscriptions
with usage thresholds that the new events count toward are checked
(``BillUsageThresholds``, which decides on fresh state whether a threshold was reached).

Which subscriptions have thresholds comes from the ``usage_thresholds`` read model, one
indexed query per write and only for its customers; a subscription without thresholds
costs nothing more. Thresholds set a moment ago count once that read model holds them;
a write that reached one then is billed at the next write (or by the renewal, which
bills the whole period anyway). The usage is stored whatever the check does: a check
that fails is logged, and the next write or the renewal bills the usage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

from adapters.usage_fences import distinct_customers
from api.tally import Tally
from commands.bus import Context
from commands.progressive_billing import BillUsageThresholds
from domain.usage import Accepted

log = logging.getLogger("tally.usage")


def subscriptions_to_check(
    events: Sequence[Accepted], with_thresholds: list[tuple[UUID, UUID]]
) -> list[UUID]:
    """The subscriptions with thresholds (``(subscription, customer)``) that the events
    count toward: sent with their id, or for their customer without one."""
    found = {
        subscription_id
        for subscription_id, customer_id in with_thresholds
        for event in events
        if event.customer_id == customer_id and event.subscription_id in (None, subscription_id)
    }
    return sorted(found)


def bill_thresholds_after(
    tally: Tally, project_id: UUID, events: Sequence[Accepted], created: frozenset[str]
) -> None:
    from projections.usage_thresholds import thresholds_of

    new = [event for event in events if event.transaction_id in created]
    if not new:
        return
    customers = distinct_customers(new)
    with_thresholds = thresholds_of(tally.views, tally.schema, project_id, customers)
    for subscription_id in subscriptions_to_check(new, with_thresholds):
        try:
            tally.execute(BillUsageThresholds(subscription_id=subscription_id),
                          Context(project_id, "usage"))  # fmt: skip
        except Exception:  # the usage is stored; the next write or the renewal bills it
            log.exception("checking the usage thresholds of %s failed", subscription_id)

"""Names of prices, resolved to ids at the API edge: a price's lookup key, a plan's code.

Stripe users name prices by lookup key and Lago users subscribe to a plan code; Tally's
commands carry price ids only, so that what a command did never depends on what a name
meant later. A request that names prices is resolved here, over the catalog read model
of the caller's project, before its command is built:

- an item names ``price_id`` or ``lookup_key`` (one of them, else 422
  ``invalid_combination``); a lookup key no active price has is 404 ``not_found``, one
  that two products use is 422 ``ambiguous_price``;
- a subscription names ``items`` or a ``plan`` code (one of them); the plan's current
  active recurring prices in the customer's currency (on ``interval``, when given) are its
  items, one of each. An unknown or archived plan is 404 ``not_found``; none that fits is
  422 ``no_matching_price``; prices on several intervals without ``interval`` are 422
  ``ambiguous_price``.

A name is read after the read models have caught up with the log (bounded by
``read_wait_max_ms``), so a price published just before is found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from api.auth import Caller
from api.errors import ReadModelBehind
from api.tally import Tally
from commands import messages as m
from domain.errors import AmbiguousPrice, InvalidCombination, NoMatchingPrice, NotFound


class NamedItem(Protocol):
    """An item of a request: a price by id or by lookup key, and a quantity."""

    @property
    def price_id(self) -> UUID | None: ...

    @property
    def lookup_key(self) -> str | None: ...

    @property
    def quantity(self) -> int: ...


def catch_up(tally: Tally) -> None:
    """Wait, bounded, until the read models hold every event written so far."""
    from projections.runner import wait_for_position

    head = tally.store.recorder.max_notification_id()
    timeout_s = tally.settings.read_wait_max_ms / 1000
    if head and not wait_for_position(tally.views, tally.schema, head, timeout_s):
        raise ReadModelBehind(
            "the catalog read model is behind the log; retry shortly",
            headers={"Retry-After": "1"},
            position=head,
        )


def price_by_lookup_key(tally: Tally, caller: Caller, lookup_key: str) -> UUID:
    """The id of the one active price published under ``lookup_key``."""
    from projections.catalog import prices_by_lookup_key

    found = prices_by_lookup_key(tally.views, tally.schema, caller.project_id, lookup_key)
    if not found:
        raise NotFound(f"no active price has lookup key '{lookup_key}'", lookup_key=lookup_key)
    if len(found) > 1:
        raise AmbiguousPrice(
            f"lookup key '{lookup_key}' names {len(found)} active prices (of products "
            f"{', '.join(sorted(str(p['product_id']) for p in found))}); name the price by "
            "price_id",
            lookup_key=lookup_key,
        )
    return UUID(str(found[0]["id"]))


def resolve_items(
    tally: Tally, caller: Caller, items: Sequence[NamedItem]
) -> list[m.SubscriptionItem]:
    """Command items (price ids) for request items that name prices by id or lookup key."""
    if any(i.lookup_key is not None for i in items):
        catch_up(tally)
    resolved: list[m.SubscriptionItem] = []
    for n, item in enumerate(items):
        if (item.price_id is None) == (item.lookup_key is None):
            raise InvalidCombination(
                f"items[{n}] names a price by price_id or by lookup_key: one of them",
                item=n,
            )
        price_id = item.price_id
        if price_id is None:
            price_id = price_by_lookup_key(tally, caller, str(item.lookup_key))
        resolved.append(m.SubscriptionItem(price_id=price_id, quantity=item.quantity))
    return resolved


def plan_items(
    tally: Tally, caller: Caller, code: str, currency: str, interval: str | None
) -> list[m.SubscriptionItem]:
    """One item of each of the plan's current recurring prices that fit."""
    from projections.catalog import list_plans

    catch_up(tally)
    plans = list_plans(tally.views, tally.schema, caller.project_id)
    plan = next((p for p in plans if p.get("code") == code), None)
    if plan is None:
        raise NotFound(f"no active plan with code '{code}'", plan=code)
    # A plan's active prices are its current ones: publishing a changed price under a
    # lookup key archives the one it replaces.
    fitting = [
        p
        for p in plan["prices"]
        if p["interval"] is not None
        and p["currency"] == currency
        and (interval is None or p["interval"] == interval)
    ]
    if not fitting:
        wanted = f"{currency} billed by the {interval}" if interval else currency
        raise NoMatchingPrice(f"plan '{code}' has no active recurring price in {wanted}", plan=code)
    intervals = sorted({_interval(p) for p in fitting})
    if len(intervals) > 1:
        raise AmbiguousPrice(
            f"plan '{code}' bills on {', '.join(intervals)}: add interval, or name the "
            "items by lookup_key",
            plan=code,
        )
    return [m.SubscriptionItem(price_id=UUID(str(p["id"])), quantity=1) for p in fitting]


def _interval(price: dict[str, Any]) -> str:
    count = int(price.get("interval_count") or 1)
    return str(price["interval"]) if count == 1 else f"every {count} {price['interval']}s"

"""The upcoming invoice's preview splits usage past an invoice's 500 lines as the
renewal does (issue 13): what fits beside the items on the upcoming invoice, the rest on
``continued`` invoices of usage alone, and the renewal then bills exactly that."""

from __future__ import annotations

from tests.e2e.billing import sandbox
from tests.e2e.conftest import Client
from tests.e2e.test_usage_rating import (
    advance,
    invoices,
    metered_subscription,
    send,
    usage_of,
    used,
)

__all__ = ["sandbox"]  # the fixture, used by name


def test_the_preview_of_more_usage_groups_than_fit_shows_the_invoices_the_renewal_makes(
    sandbox: Client,
) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 2)
    models = [f"m{n:03d}" for n in range(510)]
    assert send(api, *[used(f"t{m}", 1, tokens="1", model=m) for m in models]) == [
        "created"] * 510  # fmt: skip
    preview = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/upcoming_invoice"))
    ahead, [more] = preview["upcoming_invoice"], preview["continued"]
    assert len(ahead["lines"]) == 500  # the three items and 497 groups
    assert (len(more["lines"]), more["description"], more["total"]) == (13, "Usage, continued",
                                                                        2 * 13)  # fmt: skip
    assert more["id"] is None  # a preview: saved nowhere
    advance(api, clock_id, 28.2)
    renewal, continued = sorted(invoices(api, sub)[1:], key=lambda i: len(i["lines"]),
                                reverse=True)  # fmt: skip
    assert usage_of(renewal) == usage_of(ahead)
    assert usage_of(continued) == usage_of(more)
    assert (renewal["total"], continued["total"]) == (ahead["total"], more["total"])
    after = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/upcoming_invoice"))
    assert after["continued"] == []  # a new period, no usage yet

"""A product revision's fan-out, bounded before it is recorded (issue 12 follow-up).

A revision that changes a product's name or features changes the entitlement set of every
customer with a granting subscription it prices, in the one projection batch that applies
it (``projections.entitlement_changes``): a plan with very many subscribers would hold
every tenant's read models and outbox behind that batch. So a revision that would reach
more than ``settings.max_revision_fan_out`` customers (at most ``MAX_REVISION_FAN_OUT``)
is refused with 409 ``limit_reached`` and nothing is recorded.

The count needs the subscriptions, which no aggregate the revision loads holds, so it is
read from the ``entitlement_subscriptions`` read model once the read models have caught
up with every event written so far (as ``api.routes.common.caught_up`` waits: 503
``read_model_behind`` if they do not in time), and the decision is the product
aggregate's (``Product.check_fan_out``), on the product as the store holds it now.
Subscriptions recorded between the count and the revision (the width of one request)
are not counted: the bound is on the batch's cost, not an exact invariant.
"""

from __future__ import annotations

from uuid import UUID

from api.errors import ReadModelBehind
from api.tally import Tally
from commands import messages as m
from domain.catalog import Product


def check_revision(tally: Tally, project_id: UUID, cmd: m.DefineProduct) -> None:
    """Raise ``LimitReached`` if ``cmd`` revises a product granting to too many."""
    from projections.entitlement_changes import fan_out

    product_id = Product.create_id(project_id, cmd.code)
    repository = tally.store.repository
    if product_id not in repository:
        return
    product: Product = repository.get(product_id)
    if not product.revised_by(cmd.name, list(cmd.features)):
        return
    _caught_up(tally)
    limit = tally.settings.max_revision_fan_out
    customers = fan_out(tally.views, tally.schema, project_id, product_id, limit)
    product.check_fan_out(cmd.name, list(cmd.features), customers, limit)


def _caught_up(tally: Tally) -> None:
    """Wait, bounded like a read, until the read models hold every event written so far."""
    from projections.runner import wait_for_position

    position = tally.store.recorder.max_notification_id()
    timeout_s = tally.settings.read_wait_max_ms / 1000
    if position and not wait_for_position(tally.views, tally.schema, position, timeout_s):
        raise ReadModelBehind(
            f"the read models have not reached position {position} within "
            f"{tally.settings.read_wait_max_ms} ms; retry shortly",
            headers={"Retry-After": "1"},
            position=position,
        )

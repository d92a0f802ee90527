"""The sweeper's pass over checkouts nobody finished (``commands/checkout_expiry.py``).

Each pass asks the ``transactions`` read model for processing transactions of the
providers whose checkouts Tally ends itself (Paddle), made more than ``CHECKOUT_EXPIRY``
ago, and sends each an ``ExpireCheckout``, which asks the provider to cancel the
checkout (once: its call's id is the checkout's) and decides on fresh state. The outbox
makes the call; its success fails the transaction.
"""

from __future__ import annotations

import logging
from uuid import UUID

from api.tally import Tally
from commands.bus import Context
from commands.checkout_expiry import CHECKOUT_EXPIRY, ENDED_BY_TALLY, ExpireCheckout
from domain.accounts import clearing_ref
from domain.errors import DomainError

log = logging.getLogger("tally.sweeper")

ACTOR = "system:sweeper"
BATCH_CHECKOUTS = 100  # per pass; the next pass takes the rest


def sweep_checkouts(tally: Tally) -> int:
    """Ask for the cancellation of every checkout past its expiry; how many were asked."""
    from projections.transactions import stale_processing

    refs = [clearing_ref(provider) for provider in ENDED_BY_TALLY]
    before = tally.clock.now() - CHECKOUT_EXPIRY
    asked = 0
    for project_id, txn_id in stale_processing(
        tally.views, tally.schema, refs, before, BATCH_CHECKOUTS
    ):
        command = ExpireCheckout(transaction_id=UUID(str(txn_id)))
        try:
            outcome = tally.execute(command, Context(UUID(str(project_id)), ACTOR))
        except DomainError as exc:
            log.warning("checkout expiry of %s refused: %s %s", txn_id, exc.code, exc)
            continue
        asked += int("provider_call" in outcome.body)
    if asked:
        log.info("sweeper asked for %d abandoned checkout(s) to be cancelled", asked)
    return asked

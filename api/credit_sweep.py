"""Breakage on the real clock (issue 13): the sweeper's pass over prepaid credits.

Each pass asks the ``credit_balances`` read model which balances of customers on the
real clock hold a grant past its expiry, and sends each an ``ExpireCredits`` command,
which records the breakage (``CreditBalance.Expired`` and its journal entry). The
command is idempotent (nothing left to expire records nothing), so any number of
processes may sweep at once. Customers on a test clock are expired by its advance.
"""

from __future__ import annotations

import logging
from uuid import UUID

from api.tally import Tally
from commands.bus import Context
from commands.credit_messages import ExpireCredits
from domain.errors import DomainError

log = logging.getLogger("tally.sweeper")

ACTOR = "system:sweeper"
BATCH_BALANCES = 500  # per pass; the next pass takes the rest


def sweep_credits(tally: Tally) -> int:
    """Expire every due credit the read model knows of; how much expired in all."""
    from projections.credits import due_expiries

    due = due_expiries(tally.views, tally.schema, tally.clock.now(), BATCH_BALANCES)
    expired = 0
    for project_id, customer_id, currency in due:
        command = ExpireCredits(customer_id=UUID(str(customer_id)), currency=currency)
        try:
            outcome = tally.execute(command, Context(UUID(str(project_id)), ACTOR))
        except DomainError as exc:
            log.warning("credit sweep of customer %s refused: %s %s", customer_id, exc.code, exc)
            continue
        expired += int(outcome.body.get("expired", 0))
    if expired:
        log.info("sweeper recorded %d of expired credit as breakage", expired)
    return expired

"""The hold-expiry sweeper: releases active holds whose ``expires_at`` has passed.

Every ``sweep_interval_s`` it asks the holds read model which accounts have holds due and
sends each an ``ExpireHolds`` command. The command is idempotent (a hold that is already
settled or not yet due records nothing) and saves go through the event store's optimistic
concurrency, so any number of processes may sweep at once: the loser of a race re-runs on
the fresh account and finds nothing left to do.
"""

from __future__ import annotations

import logging
from uuid import UUID

from api.checkout_sweep import sweep_checkouts
from api.credit_sweep import sweep_credits
from api.periodic import Periodic
from api.tally import Tally
from commands.bus import Context
from commands.messages import ExpireHolds
from domain.errors import DomainError

log = logging.getLogger("tally.sweeper")

ACTOR = "system:sweeper"
# Accounts handled per sweep; the next sweep takes the rest, so one pass stays short.
BATCH_ACCOUNTS = 500


class Sweeper(Periodic):
    thread_name = "tally-sweeper"
    failure_message = "hold sweep failed"
    log = log

    def __init__(self, tally: Tally, interval_s: float | None = None) -> None:
        super().__init__(interval_s or tally.settings.sweep_interval_s)
        self.tally = tally

    def sweep_once(self) -> int:
        """Expire every due hold the read model knows of; returns how many were expired."""
        from projections.holds import due_holds

        now = self.tally.clock.now()
        due: list[tuple[UUID, UUID]] = due_holds(
            self.tally.views, self.tally.schema, now, BATCH_ACCOUNTS
        )
        expired = 0
        for project_id, account_id in due:
            context = Context(UUID(str(project_id)), ACTOR)
            try:
                outcome = self.tally.execute(ExpireHolds(account_id=UUID(str(account_id))), context)
            except DomainError as exc:
                # An account that vanished or kept changing is retried on the next sweep.
                log.warning("sweep of account %s refused: %s %s", account_id, exc.code, exc)
                continue
            expired += len(outcome.body.get("expired", []))
        if expired:
            log.info("sweeper expired %d hold(s)", expired)
        return expired

    def run_pass(self) -> int:
        holds = self.sweep_once()
        # Prepaid credits past their expiry become breakage on the same pass (issue 13).
        sweep_credits(self.tally)
        # Paddle checkouts nobody finished are cancelled there, then failed here.
        sweep_checkouts(self.tally)
        return holds

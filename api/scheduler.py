"""The subscription scheduler: renewals, trial ends, cancellations at period end, pause
ends and incomplete expiries, for subscriptions that live on the system clock.

Every ``scheduler_interval_s`` it asks the subscriptions read model which subscriptions
are due (``due_subscriptions``: next_due_at <= now, or a trial whose end is due to be
announced; not on a test clock) and sends each a
``ProcessDueSubscription`` as the actor ``system:scheduler``.

Why a crash never renews a period twice, at two levels:

* The command carries the Idempotency-Key ``scheduler:<subscription id>:v<version>``,
  the version being the one the read model saw. A second pass that sees the same version
  (the first pass crashed before the read model moved on, or another process runs a
  scheduler too) replays the first answer and writes nothing.
* ``Subscription.process_due`` checks every step against the subscription's own state
  (a period is renewed only when its end has passed), and a command's events are saved in
  one transaction, so even without the key a re-run finds nothing left to do.

The same holds for invoice work (drafts whose ``finalize_at`` has come, payment
retries): every pass also asks ``due_invoice_work`` for customers whose
``CustomerBilling`` has work due, and sends each a ``ProcessDueInvoices`` under the key
``scheduler:invoices:<customer id>:v<version>``. Doing the work always changes the
billing record (its due list), so its version moves on, and ``run_due`` re-checks each
invoice's own state before it acts.

One corner needs care: a key is pinned to its first answer. If the read model ever called
a subscription due at a version the aggregate did not consider due (clock skew between
hosts), the pinned answer is an empty one, and replaying it forever would leave the
subscription stuck. So an empty replay is followed by one keyless run, which the domain
guard keeps harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from api.periodic import Periodic
from api.tally import Tally
from commands.bus import Context, Outcome
from commands.messages import ProcessDueInvoices, ProcessDueSubscription
from domain.errors import DomainError

log = logging.getLogger("tally.scheduler")

ACTOR = "system:scheduler"


def idempotency_key(subscription_id: UUID, version: int) -> str:
    return f"scheduler:{subscription_id}:v{version}"


def invoice_work_key(customer_id: UUID, version: int) -> str:
    return f"scheduler:invoices:{customer_id}:v{version}"


@dataclass
class PassReport:
    """What one pass did: subscriptions looked at, steps done by kind, refusals."""

    due: int = 0
    steps: dict[str, int] = field(default_factory=dict)
    replayed: int = 0
    refused: int = 0
    # Subscriptions are processed from several threads at once; counts change under it.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_steps(self, steps: list[str]) -> None:
        with self.lock:
            for step in steps:
                self.steps[step] = self.steps.get(step, 0) + 1

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)

    @property
    def total_steps(self) -> int:
        return sum(self.steps.values())


class Scheduler(Periodic):
    thread_name = "tally-scheduler"
    failure_message = "scheduler pass failed"
    log = log

    def __init__(
        self,
        tally: Tally,
        interval_s: float | None = None,
        batch: int | None = None,
        on_processed: Callable[[UUID], None] | None = None,
        concurrency: int = 16,
    ) -> None:
        super().__init__(interval_s or tally.settings.scheduler_interval_s)
        self.tally = tally
        self.batch = batch or tally.settings.scheduler_batch
        # Called after each subscription is processed; tests use it to stop a pass part way.
        self.on_processed = on_processed
        self.concurrency = concurrency

    def run_once(self) -> PassReport:
        """Process every subscription the read model says is due now (up to ``batch``)."""
        from projections.subscriptions import due_subscriptions

        report = PassReport()
        due: list[tuple[Any, Any, int]] = due_subscriptions(
            self.tally.views, self.tally.schema, self.tally.clock.now(), self.batch
        )
        report.due = len(due)

        aborted = threading.Event()

        def process(item: tuple[Any, Any, int]) -> None:
            project_id, subscription_id, version = item
            if self._stop.is_set() or aborted.is_set():
                return
            try:
                self._process(UUID(str(project_id)), UUID(str(subscription_id)), version, report)
                if self.on_processed is not None:
                    self.on_processed(UUID(str(subscription_id)))
            except BaseException:
                # Like a crash: start nothing new; what is in flight finishes or fails alone.
                aborted.set()
                raise

        # Several commands in flight at once, so the bus can commit them in shared
        # batches; one at a time, each renewal would wait for a commit of its own.
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="tally-sched") as pool:
            list(pool.map(process, due))
        self._invoice_work(report)
        if report.total_steps:
            # Charges and retries the pass asked for are made by the outbox, now.
            self.tally.outbox.kick()
            log.info("scheduler: %s", ", ".join(f"{n} {k}" for k, n in report.steps.items()))
        return report

    def _process(
        self, project_id: UUID, subscription_id: UUID, version: int, report: PassReport
    ) -> None:
        command = ProcessDueSubscription(subscription_id=subscription_id)
        key = idempotency_key(subscription_id, int(version))
        try:
            outcome: Outcome = self.tally.execute(command, Context(project_id, ACTOR, key))
            if outcome.replayed:
                report.count("replayed")
                if not outcome.body.get("steps"):
                    outcome = self.tally.execute(command, Context(project_id, ACTOR))
        except DomainError as exc:
            # A subscription that vanished or kept changing is tried again next pass.
            log.warning("scheduler: subscription %s refused: %s %s", subscription_id, exc.code, exc)
            report.count("refused")
            return
        if not outcome.replayed:
            report.add_steps(list(outcome.body.get("steps", [])))

    def _invoice_work(self, report: PassReport) -> None:
        """Send ``ProcessDueInvoices`` to every customer with invoice work due now."""
        from projections.invoices import due_invoice_work

        due = due_invoice_work(
            self.tally.views, self.tally.schema, self.tally.clock.now(), self.batch
        )
        report.due += len(due)
        for project_id, customer_id, version in due:
            if self._stop.is_set():
                break
            command = ProcessDueInvoices(customer_id=UUID(str(customer_id)))
            context = Context(UUID(str(project_id)), ACTOR)
            key = invoice_work_key(command.customer_id, int(version))
            try:
                outcome = self.tally.execute(command, Context(context.project_id, ACTOR, key))
                if outcome.replayed:
                    report.replayed += 1
                    if not outcome.body.get("invoice_work"):
                        outcome = self.tally.execute(command, context)
            except DomainError as exc:
                log.warning("scheduler: invoices of %s refused: %s %s", customer_id, exc.code, exc)
                report.refused += 1
                continue
            if not outcome.replayed:
                for step, count in dict(outcome.body.get("invoice_work", {})).items():
                    report.steps[step] = report.steps.get(step, 0) + int(count)

    def run_pass(self) -> PassReport:
        return self.run_once()

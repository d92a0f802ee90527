"""The outbox worker: makes pending provider calls and applies recorded provider events.

Both lists are durable: ``ProviderCall`` aggregates in ``pending`` state and
``WebhookEvent`` aggregates that are ``received`` or ``parked`` (read from the
``provider_calls`` and ``webhook_events`` read models). Nothing here runs inside a
command: a call is made only after the command that asked for it committed, and its
answer goes back through the bus (``RecordProviderCallOutcome``), which settles the call
in the same transaction as what the answer changes. So a crash between the call and the
answer only means the call is made again, with the same idempotency key, and the
provider answers it from its record: nothing is charged twice.

A provider that is down (``ProviderUnavailable``, a timeout, a 5xx) does not hold
anything up: the call is rescheduled with backoff (``domain.provider_calls``) and the
worker moves on. Routes ``kick()`` the worker after a write so the first attempt is
immediate; the periodic pass (``interval_s``) catches everything else, after restarts
too. Several workers (server processes) may run: the idempotency keys and the
aggregates' own states keep their work from counting twice.

A call that needs the provider's customer of a Tally customer not yet known there
(its params' ``customer_call``, see ``commands/provider_customers.py``) is made only after
that ``create_customer`` call succeeded, with the reference it returned: the outbox makes
the customer call first when it is due, defers the dependent call while it is pending
(``DeferProviderCall``: not an attempt) and fails it if the customer could not be made.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from adapters.background import BackgroundPasses
from adapters.outbox_claims import Claims
from adapters.provider_requests import call_provider
from adapters.providers.base import PaymentProvider
from commands import provider_customers as pc
from commands import provider_messages as pm
from commands.bus import Context
from commands.messages import Command
from commands.provider_errors import ProviderError, ProviderUnavailable
from domain.customers import Customer
from domain.errors import DomainError
from domain.limits import plain_text
from domain.provider_call_params import CustomerParams
from domain.provider_calls import FAILED, SUCCEEDED, ProviderCall
from domain.provider_settings import ProviderSettings
from domain.provider_subscription_params import CreateSubscriptionParams

__all__ = ["Outbox", "call_provider", "plain", "provider_for", "provider_settings"]

log = logging.getLogger("tally.outbox")

MAX_ERROR_CHARS = 500


def plain(text: str) -> str:
    """A provider's words (or a refusal quoting them) as text a command takes: what a
    provider says is outside text, an SDK's message can span lines, and a command that
    refuses it would turn the provider's failure into Tally's (a 500, the outcome never
    recorded). Each control character becomes a space; at most MAX_ERROR_CHARS."""
    return plain_text(text)[:MAX_ERROR_CHARS]


# How long a route waits for a call that another thread or process is making (a worker's
# pass that found it due first): longer than one provider request with its retries.
IN_FLIGHT_WAIT_S = 30.0
OUTBOX_ACTOR = "outbox"
WEBHOOK_ACTOR = "webhooks"
BATCH = 100


def provider_settings(tally: Any, project_id: UUID) -> dict[str, Any] | None:
    """The project's own provider choice (``ProviderSettings.provider_spec()``: its
    summary and its sealed secrets, which only the provider directory decrypts), or None."""
    try:
        settings = tally.store.repository.get(ProviderSettings.create_id(project_id))
    except AggregateNotFoundError:
        return None
    spec: dict[str, Any] = settings.provider_spec()
    return spec


def provider_for(tally: Any, project_id: UUID) -> PaymentProvider:
    provider: PaymentProvider = tally.providers.for_project(
        project_id, provider_settings(tally, project_id)
    )
    return provider


class Outbox(BackgroundPasses):
    thread_name = "tally-outbox"

    def __init__(self, tally: Any, *, claims: Claims, interval_s: float = 1.0) -> None:
        super().__init__(interval_s)
        self.tally = tally
        self.claims = claims

    # -- one call, one event -------------------------------------------------------------

    def attempt(
        self,
        project_id: UUID,
        call_id: UUID,
        *,
        due_only: bool = False,
        wait_s: float = IN_FLIGHT_WAIT_S,
    ) -> dict[str, Any]:
        """Make a pending call now (if it still is pending) and record the answer; the
        call's summary after. ``due_only``: not if its next attempt is later (a pass's
        list of due calls may be stale: a waiting call made its customer call in the
        same pass). While another thread or process is making the call, wait for it up
        to ``wait_s`` seconds and answer what it recorded (``outbox_claims``)."""
        summary, _ = self._attempt_claimed(project_id, call_id, due_only, wait_s)
        return summary

    def _attempt_claimed(
        self, project_id: UUID, call_id: UUID, due_only: bool, wait_s: float
    ) -> tuple[dict[str, Any], bool]:
        """The call's summary, and whether this attempt held its claim."""
        with self.claims.claimed(call_id, wait_s) as held:
            if held:
                return self._attempt(project_id, call_id, due_only, wait_s), True
        call = self._load(project_id, call_id)
        return ({} if call is None else call.summary()), False

    def _load(self, project_id: UUID, call_id: UUID) -> ProviderCall | None:
        try:
            call = self.tally.store.repository.get(call_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(call, ProviderCall) or call.project_id != project_id:
            return None
        return call

    def _attempt(
        self, project_id: UUID, call_id: UUID, due_only: bool, wait_s: float
    ) -> dict[str, Any]:
        """``attempt`` under the call's claim: the call is read again here, so one made
        by the claim's previous holder is found settled and not made again."""
        call = self._load(project_id, call_id)
        if call is None:
            return {}
        if not call.pending:
            return call.summary()
        later = call.next_attempt_at is not None and call.next_attempt_at > self.tally.clock.now()
        if due_only and later:
            return call.summary()
        provider = provider_for(self.tally, project_id)
        if provider.name != call.provider and self.tally.providers.default_name == call.provider:
            # The project changed providers after asking: the call belongs to the old one.
            provider = self.tally.providers.default
        report = pc.RecordProviderCustomer if call.operation == "create_customer" else None
        command: Command
        if provider.name != call.provider:
            command = (report or pm.RecordProviderCallOutcome)(
                call_id=call.id,
                outcome="failed",
                error_code="provider_misconfigured",
                error=f"the call was for {call.provider}; the project now uses {provider.name}",
            )
        elif report is not None:
            command = self._outcome(call, provider, None, report)
        else:
            customer_ref, blocked = self._customer_for(project_id, call, wait_s)
            command = blocked or self._outcome(
                call, provider, customer_ref, pm.RecordProviderCallOutcome
            )
        return self._record(project_id, call, command)

    def _record(self, project_id: UUID, call: ProviderCall, command: Command) -> dict[str, Any]:
        """Record what the attempt came to. A refusal of what the answer changes backs the
        call off (``BackOffProviderCall``) rather than escaping: a pass goes on to every
        other call, and a route answers the call's state."""
        context = Context(project_id, OUTBOX_ACTOR)
        try:
            outcome = self.tally.execute(command, context)
        except DomainError as refusal:
            log.warning("%s %s: outcome not recorded (%s)", call.operation, call.id, refusal.code)
            back_off = pm.BackOffProviderCall(
                call_id=call.id, error_code=refusal.code, error=plain(refusal.detail)
            )
            outcome = self.tally.execute(back_off, context)
        summary: dict[str, Any] = outcome.body["provider_call"]
        return summary

    def _customer_for(
        self, project_id: UUID, call: ProviderCall, wait_s: float
    ) -> tuple[str | None, Command | None]:
        """For a call that waits for its customer's ``create_customer`` call: the
        reference to make it with, or the command that defers or fails it instead. The
        customer call's claim is waited for as long as this call's was (a pass: not at
        all, so a pass never sleeps holding a claim; the call is deferred instead)."""
        waits_for = call.customer_call
        if waits_for is None:
            return None, None
        repository = self.tally.store.repository
        params = call.request_params
        # A call that waits for its customer names the Tally customer too.
        assert isinstance(params, CustomerParams | CreateSubscriptionParams), call.operation
        assert params.customer_id is not None
        customer = repository.get(UUID(params.customer_id))
        assert isinstance(customer, Customer)
        linked = customer.provider_refs.get(call.provider)
        if linked:
            return str(linked), None
        needed = repository.get(waits_for)
        assert isinstance(needed, ProviderCall)
        due = needed.next_attempt_at
        if needed.pending and due is not None and due <= self.tally.clock.now():
            # Due now: make the customer first, in this pass.
            self.attempt(project_id, needed.id, wait_s=wait_s)
            needed = repository.get(waits_for)
        if needed.state == SUCCEEDED:
            return str(needed.result["customer_ref"]), None
        if needed.state == FAILED:
            return None, pm.RecordProviderCallOutcome(
                call_id=call.id,
                outcome="failed",
                error_code="customer_not_created",
                error=(
                    f"{call.provider} could not create customer {customer.id} "
                    f"({needed.error_code}: {needed.last_error})"
                )[:500],
            )
        return None, pc.DeferProviderCall(call_id=call.id, waits_for=needed.id)

    def _outcome(
        self,
        call: ProviderCall,
        provider: PaymentProvider,
        customer_ref: str | None,
        report: type[pm.RecordProviderCallOutcome] | type[pc.RecordProviderCustomer],
    ) -> Command:
        try:
            result = call_provider(provider, call, customer_ref)
        except ProviderUnavailable as error:
            log.warning("%s %s: provider unavailable, will retry", call.operation, call.id)
            return report(
                call_id=call.id, outcome="retry", error_code=error.code, error=plain(error.detail)
            )
        except ProviderError as error:
            return report(
                call_id=call.id, outcome="failed", error_code=error.code, error=plain(error.detail)
            )
        except Exception as error:  # an unexpected failure is treated as an outage
            log.exception("%s %s failed unexpectedly; will retry", call.operation, call.id)
            return report(
                call_id=call.id,
                outcome="retry",
                error_code="provider_error",
                error=type(error).__name__,
            )
        return report(call_id=call.id, outcome="succeeded", result=result)

    def apply_event(
        self, project_id: UUID, webhook_event_id: UUID, *, park: bool = True
    ) -> dict[str, Any]:
        """Apply a recorded provider event, or park it if it cannot be applied yet. An
        early try (``park=False``) that still cannot apply leaves it as it was, so that
        trying early never uses up the event's attempts."""
        context = Context(project_id, WEBHOOK_ACTOR)
        try:
            outcome = self.tally.execute(
                pm.ApplyWebhookEvent(webhook_event_id=webhook_event_id), context
            )
        except DomainError as refusal:
            if not park:
                return {"id": str(webhook_event_id), "status": "parked"}
            reason = plain(f"{refusal.code}: {refusal.detail}")
            outcome = self.tally.execute(
                pm.ParkWebhookEvent(webhook_event_id=webhook_event_id, reason=reason), context
            )
        summary: dict[str, Any] = outcome.body["webhook_event"]
        return summary

    # -- passes ----------------------------------------------------------------------------

    def run_once(self, *, retry_parked: bool = False, wait_s: float = 0.0) -> int:
        """One pass over what is due now; ``retry_parked`` also retries parked events
        before their time (after something else was applied, they may fit now).
        ``wait_s``: how long to wait for a call another thread or process is making (the
        background pass: not at all; a drain: until that call's outcome is recorded)."""
        from projections.payments import due_provider_calls, due_webhook_events

        now = self.tally.clock.now()
        done = 0
        events = due_webhook_events(
            self.tally.views, self.tally.schema, now, BATCH, include_parked=retry_parked
        )
        applied_any = False
        for project_id, event_id, due in events:
            summary = self.apply_event(project_id, event_id, park=due)
            applied_any = applied_any or summary.get("status") == "applied"
            done += 1
        for project_id, call_id in due_provider_calls(
            self.tally.views, self.tally.schema, now, BATCH
        ):
            # A call another thread or process is making is left to it (not counted, so
            # that a pass does not go round again for it), or waited for by a drain.
            _, held = self._attempt_claimed(project_id, call_id, True, wait_s)
            done += int(held)
        if applied_any and not retry_parked:
            done += self.run_once(retry_parked=True, wait_s=wait_s)
        return done

    def drain(
        self, timeout_s: float = 10.0, *, retry_parked: bool = False, wait: bool = True
    ) -> int:
        """Bring the read models to the head, then run passes until one finds nothing
        new to do (tests and the CLI use this; the server has the thread). ``wait``: a
        call the server's own pass is making is waited for, so that a drain returns with
        every due call made (not skipped while another holder makes it)."""
        wait_s = timeout_s if wait else 0.0
        from projections.runner import wait_for_position

        total = 0
        for _ in range(20):
            head = int(self.tally.store.recorder.max_notification_id() or 0)
            wait_for_position(self.tally.views, self.tally.schema, head, timeout_s)
            done = self.run_once(retry_parked=retry_parked, wait_s=wait_s)
            total += done
            if done == 0:
                break
            retry_parked = False
        return total

    # -- background thread ---------------------------------------------------------------

    def run_pass(self) -> None:
        self.drain(timeout_s=2.0, wait=False)

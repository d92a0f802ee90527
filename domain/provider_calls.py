"""The ProviderCall aggregate: one call Tally must make to a payment provider (the outbox).

A command that needs the provider (a top-up charge, a hosted checkout, a refund) records
``Requested`` in the same transaction as everything else it does; nothing talks to the
provider inside a command handler, which may run more than once. The outbox worker
(``adapters/outbox.py``) makes the call after that commit, with an idempotency key fixed
when the call was requested (``idempotency_key(call id, 1)``), so every retry of the
call asks the provider the same question and it cannot charge twice.

    pending --succeed--> succeeded
    pending --fail-----> failed        (a decline, a refusal, or retries exhausted)
    pending --retry----> pending       (the provider was unavailable: backoff)
    pending --wait-----> pending       (another call must succeed first: deferred)

A refund the provider took but holds for review (Paddle's ``pending_approval``)
succeeded as a call but has not moved money yet: ``awaits_approval`` says so, and the
provider's decision, reported by webhook, is recorded as ``RefundDecided``
(``decide_refund``): ``succeeded`` or ``rejected``.

``create_customer`` makes the provider's customer for a Tally customer, once per
(customer, provider): its id and so its idempotency key derive from both, so two
checkouts that race for a new customer, or a retried call, find the same call and the
provider sees one key. A checkout or charge that needs that customer names the call in
its params (``customer_call``); the outbox makes it first and defers the dependent call
(``wait``, which uses up none of its attempts) while it is pending.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.backoff import doubling_delay_s
from domain.base import TallyAggregate
from domain.limits import check_nested_text
from domain.payment_refs import check_payment_ref
from domain.provider_call_params import ProviderParams, parse_params
from domain.state_machine import destination, transition_table

NAMESPACE = UUID("4f0e9d2c-6b1a-4c3d-8e7f-9a0b1c2d3e4f")

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
# A refund's answer while the provider reviews it (RefundOutcome.status).
AWAITING_APPROVAL = "pending_approval"
OPERATIONS: tuple[str, ...] = ("checkout", "charge", "refund", "create_customer", "payment_method")
# A subscription its provider runs (domain/provider_subscription_params.py).
OPERATIONS += ("create_subscription", "change_subscription", "get_invoice")
OPERATIONS += ("cancel_checkout",)

MACHINE = transition_table(
    states=[PENDING, SUCCEEDED, FAILED],
    transitions=[
        ("succeed", PENDING, SUCCEEDED),
        ("fail", PENDING, FAILED),
        ("retry", PENDING, PENDING),
        ("wait", PENDING, PENDING),
    ],
    initial=PENDING,
)

MAX_ATTEMPTS = 10
# The longest text in a call's params: a success or cancel URL (commands.provider_messages.Url).
MAX_PARAM_CHARS = 2000
FIRST_RETRY_S = 1.0
LONGEST_RETRY_S = 30 * 60.0


def retry_delay_s(attempts: int) -> float:
    """Backoff after the ``attempts``-th unavailable answer: 1 s, doubling, at most 30 min."""
    return doubling_delay_s(attempts, FIRST_RETRY_S, LONGEST_RETRY_S)


class ProviderCall(TallyAggregate):
    TOPIC = "tally:ProviderCall"
    # When the provider accepted it (``Succeeded`` version 2). A class default, set only
    # by a success that kept its time, so a call stored before keeps the state it was
    # stored with (its read-model row replays equal).
    succeeded_at: datetime | None = None

    class Created(TallyAggregate.Created):
        TOPIC = "tally:ProviderCall.Created"

    @staticmethod
    def create_id(project_id: UUID, operation: str, subject: str) -> UUID:
        """One call per (operation, Tally object): asking twice finds the first call."""
        return uuid5(NAMESPACE, f"provider_call:{project_id}:{operation}:{subject}")

    @event("Requested", topic="tally:ProviderCall.Requested")
    def __init__(
        self,
        id: UUID,
        project_id: UUID,
        provider: str,
        operation: str,
        subject: str,
        params: dict[str, Any],
        idempotency_key: str,
        requested_at: datetime,
    ) -> None:
        self.project_id = project_id
        self.provider = provider
        self.operation = operation
        self.subject = subject
        self.params = params
        self.idempotency_key = idempotency_key
        self.state = PENDING
        self.attempts = 0
        self.next_attempt_at: datetime | None = requested_at
        self.last_error = ""
        self.error_code = ""
        self.result: dict[str, Any] = {}
        self.payment_ref = ""

    @classmethod
    def request(
        cls,
        *,
        project_id: UUID,
        provider: str,
        subject: str,
        params: ProviderParams,
        now: datetime,
    ) -> ProviderCall:
        """The call of ``params``'s operation about ``subject`` (which fixes its id)."""
        operation = params.OPERATION
        assert operation in OPERATIONS, operation
        stored = params.to_params()
        # The params carry a caller's text (URLs, a refund's reason, line names) into the
        # provider_calls read model, which keeps the call's summary whole.
        check_nested_text(stored, "params", MAX_PARAM_CHARS)
        call_id = cls.create_id(project_id, operation, subject)
        return cls(
            id=call_id,
            project_id=project_id,
            provider=provider,
            operation=operation,
            subject=subject,
            params=stored,
            # Fixed once, from Tally ids only: every retry sends the same key.
            idempotency_key=f"tally:{call_id}:1",
            requested_at=now,
        )

    @property
    def request_params(self) -> ProviderParams:
        """The params as recorded, typed by the call's operation (older calls too)."""
        return parse_params(self.operation, self.params)

    @property
    def pending(self) -> bool:
        return self.state == PENDING

    def succeed(self, result: dict[str, Any], now: datetime | None = None) -> None:
        """The provider accepted it; ``now``, the command's time, is kept (none only
        where no command time is at hand)."""
        state = destination(MACHINE, self.state, "succeed", what="provider call")
        self._succeeded(state=state, result=result, at=now)

    class Succeeded(TallyAggregate.Event):
        """Version 2 keeps ``at``, when it succeeded; one recorded before has none."""

        TOPIC = "tally:ProviderCall.Succeeded"
        class_version = 2

        state: str
        result: dict[str, Any]
        at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["at"] = None

    @event(Succeeded)
    def _succeeded(self, state: str, result: dict[str, Any], at: datetime | None) -> None:
        self.state = state
        self.attempts += 1
        self.result = result
        self.next_attempt_at = None
        self.payment_ref = self.payment_ref or str(result.get("payment_ref") or "")
        if at is not None:
            self.succeeded_at = at

    def accepted_before(self, cutoff: datetime) -> bool:
        """Whether the provider accepted it at or before ``cutoff``. A success stored
        before its time was kept was accepted before this code ran, so long ago."""
        if self.state != SUCCEEDED:
            return False
        return self.succeeded_at is None or self.succeeded_at <= cutoff

    def fail(self, code: str, detail: str) -> None:
        state = destination(MACHINE, self.state, "fail", what="provider call")
        self._failed(state=state, code=code, detail=detail)

    @event("Failed", topic="tally:ProviderCall.Failed")
    def _failed(self, state: str, code: str, detail: str) -> None:
        self.state = state
        self.attempts += 1
        self.error_code = code
        self.last_error = detail
        self.next_attempt_at = None

    def retry_later(self, code: str, detail: str, now: datetime) -> bool:
        """The provider could not answer: schedule the next try, or give up after
        MAX_ATTEMPTS (then False)."""
        if self.attempts + 1 >= MAX_ATTEMPTS:
            self.fail(code, f"gave up after {MAX_ATTEMPTS} attempts: {detail}")
            return False
        state = destination(MACHINE, self.state, "retry", what="provider call")
        next_at = now + timedelta(seconds=retry_delay_s(self.attempts + 1))
        self._retry_scheduled(state=state, code=code, detail=detail, next_attempt_at=next_at)
        return True

    @event("RetryScheduled", topic="tally:ProviderCall.RetryScheduled")
    def _retry_scheduled(
        self, state: str, code: str, detail: str, next_attempt_at: datetime
    ) -> None:
        self.state = state
        self.attempts += 1
        self.error_code = code
        self.last_error = detail
        self.next_attempt_at = next_attempt_at

    def wait_for(self, call_id: UUID, until: datetime, reason: str) -> None:
        """Defer this call until another one (its customer's ``create_customer``) has
        answered. Not an attempt: waiting uses up none of this call's MAX_ATTEMPTS, so a
        long outage at the customer step cannot make the checkout give up before it."""
        state = destination(MACHINE, self.state, "wait", what="provider call")
        self._deferred(state=state, waits_for=str(call_id), until=until, reason=reason)

    @event("Deferred", topic="tally:ProviderCall.Deferred")
    def _deferred(self, state: str, waits_for: str, until: datetime, reason: str) -> None:
        self.state = state
        self.next_attempt_at = until
        self.last_error = reason

    @property
    def awaits_approval(self) -> bool:
        """A refund the provider took and holds for review: no money moved yet."""
        return (
            self.operation == "refund"
            and self.state == SUCCEEDED
            and self.result.get("status") == AWAITING_APPROVAL
        )

    def decide_refund(self, *, approved: bool, refund_ref: str) -> None:
        """The provider's review of a refund it held ended (its webhook says how)."""
        assert self.awaits_approval, f"call {self.id} holds no refund under review"
        status = SUCCEEDED if approved else "rejected"
        self._refund_decided(status=status, refund_ref=refund_ref)

    @event("RefundDecided", topic="tally:ProviderCall.RefundDecided")
    def _refund_decided(self, status: str, refund_ref: str) -> None:
        self.result = {**self.result, "status": status}
        if refund_ref:
            self.result["refund_ref"] = refund_ref

    @property
    def customer_call(self) -> UUID | None:
        """The ``create_customer`` call this call needs answered first, if any."""
        value = self.params.get("customer_call")
        return UUID(str(value)) if value else None

    def note_payment(self, payment_ref: str) -> None:
        """The provider's payment id, learnt from a webhook (needed to refund it): of
        the kind the provider's refunds name, else refused."""
        if payment_ref and payment_ref != self.payment_ref:
            check_payment_ref(self.provider, payment_ref)
            self._payment_noted(payment_ref=payment_ref)

    @event("PaymentNoted", topic="tally:ProviderCall.PaymentNoted")
    def _payment_noted(self, payment_ref: str) -> None:
        self.payment_ref = payment_ref

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "provider": self.provider,
            "operation": self.operation,
            "subject": self.subject,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "error_code": self.error_code or None,
            "last_error": self.last_error or None,
            "idempotency_key": self.idempotency_key,
            "url": self.result.get("url"),
            "payment_ref": self.payment_ref or None,
            "customer_ref": self.result.get("customer_ref") or self.params.get("customer_ref"),
            "waits_for": self.params.get("customer_call"),
            "amount": self.params.get("amount_minor"),
            "currency": self.params.get("currency"),
            # The ledger Transaction the call pays or refunds (a top-up, an invoice charge).
            "transaction_id": self.params.get("transaction_id"),
            # A refund's own outcome: succeeded, pending_approval (the provider reviews
            # it) or rejected; None for other calls and refunds not answered yet.
            "refund_status": self.result.get("status") if self.operation == "refund" else None,
        }

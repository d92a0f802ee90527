"""A customer's saved payment methods: provider references only, never card numbers.

One aggregate per (project, customer) keeps the references (``pm_...`` at Stripe,
``stub_pm_<test card>`` at the stub, a Paddle subscription, a YooKassa saved method)
and which one is the default. They arrive through the provider's own setup flow: a
completed checkout reports the method it saved, or the client attaches a reference it
got from the provider's setup page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import LimitReached, NotFound, ValidationFailed
from domain.limits import MAX_LABEL_CHARS, MAX_REF_CHARS, check_text

NAMESPACE = UUID("7d3c2b1a-0f9e-4d8c-b7a6-5e4f3d2c1b0a")
MAX_METHODS = 20
# The key of the customer's default among the provider changes seen (is_newest).
DEFAULT_KEY = "default"


class PaymentMethods(TallyAggregate):
    TOPIC = "tally:PaymentMethods"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:PaymentMethods.Created"

    @staticmethod
    def create_id(project_id: UUID, customer_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"payment_methods:{project_id}:{customer_id}")

    @event("Started", topic="tally:PaymentMethods.Started")
    def __init__(self, id: UUID, project_id: UUID, customer_id: UUID) -> None:
        self.project_id = project_id
        self.customer_id = customer_id
        self.methods: dict[str, dict[str, Any]] = {}
        # The attach order is kept as a list of its own: read models store this state as
        # jsonb, which orders a dict's keys by length and bytes, so the dict's own order
        # does not survive there, and the default chosen after a detach would differ.
        self.order: list[str] = []
        self.default_ref: str | None = None

    @classmethod
    def start(cls, project_id: UUID, customer_id: UUID) -> PaymentMethods:
        return cls(
            id=cls.create_id(project_id, customer_id),
            project_id=project_id,
            customer_id=customer_id,
        )

    def attach(self, provider: str, reference: str, label: str = "") -> bool:
        """Attach a reference; False when it is attached already (nothing recorded)."""
        if reference in self.methods:
            return False
        check_text(label, "label", MAX_LABEL_CHARS)
        check_text(reference, "payment_method", MAX_REF_CHARS, min_chars=1)
        if any(c.isspace() for c in reference):
            raise ValidationFailed("a payment method reference is 1 to 200 visible characters")
        if reference.replace(" ", "").isdigit() and len(reference) >= 12:
            raise ValidationFailed("card numbers are never sent to Tally; attach a reference")
        if len(self.methods) >= MAX_METHODS:
            raise LimitReached(
                f"a customer keeps at most {MAX_METHODS} payment methods", limit=MAX_METHODS
            )
        self._attached(provider=provider, reference=reference, label=label)
        return True

    @event("Attached", topic="tally:PaymentMethods.Attached")
    def _attached(self, provider: str, reference: str, label: str) -> None:
        self.methods[reference] = {"id": reference, "provider": provider, "label": label}
        self.order = [*self._in_order(), reference]
        if self.default_ref is None:
            self.default_ref = reference

    def detach(self, reference: str) -> None:
        self._check_known(reference)
        self._detached(reference=reference)

    @event("Detached", topic="tally:PaymentMethods.Detached")
    def _detached(self, reference: str) -> None:
        del self.methods[reference]
        self.order = [r for r in self._in_order() if r != reference]
        if self.default_ref == reference:
            self.default_ref = self.order[0] if self.order else None

    def set_default(self, reference: str) -> None:
        self._check_known(reference)
        if self.default_ref != reference:
            self._default_set(reference=reference)

    @event("DefaultSet", topic="tally:PaymentMethods.DefaultSet")
    def _default_set(self, reference: str) -> None:
        self.default_ref = reference

    # -- the provider's own changes (its webhooks), in the provider's order --------------

    def is_newest(self, key: str, at: datetime | None) -> bool:
        """Whether a provider event of time ``at`` about ``key`` (a method's reference,
        or ``DEFAULT_KEY`` for the customer's default) is at least as new as every one
        applied about it: providers deliver in any order, and an older ``attached``
        must not undo a newer ``detached``. An event without a time counts as newest."""
        seen = self._provider_seen().get(key)
        return at is None or seen is None or at >= datetime.fromisoformat(seen)

    def note_provider_change(self, key: str, at: datetime | None) -> None:
        """Remember the newest provider event applied about ``key`` (even one that changed
        nothing here: a ``detached`` of a method Tally never had still outdates an older
        ``attached`` of it)."""
        seen = self._provider_seen().get(key)
        if at is not None and (seen is None or at > datetime.fromisoformat(seen)):
            self._provider_change_seen(key=key, at=at.isoformat())

    @event("ProviderChangeSeen", topic="tally:PaymentMethods.ProviderChangeSeen")
    def _provider_change_seen(self, key: str, at: str) -> None:
        self.provider_seen = {**self._provider_seen(), key: at}

    def _provider_seen(self) -> dict[str, str]:
        # Absent from aggregates (and read-model rows) that never saw a provider event.
        seen: dict[str, str] = self.__dict__.get("provider_seen", {})
        return seen

    def _in_order(self) -> list[str]:
        """The references in the order they were attached. A read-model row stored before
        ``order`` existed has only the dict, in jsonb's order: a replay rebuilds it."""
        return list(self.__dict__.get("order", self.methods))

    def _check_known(self, reference: str) -> None:
        if reference not in self.methods:
            raise NotFound(f"payment method {reference} not found", id=reference)

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "customer_id": str(self.customer_id),
            "default": self.default_ref,
            "data": [
                {**self.methods[r], "default": r == self.default_ref} for r in self._in_order()
            ],
        }

"""The Customer aggregate: a team's own user, known to Tally by its external id."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.errors import ValidationFailed
from domain.limits import (
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    MAX_REF_CHARS,
    check_metadata,
    check_text,
)
from domain.money import check_currency

NAMESPACE = UUID("3e9b7a51-2c4d-4e8f-9a1b-7c6d5e4f3a2b")


def _check_email(email: str) -> str:
    # Deliverability is the notification service's business; here only the shape counts.
    check_text(email, "email", MAX_EMAIL_CHARS)
    if email and ("@" not in email or " " in email):
        raise ValidationFailed(f"'{email}' is not an email address")
    return email


class Customer(TallyAggregate):
    TOPIC = "tally:Customer"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Customer.Created"

    @staticmethod
    def create_id(project_id: UUID, external_id: str) -> UUID:
        # One customer per external id and project: registering twice finds the first.
        return uuid5(NAMESPACE, f"customer:{project_id}:{external_id}")

    @event("Registered", topic="tally:Customer.Registered")
    def __init__(
        self,
        project_id: UUID,
        external_id: str,
        email: str,
        name: str,
        currency: str,
        metadata: dict[str, str],
        test_clock_id: UUID | None,
    ) -> None:
        self.project_id = project_id
        self.test_clock_id = test_clock_id
        self.external_id = external_id
        self.email = email
        self.name = name
        self.currency = currency
        self.metadata = metadata
        self.provider_refs: dict[str, str] = {}

    @classmethod
    def register(
        cls,
        project_id: UUID,
        external_id: str,
        email: str,
        name: str,
        currency: str,
        metadata: dict[str, str] | None = None,
        test_clock_id: UUID | None = None,
    ) -> Customer:
        check_text(external_id, "external_id", MAX_REF_CHARS, min_chars=1)
        check_text(name, "name", MAX_NAME_CHARS)
        check_metadata(dict(metadata or {}))
        check_currency(currency)
        return cls(
            project_id=project_id,
            external_id=external_id,
            email=_check_email(email),
            name=name,
            currency=currency,
            metadata=dict(metadata or {}),
            test_clock_id=test_clock_id,
        )

    def update(
        self,
        email: str | None = None,
        name: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        changes: dict[str, Any] = {}
        if email is not None and email != self.email:
            changes["email"] = _check_email(email)
        if name is not None and name != self.name:
            changes["name"] = check_text(name, "name", MAX_NAME_CHARS)
        if metadata is not None and metadata != self.metadata:
            changes["metadata"] = check_metadata(dict(metadata))
        if changes:
            self._updated(changes=changes)

    @event("Updated", topic="tally:Customer.Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def link_provider(self, provider: str, reference: str) -> None:
        if self.provider_refs.get(provider) != reference:
            self._provider_linked(provider=provider, reference=reference)

    @event("ProviderLinked", topic="tally:Customer.ProviderLinked")
    def _provider_linked(self, provider: str, reference: str) -> None:
        self.provider_refs[provider] = reference

    def summary(self) -> dict[str, Any]:
        """The customer as the API shows it, on the write side and in its read model."""
        return {
            "id": str(self.id),
            "external_id": self.external_id,
            "email": self.email,
            "name": self.name,
            "currency": self.currency,
            "metadata": plain_copy(self.metadata),
            "provider_refs": plain_copy(self.provider_refs),
            "test_clock_id": str(self.test_clock_id) if self.test_clock_id else None,
        }

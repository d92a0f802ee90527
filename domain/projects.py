"""Projects (tenants) and their API keys. Only a hash of each key is ever stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.utils import register_topic

from domain.base import TallyAggregate
from domain.errors import InvalidTransition, LimitReached, NotFound, ValidationFailed
from domain.limits import (
    MAX_API_KEYS_PER_PROJECT,
    MAX_KEY_OVERLAP_S,
    MAX_LABEL_CHARS,
    MAX_METERS_PER_PROJECT,
    MAX_PROJECT_NAME_CHARS,
    MAX_WEBHOOK_ENDPOINTS_PER_PROJECT,
    check_text,
)
from domain.money import check_currency
from domain.rate_limits import check_rate_limits

MODES = ("live", "test")


@dataclass
class KeyInfo:
    key_hash: str
    prefix: str
    label: str
    revoked: bool = False
    # Set when the key is rotated: it is refused from then on (issue 14).
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now)


class Project(TallyAggregate):
    TOPIC = "tally:Project"
    # The webhook endpoints that count against MAX_WEBHOOK_ENDPOINTS_PER_PROJECT (not
    # deleted). A class default, so projects recorded before the limit load with none:
    # endpoints registered before it are not counted (the limit binds from then on).
    webhook_endpoint_ids: tuple[UUID, ...] = ()
    # The meters defined (a meter is never deleted), against MAX_METERS_PER_PROJECT; a class
    # default for the same reason.
    meters_defined: int = 0
    # Set by the operator (issue 14); class defaults for projects recorded before.
    default_currency: str | None = None
    rate_limits: dict[str, dict[str, int]] | None = None

    @event("Created", topic="tally:Project.Created")
    def __init__(self, name: str, mode: str) -> None:
        # A project belongs to itself, so tenancy checks treat it like any aggregate.
        self.project_id = self.id
        self.name = name
        self.mode = mode
        self.keys: dict[str, KeyInfo] = {}

    @classmethod
    def create(cls, name: str, mode: str = "live") -> Project:
        name = name.strip()
        check_text(name, "name", MAX_PROJECT_NAME_CHARS, min_chars=1)
        if mode not in MODES:
            raise ValidationFailed(f"mode must be one of {', '.join(MODES)}")
        return cls(name=name, mode=mode)

    def update(self, name: str | None, mode: str | None, default_currency: str | None) -> bool:
        """Change what is given (None: keep it); whether anything changed."""
        new_name = self.name if name is None else name.strip()
        check_text(new_name, "name", MAX_PROJECT_NAME_CHARS, min_chars=1)
        new_mode = self.mode if mode is None else mode
        if new_mode not in MODES:
            raise ValidationFailed(f"mode must be one of {', '.join(MODES)}")
        currency = self.default_currency
        if default_currency is not None:
            currency = check_currency(default_currency)
        if (new_name, new_mode, currency) == (self.name, self.mode, self.default_currency):
            return False
        self._updated(name=new_name, mode=new_mode, default_currency=currency)
        return True

    def currency_or_default(self, currency: str | None) -> str:
        """The currency a request names, else the project's default (set by the operator);
        a request naming none in a project without a default is refused."""
        if currency is not None:
            return currency
        if self.default_currency is None:
            raise ValidationFailed(
                "currency is required: the project has no default currency", field="currency"
            )
        return self.default_currency

    @event("Updated", topic="tally:Project.Updated")
    def _updated(self, name: str, mode: str, default_currency: str | None) -> None:
        self.name = name
        self.mode = mode
        self.default_currency = default_currency

    def set_rate_limits(self, limits: Mapping[str, Any]) -> bool:
        """Replace the kinds named in ``limits`` (None: back to the default); whether
        anything changed."""
        merged: dict[str, Any] = {**(self.rate_limits or {}), **limits}
        checked = check_rate_limits(merged)
        if checked == (self.rate_limits or {}):
            return False
        self._rate_limits_set(rate_limits=checked)
        return True

    @event("RateLimitsSet", topic="tally:Project.RateLimitsSet")
    def _rate_limits_set(self, rate_limits: dict[str, dict[str, int]]) -> None:
        self.rate_limits = rate_limits

    def _check_can_issue(self, key_id: str, label: str, now: datetime | None) -> None:
        check_text(label, "label", MAX_LABEL_CHARS)
        if key_id in self.keys:
            raise ValidationFailed(f"key {key_id} already exists")
        if now is not None:
            active = sum(info.active(now) for info in self.keys.values())
            if active >= MAX_API_KEYS_PER_PROJECT:
                raise LimitReached(
                    f"a project has at most {MAX_API_KEYS_PER_PROJECT} active API keys "
                    "(revoke one first)",
                    limit=MAX_API_KEYS_PER_PROJECT,
                )

    def issue_key(
        self, key_id: str, key_hash: str, prefix: str, label: str, now: datetime | None = None
    ) -> None:
        """``now`` (the command's time) lets the active-key limit count keys past their
        expiry as gone; without it (a new project's first key) the limit is not checked."""
        self._check_can_issue(key_id, label, now)
        self._key_issued(key_id=key_id, key_hash=key_hash, prefix=prefix, label=label)

    @event("KeyIssued", topic="tally:Project.KeyIssued")
    def _key_issued(self, key_id: str, key_hash: str, prefix: str, label: str) -> None:
        self.keys[key_id] = KeyInfo(key_hash=key_hash, prefix=prefix, label=label)

    def revoke_key(self, key_id: str) -> None:
        info = self.keys.get(key_id)
        if info is None:
            raise NotFound(f"key {key_id} not found in project {self.id}")
        if info.revoked:
            raise InvalidTransition(
                f"key {key_id} is already revoked", state="revoked", trigger="revoke"
            )
        self._key_revoked(key_id=key_id)

    def rotate_key(
        self,
        old_key_id: str,
        new_key: tuple[str, str, str, str],
        overlap_s: int,
        now: datetime,
    ) -> datetime:
        """Issue ``new_key`` (key id, hash, prefix, label) and have ``old_key_id`` refused
        from ``now`` + ``overlap_s``: the time it stops working."""
        info = self.keys.get(old_key_id)
        if info is None:
            raise NotFound(f"key {old_key_id} not found in project {self.id}")
        # A key's state, not the request, refuses these: 409 invalid_transition.
        if not info.active(now):
            raise InvalidTransition(
                f"key {old_key_id} is revoked or expired", state="inactive", trigger="rotate"
            )
        if info.expires_at is not None:
            raise InvalidTransition(
                f"key {old_key_id} is already being rotated (it expires at "
                f"{info.expires_at.isoformat()})",
                state="rotating",
                trigger="rotate",
            )
        if not 0 <= overlap_s <= MAX_KEY_OVERLAP_S:
            raise ValidationFailed(f"overlap_s must be from 0 to {MAX_KEY_OVERLAP_S}")
        key_id, key_hash, prefix, label = new_key
        self._check_can_issue(key_id, label, now)
        expires_at = now + timedelta(seconds=overlap_s)
        self._key_issued(key_id=key_id, key_hash=key_hash, prefix=prefix, label=label)
        self._key_expiring(key_id=old_key_id, expires_at=expires_at)
        return expires_at

    @event("KeyExpiring", topic="tally:Project.KeyExpiring")
    def _key_expiring(self, key_id: str, expires_at: datetime) -> None:
        self.keys[key_id].expires_at = expires_at

    @event("KeyRevoked", topic="tally:Project.KeyRevoked")
    def _key_revoked(self, key_id: str) -> None:
        self.keys[key_id].revoked = True

    def check_can_add_webhook_endpoint(self) -> None:
        if len(self.webhook_endpoint_ids) >= MAX_WEBHOOK_ENDPOINTS_PER_PROJECT:
            raise LimitReached(
                f"a project has at most {MAX_WEBHOOK_ENDPOINTS_PER_PROJECT} webhook endpoints "
                "(delete one first)",
                limit=MAX_WEBHOOK_ENDPOINTS_PER_PROJECT,
            )

    def add_webhook_endpoint(self, endpoint_id: UUID) -> None:
        self.check_can_add_webhook_endpoint()
        if endpoint_id not in self.webhook_endpoint_ids:
            self._webhook_endpoint_added(endpoint_id=endpoint_id)

    @event("WebhookEndpointAdded", topic="tally:Project.WebhookEndpointAdded")
    def _webhook_endpoint_added(self, endpoint_id: UUID) -> None:
        self.webhook_endpoint_ids = (*self.webhook_endpoint_ids, endpoint_id)

    def remove_webhook_endpoint(self, endpoint_id: UUID) -> None:
        """Frees the endpoint's place (nothing to record for one made before the limit)."""
        if endpoint_id in self.webhook_endpoint_ids:
            self._webhook_endpoint_removed(endpoint_id=endpoint_id)

    @event("WebhookEndpointRemoved", topic="tally:Project.WebhookEndpointRemoved")
    def _webhook_endpoint_removed(self, endpoint_id: UUID) -> None:
        self.webhook_endpoint_ids = tuple(e for e in self.webhook_endpoint_ids if e != endpoint_id)

    def check_can_define_meter(self) -> None:
        if self.meters_defined >= MAX_METERS_PER_PROJECT:
            raise LimitReached(
                f"a project has at most {MAX_METERS_PER_PROJECT} meters",
                limit=MAX_METERS_PER_PROJECT,
            )

    def count_meter(self, meter_id: UUID) -> None:
        self.check_can_define_meter()
        self._meter_counted(meter_id=meter_id)

    @event("MeterCounted", topic="tally:Project.MeterCounted")
    def _meter_counted(self, meter_id: UUID) -> None:
        self.meters_defined += 1


# The event was `Project.Registered` until issue 17 named it after its command, CreateProject,
# as DESIGN.md asks (events past tense, commands imperative). Stored events never
# change: the old topic still reads, as this class.
register_topic("tally:Project.Registered", Project.Created)

"""Projects (tenants) and their API keys. Only a hash of each key is ever stored."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.utils import register_topic

from domain.base import TallyAggregate
from domain.errors import LimitReached, NotFound, ValidationFailed
from domain.limits import (
    MAX_LABEL_CHARS,
    MAX_METERS_PER_PROJECT,
    MAX_PROJECT_NAME_CHARS,
    MAX_WEBHOOK_ENDPOINTS_PER_PROJECT,
    check_text,
)

MODES = ("live", "test")


@dataclass
class KeyInfo:
    key_hash: str
    prefix: str
    label: str
    revoked: bool = False


class Project(TallyAggregate):
    TOPIC = "tally:Project"
    # The webhook endpoints that count against MAX_WEBHOOK_ENDPOINTS_PER_PROJECT (not
    # deleted). A class default, so projects recorded before the limit load with none:
    # endpoints registered before it are not counted (the limit binds from then on).
    webhook_endpoint_ids: tuple[UUID, ...] = ()
    # The meters defined (a meter is never deleted), against MAX_METERS_PER_PROJECT; a class
    # default for the same reason.
    meters_defined: int = 0

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

    def issue_key(self, key_id: str, key_hash: str, prefix: str, label: str) -> None:
        check_text(label, "label", MAX_LABEL_CHARS)
        if key_id in self.keys:
            raise ValidationFailed(f"key {key_id} already exists")
        self._key_issued(key_id=key_id, key_hash=key_hash, prefix=prefix, label=label)

    @event("KeyIssued", topic="tally:Project.KeyIssued")
    def _key_issued(self, key_id: str, key_hash: str, prefix: str, label: str) -> None:
        self.keys[key_id] = KeyInfo(key_hash=key_hash, prefix=prefix, label=label)

    def revoke_key(self, key_id: str) -> None:
        info = self.keys.get(key_id)
        if info is None:
            raise NotFound(f"key {key_id} not found in project {self.id}")
        if info.revoked:
            raise ValidationFailed(f"key {key_id} is already revoked")
        self._key_revoked(key_id=key_id)

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

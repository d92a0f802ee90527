"""The WebhookEndpoint aggregate: where a project wants its ``billing.*`` events delivered.

An endpoint has a URL, the event types it wants (``*``: all), a description, a status
(``enabled``, ``disabled``, ``deleted``: a transition table) and a signing secret, held
only sealed (encrypted by the command handler before anything is recorded, so the log
holds ciphertext). Rotating the secret keeps the previous one signing until
``previous_secret_expires_at``, so a receiver can switch without losing a delivery.

Delivery (``adapters.webhook_delivery``) disables an endpoint that kept failing for
``FAILING_DISABLES_AFTER`` with ``disable(reason)``, which records ``Disabled``; enabling
it again (an update) resumes from where its delivery stopped.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import InvalidTransition, ValidationFailed, WebhookUrlNotAllowed
from domain.limits import (
    MAX_DESCRIPTION_CHARS,
    MAX_URL_CHARS,
    WEBHOOK_URL_PATTERN,
    check_text,
)
from domain.state_machine import destination, transition_table

ENABLED, DISABLED, DELETED = "enabled", "disabled", "deleted"
MACHINE = transition_table(
    [ENABLED, DISABLED, DELETED],
    [
        ("disable", ENABLED, DISABLED),
        ("enable", DISABLED, ENABLED),
        ("delete", [ENABLED, DISABLED], DELETED),
    ],
    ENABLED,
)

MAX_ENABLED_EVENTS = 50
# How long the previous secret keeps signing after a rotation, at most.
MAX_SECRET_OVERLAP = timedelta(days=7)
# An endpoint whose deliveries have failed for this long is disabled.
FAILING_DISABLES_AFTER = timedelta(days=3)
ALL_EVENTS = "*"
_URL = re.compile(WEBHOOK_URL_PATTERN)


def check_url(url: str, *, test_mode: bool) -> str:
    """An absolute http(s) URL without credentials; in a live project, not a literal
    private, loopback or link-local address (names are checked again when delivering,
    after they resolve)."""
    check_text(url, "url", MAX_URL_CHARS, min_chars=1)
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number from 0 to 65535 raises here
    except ValueError as error:  # an unclosed "[" of an IPv6 host too
        raise WebhookUrlNotAllowed(f"url is not a valid URL: {error}") from None
    # The schema's pattern, checked again: a lower-case scheme, no space or control character.
    if not _URL.fullmatch(url) or not parts.hostname:
        raise WebhookUrlNotAllowed("url must be an absolute http or https URL")
    if parts.username or parts.password:
        raise WebhookUrlNotAllowed("url must not carry credentials")
    if not test_mode and is_private_host(parts.hostname):
        raise WebhookUrlNotAllowed(
            "url points at a private, loopback or link-local address: allowed in test mode only"
        )
    return url


def is_private_host(host: str) -> bool:
    """True for ``localhost`` and for literal addresses that are not public."""
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def check_enabled_events(types: list[str], known: frozenset[str]) -> list[str]:
    if not types:
        raise ValidationFailed("enabled_events needs at least one type (or '*')")
    if len(types) > MAX_ENABLED_EVENTS:
        raise ValidationFailed(f"enabled_events takes at most {MAX_ENABLED_EVENTS} types")
    unknown = sorted(set(types) - known - {ALL_EVENTS})
    if unknown:
        raise ValidationFailed(f"unknown event types: {', '.join(unknown)}")
    return sorted(set(types))


class WebhookEndpoint(TallyAggregate):
    TOPIC = "tally:WebhookEndpoint"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:WebhookEndpoint.Created"

    @event("Registered", topic="tally:WebhookEndpoint.Registered")
    def __init__(
        self,
        id: UUID,
        project_id: UUID,
        url: str,
        enabled_events: list[str],
        description: str,
        secret: dict[str, str],
    ) -> None:
        self.project_id = project_id
        self.url = url
        self.enabled_events = enabled_events
        self.description = description
        self.secret = secret  # sealed: {"token", "key_id"}
        self.previous_secret: dict[str, str] | None = None
        self.previous_secret_expires_at: datetime | None = None
        self.status = ENABLED
        self.disabled_reason = ""

    @classmethod
    def register(
        cls,
        id: UUID,
        project_id: UUID,
        url: str,
        enabled_events: list[str],
        description: str,
        secret: dict[str, str],
    ) -> WebhookEndpoint:
        check_text(description, "description", MAX_DESCRIPTION_CHARS, free_text=True)
        return cls(
            id=id,
            project_id=project_id,
            url=url,
            enabled_events=enabled_events,
            description=description,
            secret=secret,
        )

    def wants(self, type_name: str) -> bool:
        return ALL_EVENTS in self.enabled_events or type_name in self.enabled_events

    def secrets_at(self, now: datetime) -> list[dict[str, str]]:
        """The sealed secrets that sign at ``now``: the current one, and the previous
        one while its overlap lasts."""
        expires = self.previous_secret_expires_at
        if self.previous_secret is not None and expires is not None and now < expires:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def update(
        self,
        url: str | None = None,
        enabled_events: list[str] | None = None,
        description: str | None = None,
    ) -> None:
        self._check_not_deleted("update")
        changes: dict[str, Any] = {}
        if url is not None and url != self.url:
            changes["url"] = url
        if enabled_events is not None and enabled_events != self.enabled_events:
            changes["enabled_events"] = enabled_events
        if description is not None and description != self.description:
            changes["description"] = check_text(
                description, "description", MAX_DESCRIPTION_CHARS, free_text=True
            )
        if changes:
            self._updated(changes=changes)

    @event("Updated", topic="tally:WebhookEndpoint.Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def rotate_secret(self, secret: dict[str, str], previous_expires_at: datetime) -> None:
        self._check_not_deleted("rotate_secret")
        self._secret_rotated(secret=secret, previous_expires_at=previous_expires_at)

    @event("SecretRotated", topic="tally:WebhookEndpoint.SecretRotated")
    def _secret_rotated(self, secret: dict[str, str], previous_expires_at: datetime) -> None:
        self.previous_secret = self.secret
        self.previous_secret_expires_at = previous_expires_at
        self.secret = secret

    def disable(self, reason: str) -> None:
        check_text(reason, "reason", MAX_DESCRIPTION_CHARS, free_text=True)
        state = destination(MACHINE, self.status, "disable", what="webhook endpoint")
        self._disabled(status=state, reason=reason)

    @event("Disabled", topic="tally:WebhookEndpoint.Disabled")
    def _disabled(self, status: str, reason: str) -> None:
        self.status = status
        self.disabled_reason = reason

    def enable(self) -> None:
        state = destination(MACHINE, self.status, "enable", what="webhook endpoint")
        self._enabled(status=state)

    @event("Enabled", topic="tally:WebhookEndpoint.Enabled")
    def _enabled(self, status: str) -> None:
        self.status = status
        self.disabled_reason = ""

    def delete(self) -> None:
        state = destination(MACHINE, self.status, "delete", what="webhook endpoint")
        self._deleted(status=state)

    @event("Deleted", topic="tally:WebhookEndpoint.Deleted")
    def _deleted(self, status: str) -> None:
        self.status = status

    def _check_not_deleted(self, action: str) -> None:
        if self.status == DELETED:
            raise InvalidTransition(
                f"cannot {action} a webhook endpoint that is deleted",
                state=DELETED,
                trigger=action,
            )

    def summary(self) -> dict[str, Any]:
        """The endpoint as the API shows it: never a secret, sealed or not."""
        expires = self.previous_secret_expires_at
        overlapping = self.previous_secret is not None and expires is not None
        return {
            "id": str(self.id),
            "url": self.url,
            "enabled_events": list(self.enabled_events),
            "description": self.description,
            "status": self.status,
            "disabled_reason": self.disabled_reason,
            "previous_secret_expires_at": expires.isoformat() if overlapping and expires else None,
        }

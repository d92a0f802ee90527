"""A write's check of the API keys its commands were authenticated with from a key
cache (``api.auth``, docs/architecture.md, Tenancy): what the bus hands the event writer
with a batch, and what the writer raises when one of them no longer holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

# What a refused key is answered (401), the same words as every refusal of a key.
KEY_REFUSAL = "a valid API key is required (Authorization: Bearer <key>)"


@dataclass(frozen=True)
class KeyCheck:
    """An API key a command was authenticated with from a server's key cache, which its
    write must confirm (``EventWriter.write``'s ``keys``): in the append's transaction,
    under the event table's lock, the key is still in ``project_id``'s read model, not
    revoked there or in the log past it, and not expired at ``valid_at`` (the app's
    clock when the request was authenticated)."""

    key_id: str
    project_id: UUID
    valid_at: datetime


class KeyRefused(IntegrityError):
    """A key a batch was to confirm no longer holds (revoked, expired, or gone from the
    read model): nothing of the batch was written. The bus runs its commands again one
    at a time, each confirming its own key, and answers the refused key's command 401.
    An ``IntegrityError``, so that any path that does not know it treats it as the
    conflict it also is (nothing written, tried again), never as a commit.

    ``key_ids`` are the refused keys, as the append reported them (empty if it did not):
    the bus answers their commands 401 and runs the batch again without them."""

    def __init__(self, message: str, key_ids: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.key_ids = key_ids

"""What becomes of a message Tally could not act on: tried again later, or dead-lettered
with its reason, the machine code of the one error table (``api/errors.py``).

- A refusal that the same message can never get past (malformed, unknown project,
  unknown customer, a rule of the domain) is a **dead letter**: it goes to the queue's
  dead-letter queue with its code and detail, and the message is acknowledged, so the
  queue moves on.
- A failure of the moment (the database unreachable, a read model behind the log, a
  concurrent update that kept conflicting) is **retried**: the message is given back to
  the broker after a pause, as an HTTP client would retry a 503.
- Anything else is a bug: dead-lettered as ``internal_error`` (and logged with its
  traceback), so that one bad message never blocks its queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
from pydantic import ValidationError

from adapters.database import DatabaseUnreachable
from api.errors import STATUS_BY_CODE
from domain.errors import DomainError

# Codes that say "not now" rather than "never": the same message may succeed later.
RETRY_CODES = frozenset(
    {"read_model_behind", "service_unavailable", "concurrent_update", "provider_unavailable"}
)


class Action(StrEnum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Verdict:
    action: Action
    code: str
    detail: str
    context: dict[str, Any]


def verdict_for(error: BaseException) -> Verdict:
    """The verdict on a message whose handling raised ``error``."""
    if isinstance(error, DomainError):
        code = error.code if error.code in STATUS_BY_CODE else "domain_error"
        action = Action.RETRY if code in RETRY_CODES else Action.DEAD_LETTER
        return Verdict(action, code, error.detail, dict(error.context))
    if isinstance(error, ValidationError):
        # A command built from a valid message that its own limits still refuse.
        return Verdict(Action.DEAD_LETTER, "validation_error", str(error).splitlines()[0], {})
    if isinstance(error, DatabaseUnreachable | psycopg.OperationalError | TimeoutError):
        return Verdict(Action.RETRY, "service_unavailable", "the database is unavailable", {})
    return Verdict(Action.DEAD_LETTER, "internal_error", type(error).__name__, {})

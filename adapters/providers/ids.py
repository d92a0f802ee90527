"""Provider ids are never trusted: each provider's documented id format, checked before
an id is used, and every id escaped as one path segment when it goes into a URL.

Ids reach Tally from places Tally does not control: webhook bodies (YooKassa's are not
even signed, anyone can post one) and the providers' own answers, kept and later put in
a URL (a Paddle transaction id in ``GET /transactions/{id}``, a customer id in its
portal address). An id like ``../payments/<id>`` in a URL is not an id but a path: the
HTTP client collapses ``..`` and asks for another object than the one named. So an id is
checked against its provider's format first (a bad one is refused, it never reaches the
provider's API), and still escaped with ``quote(id, safe="")`` wherever it is formatted
into a URL, so that no id can ever be more than one segment. Escaping alone is not
enough: ``quote`` leaves dots as they are, so ``..`` would still be a dot-segment that
the client resolves; the format check is what keeps it out.

The formats, from each provider's documentation:

* YooKassa: payments, refunds and saved payment methods are 36-character UUID-like
  strings, hex digits in groups of 8-4-4-4-12 (``22d6d597-000f-5000-9000-145f6df21d6f``).
* Stripe: ``<prefix>_<letters and digits>``, the prefix lower-case and made of one or
  more words joined by ``_`` (``pi_3MtwBw...``, ``cs_test_a1b2...``, ``evt_...``), at
  most 255 characters.
* Paddle: ``<prefix>_<26 lower-case letters or digits>`` (``txn_01h04vsbhqc62t8hmd4z3b578c``,
  ``sub_...``, ``ctm_...``, ``paymtd_...``, ``evt_...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from adapters.providers.base import ProviderEvent
from commands.provider_errors import InvalidSignature, ProviderError, ProviderRejected
from commands.provider_events import EventType


@dataclass(frozen=True)
class IdFormat:
    """One provider's id format. The pattern is matched whole, on ASCII classes only (no
    flags: with IGNORECASE, Python's ``[a-z]`` also matches the Kelvin sign)."""

    provider: str
    pattern: re.Pattern[str]
    max_chars: int
    description: str

    def matches(self, value: object) -> bool:
        return (
            isinstance(value, str)
            and len(value) <= self.max_chars
            and self.pattern.fullmatch(value) is not None
        )


YOOKASSA = IdFormat(
    "yookassa",
    re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    36,
    "a 36-character YooKassa id (hex digits, 8-4-4-4-12)",
)
STRIPE = IdFormat(
    "stripe",
    re.compile(r"[a-z][a-z0-9]*(?:_[A-Za-z0-9]+)+"),
    255,
    "a Stripe id (<prefix>_<letters and digits>)",
)
PADDLE = IdFormat(
    "paddle",
    re.compile(r"[a-z]{2,12}_[a-z0-9]{26}"),
    39,
    "a Paddle id (<prefix>_<26 lower-case letters or digits>)",
)


def checked(
    fmt: IdFormat,
    value: object,
    *,
    what: str,
    refusal: type[ProviderError] = ProviderRejected,
) -> str:
    """``value`` if it is an id in ``fmt``; otherwise ``refusal`` naming ``what`` it was
    meant to be. The offending value is shown escaped and cut short, since it came from
    outside and goes into a problem document and the logs."""
    if fmt.matches(value):
        assert isinstance(value, str)
        return value
    shown = quote(str(value)[:80], safe="") if isinstance(value, str) else type(value).__name__
    raise refusal(f"{what} is not {fmt.description}: {shown!r}", provider=fmt.provider, field=what)


def path_segment(fmt: IdFormat, value: object, *, what: str) -> str:
    """An id ready to be formatted into a URL path: checked against ``fmt`` (a stored
    id that is not one is refused before the call) and escaped as one segment."""
    return quote(checked(fmt, value, what=what), safe="")


# The fields of a normalized event that hold provider ids Tally may use later (to look
# objects up, to charge a saved method, to cancel a subscription, to refund a payment).
EVENT_ID_FIELDS = (
    "object_ref",
    "customer_ref",
    "subscription_ref",
    "payment_ref",
    "payment_method_ref",
)


def check_event_ids(fmt: IdFormat, event: ProviderEvent, *, event_id: bool = True) -> None:
    """Refuse a webhook event (``InvalidSignature``: nothing is recorded) whose ids are
    not in ``fmt``. The event's own id is checked when the provider issues one
    (``event_id``). An event type Tally does not translate changes nothing, so only its
    event id is checked: its object may be anything (a Stripe coupon or product is named
    by the account, ``SUMMER25``), and refusing it would only make the provider retry."""
    if event_id:
        checked(fmt, event.event_id, what="the event id", refusal=InvalidSignature)
    if event.type is EventType.UNKNOWN:
        return
    for name in EVENT_ID_FIELDS:
        value = getattr(event, name)
        if value is not None and value != "":
            checked(fmt, value, what=f"the event's {name}", refusal=InvalidSignature)

"""The rules for text and times, as patterns for the API's schemas and as checks for
the domain (``domain.limits`` re-exports them with the values they read)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from domain.errors import ValidationFailed
from domain.limits.inputs import (
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_CHARS,
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
)

# -- the rules, as patterns and as checks ---------------------------------------------------
# The API's schemas carry these patterns (so OpenAPI states them, and pydantic's engine
# and a JSON Schema validator read them alike: plain character classes, no flags); the
# domain checks the same rule below without them. A lone surrogate (U+D800-U+DFFF) is
# refused too: UTF-8, and so Postgres, cannot store one, and pydantic never lets one in.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0a-\x1f\x7f-\x9f]*$"  # tab allowed
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def plain_text(text: str) -> str:
    """Outside words (a provider's message, a receiver's answer) as text every read model
    stores and every terminal prints: each control character becomes a space (Postgres
    text cannot hold a NUL, and an escape sequence would reach an operator's terminal)."""
    return _CONTROL.sub(" ", text)


# An id in a path or a command (hold, invoice line, cart line, API key): letters,
# digits and ``_ . : -``, so it needs no escaping anywhere it goes.
ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
# Codes a client chooses (plan codes; coupon and promotion codes) and price lookup keys.
PLAN_CODE_PATTERN = r"^[A-Za-z0-9_]+$"
CODE_PATTERN = r"^[A-Za-z0-9_-]+$"
LOOKUP_KEY_PATTERN = r"^[A-Za-z0-9_.-]+$"

# A timestamp as the API takes it: RFC 3339 with a timezone, years 1971 to 9997 as
# written. The years are a year inside MIN_TIMESTAMP..MAX_TIMESTAMP on each side, so no
# offset (at most 23:59) can carry an accepted time outside the range: the schema's
# pattern is then exactly what the API accepts (JSON Schema cannot compare dates).
# The date is a real one (a JSON Schema validator treats ``format`` as a note, so the
# pattern alone must refuse 02-30): 29 February only in leap years.
_YEAR = r"(19[7-9][1-9]|19[8-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-7])"
_LEAP_YEAR = (
    r"(19(7[26]|8[048]|9[26])|[2-9][0-9](0[48]|[2468][048]|[13579][26])|([2468][048]|[3579][26])00)"
)
_MONTH_DAY = (
    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
    r"|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    r"|02-(0[1-9]|1[0-9]|2[0-8]))"
)
TIMESTAMP_PATTERN = (
    rf"^({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


def check_text(
    value: str, field: str, max_chars: int, *, min_chars: int = 0, free_text: bool = False
) -> str:
    """``value`` if it is ``min_chars`` to ``max_chars`` characters with no control
    character (tab allowed in ``free_text``) and no lone surrogate; else
    ``ValidationFailed`` naming the field. Aggregates call it before they record."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    if not min_chars <= len(value) <= max_chars:
        raise ValidationFailed(
            f"{field} must be {min_chars} to {max_chars} characters", field=field
        )
    if value.isprintable():
        # Control characters and surrogates are all unprintable, so a printable value
        # holds none: the C check spares the regular expression (usage ingestion checks
        # two texts per property per event).
        return value
    found = (_CONTROL_BUT_TAB if free_text else _CONTROL).search(value)
    if found is not None:
        raise ValidationFailed(
            f"{field} holds a control character (U+{ord(found.group()):04X})", field=field
        )
    return value


def check_metadata(metadata: dict[str, str], field: str = "metadata") -> dict[str, str]:
    """At most MAX_METADATA_KEYS keys of 1 to MAX_METADATA_KEY_CHARS characters, values
    of at most MAX_METADATA_VALUE_CHARS, none holding a control character."""
    if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA_KEYS:
        raise ValidationFailed(f"{field} holds at most {MAX_METADATA_KEYS} keys", field=field)
    for key, value in metadata.items():
        check_text(key, f"{field} key", MAX_METADATA_KEY_CHARS)
        check_text(value, f"{field}[{key}]", MAX_METADATA_VALUE_CHARS)
    return metadata


def check_nested_text(value: object, field: str, max_chars: int) -> None:
    """``check_text`` (free text) on every string inside ``value``, keys included: for a
    document of a caller's values, such as a provider call's params, that a read model
    keeps whole."""
    if isinstance(value, str):
        check_text(value, field, max_chars, free_text=True)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_nested_text(key, field, max_chars)
            check_nested_text(item, f"{field}.{key}", max_chars)
    elif isinstance(value, list | tuple):
        for item in value:
            check_nested_text(item, field, max_chars)


def later(moment: datetime, delta: timedelta, field: str) -> datetime:
    """``moment + delta``, checked like a client's timestamp: near the end of the range
    (a test clock may stand there) the sum would pass MAX_TIMESTAMP or even Python's
    datetime, and that is a refusal with nothing written, not an arithmetic error."""
    try:
        result = moment + delta
    except OverflowError:
        high = MAX_TIMESTAMP.isoformat()
        raise ValidationFailed(f"{field} would be after {high}", field=field) from None
    return check_timestamp(result, field)


def check_timestamp(value: datetime, field: str) -> datetime:
    """``value`` if it is timezone-aware and, in UTC, within MIN_TIMESTAMP..MAX_TIMESTAMP;
    else ``ValidationFailed``. A read model stores every time it is given as timestamptz,
    and adds periods and retries to it, so the range keeps room on both sides."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationFailed(f"{field} must be a time with a timezone", field=field)
    if not MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
        low, high = MIN_TIMESTAMP.isoformat(), MAX_TIMESTAMP.isoformat()
        raise ValidationFailed(f"{field} must be between {low} and {high}", field=field)
    return value

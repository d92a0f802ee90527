"""The annotated pydantic types of every text, id and timestamp a client sends, built
from ``domain/limits/`` (which may not import pydantic).

Command messages and API schemas use these and nothing else for text, so the JSON
Schema of each field states its rule (a ``pattern`` excluding control characters, a
``maxLength``) and the API refuses exactly what the schema says. The patterns are plain
character classes, which pydantic's regex engine and a JSON Schema (ECMA-262) validator
read alike; lengths count characters (code points) in both. The domain checks the same
rules again (``domain.limits.check_text`` and ``check_timestamp``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, WithJsonSchema

from domain.errors import ValidationFailed
from domain.limits import (
    CODE_PATTERN,
    FREE_TEXT_PATTERN,
    ID_PATTERN,
    LOOKUP_KEY_PATTERN,
    MAX_CODE_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_EMAIL_CHARS,
    MAX_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_CHARS,
    MAX_NAME_CHARS,
    MAX_PROJECT_NAME_CHARS,
    MAX_REF_CHARS,
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    PLAN_CODE_PATTERN,
    TEXT_PATTERN,
    TIMESTAMP_PATTERN,
    check_timestamp,
)

# -- text --------------------------------------------------------------------------------

Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=TEXT_PATTERN),
]
ProjectName = Annotated[
    str, Field(min_length=1, max_length=MAX_PROJECT_NAME_CHARS, pattern=TEXT_PATTERN)
]
NameOrBlank = Annotated[str, Field(max_length=MAX_NAME_CHARS, pattern=TEXT_PATTERN)]
Ref = Annotated[str, Field(min_length=1, max_length=MAX_REF_CHARS, pattern=TEXT_PATTERN)]
RefOrBlank = Annotated[str, Field(max_length=MAX_REF_CHARS, pattern=TEXT_PATTERN)]
Label = Annotated[str, Field(max_length=MAX_LABEL_CHARS, pattern=TEXT_PATTERN)]
# Free text: tab is allowed, other control characters (newlines too) are not.
Description = Annotated[
    str,
    Field(
        max_length=MAX_DESCRIPTION_CHARS,
        pattern=FREE_TEXT_PATTERN,
        description="Free text; tab allowed, no other control characters",
    ),
]
LineDescription = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_DESCRIPTION_CHARS,
        pattern=FREE_TEXT_PATTERN,
        description="Free text; tab allowed, no other control characters",
    ),
]
# The shape the domain checks (customers._check_email): empty, or one @ somewhere and no
# space; deliverability is the notification service's business.
EMAIL_PATTERN = r"^([^\x00-\x20\x7f-\x9f]*@[^\x00-\x20\x7f-\x9f]*)?$"
Email = Annotated[
    str,
    Field(
        max_length=MAX_EMAIL_CHARS,
        pattern=EMAIL_PATTERN,
        description="Empty, or containing an @; no spaces or control characters",
    ),
]
MetadataKey = Annotated[str, Field(max_length=MAX_METADATA_KEY_CHARS, pattern=TEXT_PATTERN)]
MetadataValue = Annotated[str, Field(max_length=MAX_METADATA_VALUE_CHARS, pattern=TEXT_PATTERN)]
# Stated by hand: pydantic would put the key rule in ``patternProperties``, which lets a
# key that breaks it through with any value, as far as the schema tells.
Metadata = Annotated[
    dict[MetadataKey, MetadataValue],
    Field(max_length=MAX_METADATA_KEYS),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_METADATA_KEYS,
            "propertyNames": {"maxLength": MAX_METADATA_KEY_CHARS, "pattern": TEXT_PATTERN},
            "additionalProperties": {
                "type": "string",
                "maxLength": MAX_METADATA_VALUE_CHARS,
                "pattern": TEXT_PATTERN,
            },
            "description": f"At most {MAX_METADATA_KEYS} keys; no control characters",
        }
    ),
]

# -- ids and codes -----------------------------------------------------------------------

Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        pattern=ID_PATTERN,
        description="Letters, digits and _ . : -",
    ),
]

PlanCode = Annotated[str, Field(min_length=1, max_length=MAX_CODE_CHARS, pattern=PLAN_CODE_PATTERN)]
Code = Annotated[str, Field(min_length=1, max_length=MAX_CODE_CHARS, pattern=CODE_PATTERN)]
LookupKey = Annotated[
    str, Field(min_length=1, max_length=MAX_LABEL_CHARS, pattern=LOOKUP_KEY_PATTERN)
]

# -- timestamps --------------------------------------------------------------------------

_RFC3339 = re.compile(TIMESTAMP_PATTERN)
TIMESTAMP_RULE = (
    "RFC 3339 with a timezone (Z or +hh:mm), years 1971 to 9997 as written, so that in "
    f"UTC it lies between {MIN_TIMESTAMP:%Y-%m-%dT%H:%M:%SZ} and "
    f"{MAX_TIMESTAMP:%Y-%m-%dT%H:%M:%SZ} whatever the offset"
)


def _rfc3339_only(value: Any) -> Any:
    """Text must be an RFC 3339 time in the accepted years; pydantic alone would also
    take a number (``0.5`` as seconds since 1970) or a date. A ``datetime`` (a command
    built in Python) passes on to the range check."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError(TIMESTAMP_RULE)
    if not isinstance(value, str | datetime):
        raise ValueError(TIMESTAMP_RULE)
    return value


def _in_range(value: datetime) -> datetime:
    try:
        return check_timestamp(value, "timestamp")
    except ValidationFailed as error:  # the domain's refusal, as pydantic wants it
        raise ValueError(error.detail) from None


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_only),
    AfterValidator(_in_range),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "description": TIMESTAMP_RULE,
        }
    ),
]

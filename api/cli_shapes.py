"""The CLI's ``--json`` in the API's shapes (docs/api.md): an object has ``object`` (its
type) and ``created``, and every time is RFC 3339 in UTC with ``Z`` and microseconds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from api.objects import rfc3339


def json_value(value: Any) -> Any:
    """``json.dumps``'s ``default``: a datetime in the API's format, anything else as text
    (UUIDs, paths)."""
    return rfc3339(value) if isinstance(value, datetime) else str(value)


def _time(value: Any) -> Any:
    # Read models hand the CLI ISO strings with +00:00; the API answers the one format.
    if isinstance(value, str):
        return rfc3339(datetime.fromisoformat(value))
    return rfc3339(value) if isinstance(value, datetime) else value


def as_object(row: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """``row`` as the API would answer an object of type ``kind``: ``object`` after its
    id, ``created`` from ``created_at`` (kept too, as the API keeps it), times
    reformatted."""
    shaped: dict[str, Any] = {}
    for key, value in row.items():
        timed = key.endswith("_at") or key == "created"
        shaped[key] = _time(value) if timed and value is not None else value
        if key in ("id", "key_id") and "object" not in shaped:
            shaped["object"] = kind
    shaped.setdefault("object", kind)
    if "created" not in shaped and shaped.get("created_at") is not None:
        shaped["created"] = shaped["created_at"]
    return shaped

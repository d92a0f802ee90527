"""Checking a request Tally's Stripe adapter sent against the operation's request schema
(``tests/fixtures/stripe_api/requests.json``, written from Stripe's OpenAPI spec).

Stripe takes form-encoded parameters (``metadata[tally_project]=...``,
``line_items[0][price_data][currency]=eur``), so a request is decoded back into the
nested object it encodes, and every value, a string on the wire, is checked as the type
the schema says (an integer's digits, a boolean's ``true``/``false``). What the schema
does not name is refused, as Stripe answers an unknown parameter with 400.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.integration.provider_fake import Seen

SCHEMAS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "stripe_api" / "requests.json").read_text()
)
OPERATIONS: dict[str, Any] = SCHEMAS["operations"]
DEFINITIONS: dict[str, Any] = SCHEMAS["definitions"]
_INTEGER = re.compile(r"-?[0-9]+")


def operation_of(method: str, path: str) -> str | None:
    """The spec's operation (``"POST /v1/customers/{customer}"``) a request is."""
    for name in OPERATIONS:
        verb, template = name.split(" ", 1)
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
        if verb == method and re.fullmatch(pattern, path):
            return name
    return None


def decode(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The nested object form-encoded ``pairs`` stand for (lists from their indexes)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def params_of(seen: Seen) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    raw = seen.body.decode() if seen.method != "GET" else ""
    pairs = parse_qsl(raw, keep_blank_values=True)
    pairs += [(k, v) for k, values in seen.query.items() for v in values]
    return decode(pairs)


def problems(seen: Seen) -> list[str]:
    """What Stripe would refuse in one request (empty: it conforms)."""
    name = operation_of(seen.method, seen.path)
    if name is None:
        return [f"{seen.method} {seen.path}: no such operation in the fixtures"]
    return [f"{name}: {p}" for p in check(params_of(seen), OPERATIONS[name], "")]


def check(value: Any, schema: dict[str, Any], at: str) -> list[str]:
    if "$ref" in schema:
        return check(value, DEFINITIONS[schema["$ref"]], at)
    if "anyOf" in schema:
        failed = [check(value, option, at) for option in schema["anyOf"]]
        return [] if any(not f for f in failed) else failed[0]
    if "enum" in schema:
        return [] if value in schema["enum"] else [f"{at}: {value!r} not one of {schema['enum']}"]
    kind = schema.get("type")
    if kind == "object":
        return _object(value, schema, at)
    if kind == "array":
        if not isinstance(value, list):
            return [f"{at}: not a list"]
        items = schema.get("items", {})
        return [p for i, item in enumerate(value) for p in check(item, items, f"{at}[{i}]")]
    if not isinstance(value, str):
        return [f"{at}: not a scalar"]
    return _scalar(value, schema, at)


def _object(value: Any, schema: dict[str, Any], at: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{at}: not an object"]
    found: list[str] = [f"{at}.{k}: required" for k in schema.get("required", []) if k not in value]
    if len(value) > schema.get("maxProperties", len(value)):
        found.append(f"{at}: more than {schema['maxProperties']} keys")
    names = schema.get("propertyNames", {})
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if len(key) > names.get("maxLength", len(key)):
            found.append(f"{at}.{key}: key longer than {names['maxLength']}")
        if key in properties:
            found += check(item, properties[key], f"{at}.{key}")
        elif extra is False:
            found.append(f"{at}.{key}: unknown parameter")
        elif isinstance(extra, dict):
            found += check(item, extra, f"{at}.{key}")
    return found


def _scalar(value: str, schema: dict[str, Any], at: str) -> list[str]:
    kind = schema.get("type", "string")
    if kind == "integer":
        if not _INTEGER.fullmatch(value):
            return [f"{at}: {value!r} is not an integer"]
        number = int(value)
        low, high = schema.get("minimum", number), schema.get("maximum", number)
        return [] if low <= number <= high else [f"{at}: {number} outside {low}..{high}"]
    if kind == "boolean":
        return [] if value in ("true", "false") else [f"{at}: {value!r} is not a boolean"]
    if kind == "number":
        return [] if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value) else [f"{at}: not a number"]
    found = []
    if len(value) > schema.get("maxLength", len(value)):
        found.append(f"{at}: longer than {schema['maxLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{at}: {value[:40]!r} does not match {schema['pattern']}")
    if schema.get("format") == "currency" and not re.fullmatch(r"[a-z]{3}", value):
        found.append(f"{at}: {value!r} is not a lower-case ISO currency")
    return found

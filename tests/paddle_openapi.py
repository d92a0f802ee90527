"""Paddle's published API as the tests carry it: the schemas of the request bodies the
Paddle adapter sends and of the answers it reads, copied from PaddleHQ/paddle-openapi
``v1/openapi.yaml`` into ``tests/fixtures/paddle_openapi_v1.json`` (requests) and
``paddle_openapi_v1_responses.json`` (each operation's 2xx answer).

A request body is checked as Paddle checks it (``problems``): a body its schema refuses
would be a 400. An answer is checked the other way round (``response_problems``): the
fakes answer only what the adapter reads, so Paddle's required fields are not asked of
them, but every field a fake answers must be one Paddle's schema has, of its type, at
its place (``unevaluatedProperties: false`` on every object). So a field the adapter
reads that Paddle does not send makes the fake that feeds it fail, and with it the test.
Every Paddle fake of the tests answers through ``PaddleAnswers`` or ``check_answer``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs

from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api

FIXTURES = Path(__file__).parent / "fixtures"
SPEC = json.loads((FIXTURES / "paddle_openapi_v1.json").read_text())
RESPONSES = json.loads((FIXTURES / "paddle_openapi_v1_responses.json").read_text())


def operation(patterns: Iterable[str], method: str, path: str) -> str | None:
    """The ``"METHOD /path/{id}"`` of ``patterns`` that ``method path`` is."""
    parts = path.strip("/").split("/")
    for pattern in patterns:
        want_method, want_path = pattern.split(" ")
        want = want_path.strip("/").split("/")
        same = len(parts) == len(want) and all(
            w.startswith("{") or w == p for p, w in zip(parts, want, strict=True)
        )
        if method == want_method and same:
            return pattern
    return None


def schema_for(method: str, path: str) -> str:
    """The request schema's name of a call the adapter makes."""
    found = operation(SPEC["requests"], method, path)
    if found is None:
        raise AssertionError(f"no schema carried for {method} {path}")
    return str(SPEC["requests"][found])


def problems(name: str, body: Any) -> list[str]:
    """Why Paddle's request schema ``name`` refuses ``body`` (empty: it takes it)."""
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}
    )
    found = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
    properties = SPEC["components"]["schemas"][name].get("properties", {})
    found += [
        f"{key} is set by Paddle (readOnly)"
        for key in body
        if properties.get(key, {}).get("readOnly")
    ]
    return found


def _allof_lists(node: Any) -> Iterable[Any]:
    if isinstance(node, dict):
        if "allOf" in node:
            yield node["allOf"]
        for value in node.values():
            yield from _allof_lists(value)
    elif isinstance(node, list):
        for value in node:
            yield from _allof_lists(value)


def _allof_members(schemas: dict[str, Any]) -> set[str]:
    """Components that are a member of an ``allOf`` (an answer with includes, a line
    item with its id): each stays open, and its whole is closed instead."""
    members = [item for found in _allof_lists(schemas) for item in found]
    text = json.dumps([item for item in members if isinstance(item, dict) and "$ref" in item])
    return {name for name in schemas if f'"#/components/schemas/{name}"' in text}


def _strict(node: Any, *, in_allof: bool = False) -> Any:
    """``node`` with no required fields and no field beyond the ones it names. An
    ``allOf`` member stays open: its whole (``unevaluatedProperties``) closes it."""
    if isinstance(node, list):
        return [_strict(item, in_allof=in_allof) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value, in_allof=key == "allOf") for key, value in node.items()}
    out.pop("required", None)
    open_ended = "additionalProperties" in out or "unevaluatedProperties" in out
    if not in_allof and not open_ended and {"properties", "allOf", "$ref"} & out.keys():
        out["unevaluatedProperties"] = False
    return out


@cache
def _response_validator(found: str) -> Any:
    schemas = RESPONSES["components"]["schemas"]
    members = _allof_members(schemas)
    strict = {
        name: (_strict(schema, in_allof=True) if name in members else _strict(schema))
        for name, schema in schemas.items()
    }
    schema = _strict(RESPONSES["operations"][found]["schema"])
    return jsonschema_rs.Draft202012Validator({**schema, "components": {"schemas": strict}})


def response_problems(method: str, path: str, payload: Any) -> list[str]:
    """What in a fake's 2xx answer to ``method path`` Paddle's answer cannot have."""
    found = operation(RESPONSES["operations"], method, path)
    if found is None:
        return [f"no response schema carried for {method} {path}"]
    if RESPONSES["operations"][found]["schema"] is None:
        return [] if payload in (None, b"", {}) else [f"{found} answers no body"]
    errors = _response_validator(found).iter_errors(payload)
    return [f"{found} {e.instance_path}: {e.message}" for e in errors]


def check_answer(method: str, path: str, status: int, payload: Any) -> None:
    """Fail (``AssertionError``) if a fake's successful answer is not one Paddle sends."""
    if 200 <= status < 300:
        found = response_problems(method, path, payload)
        assert not found, found


class PaddleAnswers:
    """A fake Paddle's route, its successful answers checked against Paddle's response
    schemas. A fake runs in a server thread, so what it answered wrong is kept
    (``problems``) and answered 500; the fixture that made it asserts there is none."""

    def __init__(self, route: Callable[[Seen], Reply]) -> None:
        self.route = route
        self.problems: list[str] = []

    def __call__(self, seen: Seen) -> Reply:
        reply = self.route(seen)
        if 200 <= reply.status < 300:
            found = response_problems(seen.method, seen.path, reply.body)
            if found:
                self.problems += found
                return Reply(500, {"error": {"code": "fake_answer", "detail": str(found)}})
        return reply


def answered_item(sent: dict[str, Any]) -> dict[str, Any]:
    """A transaction's item as Paddle answers one the adapter sent with a non-catalog
    price: the price as Paddle keeps it, which names its product (``product_id``) rather
    than carrying it."""
    if "price" not in sent:
        return dict(sent)
    return {**sent, "price": {k: v for k, v in sent["price"].items() if k != "product"}}


def checked_transport(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    """An ``httpx.MockTransport`` whose answers are checked as ``check_answer`` does."""

    def checked(request: httpx.Request) -> httpx.Response:
        response = answer(request)
        payload = response.json() if response.content else None
        check_answer(request.method, request.url.path, response.status_code, payload)
        return response

    return httpx.MockTransport(checked)


@contextmanager
def checked_fake_api(route: Callable[[Seen], Reply]) -> Iterator[FakeApi]:
    """``fake_api(route)`` whose answers are checked (``PaddleAnswers``): the block
    fails if the fake answered anything Paddle does not send."""
    answers = PaddleAnswers(route)
    with fake_api(answers) as running:
        yield running
    assert answers.problems == []

"""GET /asyncapi.json (issue 12): the AsyncAPI document of the broker traffic, served
without a key like /openapi.json, names every catalogue type and every inbound command,
and each payload is, once its references are followed, the type's JSON Schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from faststream.specification.asyncapi.v3_0_0.schema.schema import ApplicationSchema

from api.app import create_app
from api.asyncapi import command_schema
from api.inbound.messages import MESSAGE_TYPES
from api.integration_events import event_schema
from api.settings import Settings
from projections.integration_catalog import CATALOG

Document = dict[str, Any]


@pytest.fixture(scope="module")
def document(pg_url: str) -> Document:
    # No lifespan (no database): the document is built from the catalogue alone.
    http = TestClient(create_app(settings=Settings(database_url=pg_url)))
    response = http.get("/asyncapi.json")  # no Authorization header
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    parsed: Document = json.loads(response.content)
    return parsed


def resolve(node: Any, root: Document, seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every ``$ref`` (``#/...`` into ``root``) replaced by what it names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/"), ref
            assert ref not in seen, f"a reference loop through {ref}"
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]  # KeyError: a reference to nothing
            return resolve(target, root, (*seen, ref))
        return {key: resolve(value, root, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, root, seen) for item in node]
    return node


def inlined(schema: Document) -> Any:
    """A standalone JSON Schema with its own ``$defs`` followed, ``$defs`` and ``$id`` gone."""
    return resolve({k: v for k, v in schema.items() if k not in ("$defs", "$id")}, schema)


def test_the_document_is_asyncapi_3_and_every_reference_in_it_resolves(document: Document) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"]
    resolve(document, document)  # raises on a dangling reference
    # FastStream's own model of an AsyncAPI 3.0 document reads it (channels, operations,
    # messages, bindings), as an AsyncAPI tool would.
    read = ApplicationSchema.model_validate(document)
    assert set(read.channels) == set(document["channels"])
    assert set(read.operations) == set(document["operations"])


def test_every_catalogue_type_is_a_channel_tally_sends_with_its_json_schema(
    document: Document,
) -> None:
    channels = document["channels"]
    for event_type in CATALOG:
        name = event_type.name
        assert channels[name]["address"] == name
        assert channels[name]["bindings"]["amqp"]["exchange"]["type"] == "topic"
        operation = document["operations"][f"send.{name}"]
        assert operation["action"] == "send"
        message = resolve(operation["messages"][0], document)
        assert message["contentType"] == "application/json"
        assert resolve(message["payload"], document) == inlined(event_schema(name))
        assert message["headers"]["properties"]["message_id"]["pattern"]
    published = {n for n, c in channels.items() if n.startswith("billing.")}
    assert published == {t.name for t in CATALOG}


def test_every_inbound_command_is_a_message_tally_receives_with_its_schema(
    document: Document,
) -> None:
    channel = document["channels"]["commands"]
    assert channel["address"] == "tally.commands.{projectId}"
    operation = document["operations"]["receive.commands"]
    assert operation["action"] == "receive"
    received = [resolve(m, document) for m in operation["messages"]]
    assert [m["name"] for m in received] == list(MESSAGE_TYPES)
    for message in received:
        payload = resolve(message["payload"], document)
        assert payload == inlined(command_schema(message["name"]))
        assert payload["properties"]["type"]["const"] == message["name"]
    user_subscribed = resolve(received[0]["payload"], document)
    assert "userId" in user_subscribed["properties"]["data"]["properties"]


def test_the_commands_size_limit_and_wallet_deposits_one_wallet_rule_are_stated(
    document: Document,
) -> None:
    from domain.limits import MAX_INBOUND_MESSAGE_BYTES

    channel = document["channels"]["commands"]
    assert f"at most {MAX_INBOUND_MESSAGE_BYTES} bytes" in channel["description"]
    operation = document["operations"]["receive.commands"]
    received = {m["name"]: m for m in (resolve(r, document) for r in operation["messages"])}
    for message in received.values():
        assert message["x-max-bytes"] == MAX_INBOUND_MESSAGE_BYTES
        assert "payload_too_large" in message["description"]
    payload = resolve(received["wallet.deposit"]["payload"], document)
    data = resolve(payload["properties"]["data"], document)
    assert [b["required"] for b in data["oneOf"]] == [["userId"], ["accountId"]]


def test_the_headers_stated_are_the_headers_sent(document: Document) -> None:
    from adapters.broker import Outgoing

    sent = Outgoing(id="evt_" + "0" * 32, type="t", project_id="p", position=7, body=b"", ordinal=1)
    stated = document["components"]["messages"]["billing.customer.created"]["headers"]
    assert set(stated["required"]) == set(stated["properties"]) == set(sent.headers())

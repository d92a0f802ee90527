"""The AsyncAPI document (3.0) of Tally's broker traffic, served at ``GET /asyncapi.json``
beside ``/openapi.json`` and, like it, without authentication (issue 12).

It is built from the same sources as the traffic, so it cannot drift from it:

- one channel per type of the integration-event catalogue
  (``projections.integration_catalog.CATALOG``), whose address is the type (the routing
  key on the RabbitMQ topic exchange), with the type's JSON Schema as its payload
  (``api.integration_events.event_schema``, the schema docs/events.md lists), and an
  operation in which Tally sends it;
- the commands channel ``tally.commands.{projectId}`` and one message per inbound type
  (``api.inbound.messages.MESSAGE_TYPES``), with an operation in which Tally receives
  them.

Each JSON Schema's ``$defs`` are hoisted into ``components.schemas`` and its references
rewritten to point there (a reference is resolved against the whole document), so a
payload reads exactly as the JSON Schema it came from. FastStream can generate AsyncAPI
for its own subscribers and publishers, but Tally publishes through ``publish_batch``,
not a declared publisher, and its payloads are the catalogue's JSON Schemas: building
the document from the catalogue says the same with fewer moving parts.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, create_model

from adapters.broker import DEFAULT_NAME
from api.inbound.messages import MESSAGE_TYPES
from api.inbound.queues import PREFIX as COMMANDS_PREFIX
from api.integration_events import event_schema
from commands.limits_types import Id
from domain.limits import MAX_INBOUND_MESSAGE_BYTES
from projections.integration_catalog import API_VERSION, CATALOG

ASYNCAPI_URL = "/asyncapi.json"
SCHEMAS = "#/components/schemas/"
COMMANDS_CHANNEL = "commands"
# The size limit of a command (domain/limits/), stated on the channel and each message
# (and as ``x-max-bytes``, for tools): AsyncAPI has no keyword for a body's size.
SIZE_RULE = (
    f"A message is at most {MAX_INBOUND_MESSAGE_BYTES} bytes "
    f"({MAX_INBOUND_MESSAGE_BYTES // 1024} KiB) of UTF-8 JSON; a larger one is "
    "dead-lettered unread (payload_too_large)."
)

# What every published message carries beside its body (adapters.broker.Outgoing).
EVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message_id": {"type": "string", "pattern": r"^evt_[0-9a-f]{32}$",
                       "description": "The envelope's id (also the AMQP message_id)"},
        "project_id": {"type": "string", "format": "uuid"},
        "event_type": {"type": "string", "description": "The envelope's type"},
        "position": {"type": "string", "pattern": r"^[1-9][0-9]*$",
                     "description": "The envelope's position, in decimal"},
        "ordinal": {"type": "string", "pattern": r"^(0|[1-9][0-9]*)$",
                    "description": "The envelope's ordinal at that position, in decimal"},
    },
    "required": ["message_id", "project_id", "event_type", "position", "ordinal"],
}  # fmt: skip


def install(app: FastAPI) -> None:
    """Serve the document at ``ASYNCAPI_URL`` (built once, on the first request)."""

    @app.get(ASYNCAPI_URL, include_in_schema=False)
    def asyncapi(request: Request) -> JSONResponse:
        tally = request.app.state.tally
        exchange = tally.settings.broker_exchange if tally is not None else DEFAULT_NAME
        return JSONResponse(asyncapi_document(exchange))


@cache
def asyncapi_document(exchange: str = DEFAULT_NAME) -> dict[str, Any]:
    """The whole document; ``exchange`` is the RabbitMQ exchange (or Redis stream) the
    events go to (``TALLY_BROKER_EXCHANGE``)."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for event_type in CATALOG:
        name = event_type.name
        payload = hoist(event_schema(name), schemas)
        messages[name] = {
            "name": name,
            "title": name,
            "summary": event_type.description,
            "contentType": "application/json",
            "headers": EVENT_HEADERS,
            "payload": payload,
        }
        channels[name] = {
            "address": name,
            "description": f"{event_type.description} The routing key on the {exchange} "
            "topic exchange (RabbitMQ); on Redis every type is in the stream "
            f"{exchange}, in log order.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"amqp": _exchange_binding(exchange)},
        }
        operations[f"send.{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        }
    _add_commands(schemas, messages, channels, operations)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tally integration events and commands",
            "version": API_VERSION,
            "description": "What Tally publishes to TALLY_BROKER_URL (billing.* integration "
            "events, at least once, in log order, the envelope's id as message id) and the "
            "commands it consumes from each project's queue. docs/events.md explains both.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _exchange_binding(exchange: str) -> dict[str, Any]:
    return {
        "is": "routingKey",
        "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False},
        "bindingVersion": "0.3.0",
    }


def _add_commands(
    schemas: dict[str, Any],
    messages: dict[str, Any],
    channels: dict[str, Any],
    operations: dict[str, Any],
) -> None:
    """The inbound channel and one message per command type."""
    names = []
    for message_type in MESSAGE_TYPES:
        name = f"command.{message_type}"
        names.append(name)
        messages[name] = {
            "name": message_type,
            "title": message_type,
            "description": SIZE_RULE,
            "contentType": "application/json",
            "payload": hoist(command_schema(message_type), schemas),
            "x-max-bytes": MAX_INBOUND_MESSAGE_BYTES,
        }
    channels[COMMANDS_CHANNEL] = {
        "address": COMMANDS_PREFIX + ".{projectId}",
        "description": "A project's commands: the project is the queue (RabbitMQ: publish "
        "to the fanout exchange of that name; Redis: XADD to the stream of that name, the "
        "message in the field __data__). Refused messages go to the same name + .dead. "
        + SIZE_RULE,
        "parameters": {"projectId": {"description": "The project's id (a UUID)"}},
        "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
    }
    operations["receive.commands"] = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{COMMANDS_CHANNEL}"},
        "messages": [{"$ref": f"#/channels/{COMMANDS_CHANNEL}/messages/{n}"} for n in names],
    }


def command_model(message_type: str) -> type[BaseModel]:
    """The pydantic model of one inbound message: its id, its type fixed, its data."""
    data = MESSAGE_TYPES[message_type]
    suffix = "".join(part.title() for part in message_type.replace("_", ".").split("."))
    model: type[BaseModel] = create_model(
        f"{suffix}Command",
        __config__=ConfigDict(extra="forbid"),
        id=(Id, ...),
        type=(Literal[message_type], ...),  # type: ignore[valid-type,arg-type]
        data=(data, ...),
    )
    return model


def command_schema(message_type: str) -> dict[str, Any]:
    """The JSON Schema of one inbound message (field names as the producer writes them:
    camelCase)."""
    schema: dict[str, Any] = command_model(message_type).model_json_schema(by_alias=True)
    return schema


def hoist(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Put ``schema`` and its ``$defs`` into ``schemas`` (component schemas), with every
    reference pointing there; the reference to ``schema`` itself. A name already there
    must hold the same schema (one model, used by several types)."""
    body = {k: v for k, v in schema.items() if k not in ("$defs", "$id")}
    found = {**schema.get("$defs", {}), schema["title"]: body}
    for name, definition in found.items():
        rewritten = _rewrite(definition)
        assert schemas.setdefault(name, rewritten) == rewritten, f"two schemas named {name}"
    return {"$ref": SCHEMAS + schema["title"]}


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: value.replace("#/$defs/", SCHEMAS)
            if key == "$ref" and isinstance(value, str)
            else _rewrite(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    return node

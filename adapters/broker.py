"""The message broker named by ``TALLY_BROKER_URL`` (issue 12), built with FastStream.

- ``amqp://`` (or ``amqps://``): RabbitMQ. Integration events go to one durable topic
  exchange (``TALLY_BROKER_EXCHANGE``, ``tally.events`` by default) with the event type as
  routing key, as persistent messages, under publisher confirms: a publish returns once
  the broker has taken the message (and, for a durable queue, written it).
- ``redis://`` (or ``rediss://``): Redis Streams. Every integration event goes to one
  stream of that same name, all projects in it, in log order; the project is in the
  message (the envelope's ``project_id`` and a header). One stream, not one per project,
  so that the one order of the log is the stream's order and a consumer of every project
  reads one stream; a consumer that wants one project filters on the header.

Either way a message carries the envelope (JSON) as its body, the envelope's stable id
as its message id (AMQP ``message_id``; on Redis the ``message_id`` header, which
FastStream's consumers read as the message id), and the headers ``project_id``,
``event_type``, ``position`` and ``ordinal``.

What this module gives (the publisher, ``adapters.broker_publisher``, and the inbound
consumer build on it; keep it small and stable):

- ``BrokerTarget.parse(url, name)``: the kind of broker and where, checked at start.
- ``target.make_broker()``: a FastStream ``RabbitBroker`` or ``RedisBroker``, not yet
  connected (``await broker.connect()``; ``await broker.stop()`` at the end).
- ``target.destination``: the target without credentials, the key of the publisher's
  tracking row.
- ``events_exchange(name)``: the RabbitMQ exchange as FastStream declares it.
- ``Outgoing`` and ``publish_batch(broker, target, messages)``: publish messages in order
  and return once every one of them is confirmed (RabbitMQ) or written (Redis);
  ``send_batch`` the same in two steps (sent, then confirmed), for batches in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

# FastStream and aio-pika are imported where a broker is made or used, not with this
# module: the settings and every CLI command import it, and the two libraries were a
# third of the CLI's start-up (0.7 of 1.9 s CPU for `import api.cli`).
if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker, RabbitExchange
    from faststream.redis import RedisBroker

log = logging.getLogger("tally.broker")

Kind = Literal["rabbit", "redis"]
SCHEMES: dict[str, Kind] = {
    "amqp": "rabbit",
    "amqps": "rabbit",
    "redis": "redis",
    "rediss": "redis",
}
DEFAULT_NAME = "tally.events"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
# How long a publish may wait for the broker's confirmation before the batch fails (and
# is sent again on the next pass, with the same ids).
CONFIRM_TIMEOUT_S = 30.0
CONTENT_TYPE = "application/json"


class BrokerUrlInvalid(ValueError):
    """``TALLY_BROKER_URL`` names no broker Tally can talk to."""


@dataclass(frozen=True)
class BrokerTarget:
    kind: Kind
    url: str
    name: str  # the RabbitMQ exchange, or the Redis stream

    @classmethod
    def parse(cls, url: str, name: str = DEFAULT_NAME) -> BrokerTarget:
        """The broker ``url`` names; ``BrokerUrlInvalid`` (never quoting the URL, which may
        hold a password) for a scheme Tally does not know or a URL without a host."""
        parts = urlsplit(url)
        kind = SCHEMES.get(parts.scheme)
        if kind is None:
            known = ", ".join(f"{s}://" for s in SCHEMES)
            raise BrokerUrlInvalid(f"the broker URL must start with one of {known}")
        if not parts.hostname:
            raise BrokerUrlInvalid("the broker URL has no host")
        return cls(kind=kind, url=url, name=name)

    @property
    def destination(self) -> str:
        """Where messages go, without user or password: ``rabbit://host:port/vhost#name``."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{self.kind}://{parts.hostname}{port}{parts.path or '/'}#{self.name}"

    def make_broker(self) -> RabbitBroker | RedisBroker:
        """A FastStream broker for this target, not connected yet. FastStream's own log
        lines go to ``tally.broker`` at debug level: Tally logs what it does itself."""
        from faststream.rabbit import RabbitBroker
        from faststream.redis import RedisBroker

        if self.kind == "rabbit":
            # Publisher confirms are FastStream's default channel setting (Channel()).
            return RabbitBroker(self.url, logger=log, log_level=logging.DEBUG)
        return RedisBroker(self.url, logger=log, log_level=logging.DEBUG)


def events_exchange(name: str) -> RabbitExchange:
    """The durable topic exchange integration events go to (routing key: the type)."""
    from faststream.rabbit import ExchangeType, RabbitExchange

    return RabbitExchange(name, type=ExchangeType.TOPIC, durable=True)


async def declare(broker: RabbitBroker | RedisBroker, target: BrokerTarget) -> None:
    """Make sure the destination exists (RabbitMQ: declare the exchange; a Redis stream
    is made by its first message). Idempotent; call after ``connect``."""
    from faststream.rabbit import RabbitBroker

    if isinstance(broker, RabbitBroker):
        await broker.declare_exchange(events_exchange(target.name))


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: the envelope's id, its type (the routing key), its
    project, its log position and ordinal (the outbox's key) and its body (the envelope
    as JSON)."""

    id: str
    type: str
    project_id: str
    position: int
    body: bytes
    ordinal: int = 0

    def headers(self) -> dict[str, Any]:
        return {
            "message_id": self.id,
            "project_id": self.project_id,
            "event_type": self.type,
            "position": str(self.position),
            "ordinal": str(self.ordinal),
        }


async def publish_batch(
    broker: RabbitBroker | RedisBroker, target: BrokerTarget, messages: Sequence[Outgoing]
) -> None:
    """Publish ``messages`` in their order; returns once all are confirmed (RabbitMQ) or
    written (Redis), raises if any is not (the caller sends the batch again)."""
    await (await send_batch(broker, target, messages))


async def send_batch(
    broker: RabbitBroker | RedisBroker, target: BrokerTarget, messages: Sequence[Outgoing]
) -> Awaitable[None]:
    """Put ``messages`` on their way, in order after every batch sent before; what to
    await for the broker's word on them (it raises if any is not confirmed). On RabbitMQ
    the batch is on the wire when this returns and its confirmations are awaited after,
    so several batches can be in flight; on Redis it is written when this returns."""
    from faststream.rabbit import RabbitBroker

    if not messages:
        return asyncio.sleep(0)
    if isinstance(broker, RabbitBroker):
        return await _send_rabbit(broker, target, messages)
    await _publish_redis(broker, target, messages)
    return asyncio.sleep(0)  # written: nothing left to wait for


async def _send_rabbit(
    broker: RabbitBroker, target: BrokerTarget, messages: Sequence[Outgoing]
) -> Awaitable[None]:
    # FastStream connects, opens the confirming channel and declares the exchange (cached
    # by FastStream); the batch is published on the AMQP channel underneath, in one write
    # (``adapters.amqp_batch``: why, and what it keeps). Through ``broker.publish`` each
    # message cost about 40 µs of CPU more than through aio-pika's ``exchange.publish``,
    # and that one about 75 µs more than the batch write.
    from pamqp import commands as spec

    from adapters import amqp_batch

    exchange = await broker.declare_exchange(events_exchange(target.name))
    channel = await exchange.channel.get_underlay_channel()
    batch = [
        amqp_batch.Publish(
            routing_key=m.type,
            body=m.body,
            properties=spec.Basic.Properties(
                content_type=CONTENT_TYPE,
                delivery_mode=amqp_batch.PERSISTENT,
                message_id=m.id,
                headers=m.headers(),
            ),
        )
        for m in messages
    ]
    # Not ``mandatory``: an event nobody has bound a queue for is dropped, not an error.
    confirmations = await amqp_batch.send(channel, target.name, batch)
    return amqp_batch.confirmed(confirmations, CONFIRM_TIMEOUT_S)


async def _publish_redis(
    broker: RedisBroker, target: BrokerTarget, messages: Sequence[Outgoing]
) -> None:
    # One pipeline (MULTI/EXEC): the batch's XADDs reach Redis together, in order.
    client = await broker.connect()  # the connected client (connects once)
    async with client.pipeline() as pipe:
        for m in messages:
            headers = {**m.headers(), "content-type": CONTENT_TYPE}
            await broker.publish(m.body, stream=target.name, headers=headers, pipeline=pipe)
        await pipe.execute()

"""A batch of messages published on one AMQP channel under publisher confirms, written to
the connection as one piece: the broker publisher's hot path to RabbitMQ (issue 12).

FastStream stays the broker API (``adapters.broker``): it connects, opens the confirming
channel, declares the exchange and describes it in the AsyncAPI document. Only the
publishing of a batch goes below it, to the aiormq channel aio-pika runs on, because the
per-message path costs more client CPU than the broker's own work. Publishing 20,000
messages of 600 bytes to a durable queue on this project's 2-core box (load 9, one run
after the other): aiormq's ``basic_publish`` per message, all queued before any
confirmation is awaited, 110 µs of CPU per message; this module, 36 µs. Per message,
``basic_publish`` makes a task, a timeout scope, a trip through the channel's lock and
the connection's write queue and one socket write; here the batch's frames are built in
one loop and handed to the connection's writer as one write.

It keeps what ``basic_publish`` guarantees:

- **Order.** The whole batch's frames are queued under the channel's lock in the batch's
  order as one frame of bytes; the broker keeps a channel's order.
- **Confirmation.** Each message gets the channel's next delivery tag and a future in the
  channel's ``confirmations``, which aiormq's confirm handler resolves (``Basic.Ack``) or
  fails (``Basic.Nack``: ``DeliveryError``), one by one or ``multiple``. The futures
  belong to the channel, so a channel or connection that closes fails them.
  ``confirmed`` (and ``publish``, which is ``send`` then ``confirmed``) returns once every
  one is acknowledged and raises if any is not, or if they do not all come within
  ``timeout_s``: the caller sends the batch again (same message ids). ``send`` returns
  once the batch is queued, so the next batch can follow it before it is confirmed (the
  broker publisher keeps three in flight).
- **Nothing numbered that was not sent.** Tags and futures are registered only with the
  write; if queueing the write fails or is cancelled, they are taken back under the lock.
- **Large bodies** are split into content frames of the connection's ``frame_max``.

What it relies on in aiormq 7 (pinned in ``pyproject.toml``):
the channel's ``lock``, ``delivery_tag``, ``confirmations``, ``create_future``,
``number``, ``max_content_size``, ``publisher_confirms`` and ``write_queue``, and
``aiormq.abc.ChannelFrame``; the frames themselves are pamqp's. ``tests/integration/
test_amqp_batch.py`` checks order, properties, large bodies and the tags against a real
RabbitMQ, and the publisher's own tests (kill -9 included) run through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pamqp.frame
from aiormq.abc import ChannelFrame
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

PERSISTENT = 2  # AMQP delivery mode: a durable queue writes the message to disk


@dataclass(frozen=True)
class Publish:
    """One message: where it goes (the exchange's routing key), its body, and its
    properties (``spec.Basic.Properties``: message id, content type, headers, ...)."""

    routing_key: str
    body: bytes
    properties: spec.Basic.Properties


def _frames(channel: Any, exchange: str, message: Publish) -> list[bytes]:
    number: int = channel.number
    frames = [
        pamqp.frame.marshal(
            spec.Basic.Publish(exchange=exchange, routing_key=message.routing_key), number
        ),
        pamqp.frame.marshal(ContentHeader(0, len(message.body), message.properties), number),
    ]
    size: int = channel.max_content_size
    for start in range(0, len(message.body), size):
        frames.append(pamqp.frame.marshal(ContentBody(message.body[start : start + size]), number))
    return frames


async def publish(
    channel: Any, exchange: str, messages: Sequence[Publish], timeout_s: float
) -> None:
    """Publish ``messages`` to ``exchange`` in order on ``channel`` (an aiormq channel in
    confirm mode); returns once the broker acknowledged every one."""
    await confirmed(await send(channel, exchange, messages), timeout_s)


async def confirmed(confirmations: Sequence[asyncio.Future[Any]], timeout_s: float) -> None:
    """Returns once every one of ``send``'s confirmations is an acknowledgement; raises
    for a nack, a closed channel, or when they do not all come within ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        await asyncio.gather(*confirmations)


async def send(
    channel: Any, exchange: str, messages: Sequence[Publish]
) -> list[asyncio.Future[Any]]:
    """Queue ``messages`` for the connection's writer, in order after everything queued
    on the channel before; their confirmations (await them with ``confirmed``). Two
    batches sent one after the other are on the wire in that order."""
    if not channel.publisher_confirms:
        raise RuntimeError("the channel does not confirm publishes: nothing would be known")
    if not messages:
        return []
    payload = b"".join(frame for m in messages for frame in _frames(channel, exchange, m))
    confirmations: list[asyncio.Future[Any]] = []
    async with channel.lock:  # raises if the channel is closed
        first = channel.delivery_tag + 1
        for tag in range(first, first + len(messages)):
            confirmation = channel.create_future()
            channel.confirmations[tag] = confirmation
            confirmations.append(confirmation)
        channel.delivery_tag = first + len(messages) - 1
        try:
            await channel.write_queue.put(ChannelFrame(payload=payload, should_close=False))
        except BaseException:
            # Not queued, so never sent: the tags are given back for the next publish.
            channel.delivery_tag = first - 1
            for tag, confirmation in enumerate(confirmations, start=first):
                channel.confirmations.pop(tag, None)
                confirmation.cancel()
            raise
    return confirmations

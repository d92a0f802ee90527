"""Where a project's commands arrive and where its dead letters go: the trust model of
commands in (issue 12).

A message never names its project: **its project is the queue it arrived on**, and the
queue is named from the project id. Who may put a message there is the broker's
business, granted per project by its operator:

- RabbitMQ: producers publish to the project's **exchange** ``tally.commands.<project
  id>`` (a durable fanout exchange bound to the durable queue of the same name). Write
  permission on that exchange, and no other (``rabbitmqctl set_permissions -p VHOST
  product '' '^tally\\.commands\\.<project id>$' ''``), lets a product's user send
  commands to its project only. (Publishing to the queue through the default exchange
  would need write permission on the default exchange, which every queue shares: do not
  grant it.)
- Redis: producers ``XADD`` to the stream ``tally.commands.<project id>``; a Redis ACL
  user limited to that key (``ACL SETUSER product on >pw ~tally.commands.<project id>
  +xadd``) sends commands to its project only.

Tally itself declares the queue, exchange, stream and consumer group of every project
it knows (``api/inbound/consumer.py``), and their dead-letter queue (RabbitMQ) or stream
(Redis), ``tally.commands.<project id>.dead``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

# Imported where used: the CLI imports this module for the names, and FastStream is a
# third of the CLI's start-up (adapters/broker.py).
if TYPE_CHECKING:
    from faststream.rabbit import RabbitExchange, RabbitQueue

PREFIX = "tally.commands"
DEAD_SUFFIX = ".dead"
# Redis: the consumer group every Tally process reads a project's stream in, so each
# message goes to one of them.
GROUP = "tally"


def queue_name(project_id: UUID) -> str:
    return f"{PREFIX}.{project_id}"


def dead_letter_name(project_id: UUID) -> str:
    return queue_name(project_id) + DEAD_SUFFIX


def commands_exchange(project_id: UUID) -> RabbitExchange:
    """The exchange a project's producers publish to (RabbitMQ)."""
    from faststream.rabbit import ExchangeType, RabbitExchange

    return RabbitExchange(queue_name(project_id), type=ExchangeType.FANOUT, durable=True)


def commands_queue(project_id: UUID) -> RabbitQueue:
    """The queue Tally consumes a project's commands from (RabbitMQ)."""
    from faststream.rabbit import RabbitQueue

    return RabbitQueue(queue_name(project_id), durable=True)


def dead_letter_queue(project_id: UUID) -> RabbitQueue:
    from faststream.rabbit import RabbitQueue

    return RabbitQueue(dead_letter_name(project_id), durable=True)

"""A running Tally: what the composition root (``api.bootstrap.build``) hands to the
server, the CLI, the background loops and the tests.

It has a module of its own so that every part of ``api`` can name it without importing
the composition root, which imports those parts to wire them (no import cycle).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from adapters.broker_publisher import BrokerPublisher
from adapters.database import Target
from adapters.eventstore import TallyStore
from adapters.outbox import Outbox
from adapters.webhook_delivery import WebhookDelivery
from api.settings import Settings
from commands.bus import CommandBus, Context, Outcome, Reply
from commands.messages import Command
from domain.clock import Clock

log = logging.getLogger("tally")

# Commands issued by the CLI and by Tally itself carry this as their project until the
# project exists (creating a project), and "cli"/"system" as their actor.
NO_PROJECT = UUID(int=0)


@dataclass
class Tally:
    settings: Settings
    target: Target
    store: TallyStore
    bus: CommandBus
    clock: Clock
    views: ConnectionPool[Any]
    closers: list[Any] = field(default_factory=list)
    # Payment providers (issue 5): the provider of each project, and the outbox worker
    # that makes provider calls and applies provider events after their commit.
    providers: Any = None
    outbox: Outbox = field(init=False)  # set by build(), right after the rest
    # Webhook delivery (issue 12): integration events to the projects' endpoints.
    webhooks: WebhookDelivery = field(init=False)
    # The broker publisher (issue 12): integration events to TALLY_BROKER_URL, if set.
    broker: BrokerPublisher | None = None

    @property
    def schema(self) -> str:
        return self.settings.db_schema

    def execute(self, command: Command, context: Context) -> Outcome:
        return self.bus.execute(command, context)

    def submit(self, command: Command, context: Context, on_done: Callable[[Reply], None]) -> Reply:
        return self.bus.submit(command, context, on_done)

    def try_submit(
        self, command: Command, context: Context, on_done: Callable[[Reply], None]
    ) -> Reply | None:
        return self.bus.try_submit(command, context, on_done)

    def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:  # closing must go on whatever one part says
                log.exception("error while closing")
        self.bus.close()
        self.views.close()
        self.store.close()

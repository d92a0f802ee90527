"""The consumer of commands in (issue 12): takes each project's messages from its queue
(``api/inbound/queues.py``), runs them (``api/inbound/handling.py``) and acknowledges
each one only after what it did is committed, or after its dead letter is out.

It runs on the server's event loop (the app's lifespan starts and stops it when
``TALLY_BROKER_URL`` is set); the commands run on threads, as an ``async`` route's do.

- **Which queues.** Every project of the ``projects`` read model, looked up at start and
  every ``refresh_s`` seconds, so a new project's queue is consumed soon after it exists.
- **Order.** A project's messages are handled one at a time, in the order they arrived
  (a lock per project); projects do not wait for each other. With several server
  processes consuming, each message goes to one of them, and order holds per process.
- **Acknowledgement.** Manual: a message is acknowledged once its commands are
  committed, or once it is dead-lettered. A crash before that leaves it unacknowledged:
  RabbitMQ redelivers it, and on Redis another consumer claims it once it has been
  pending for ``claim_idle_ms`` (the group's second reader, ``XAUTOCLAIM``). Handling it
  again has no further effect (idempotency keys from the message id).
- **Verdicts** (``api/inbound/verdicts.py``): a failure of the moment keeps the message
  and tries it again every ``retry_pause_s`` (its project's later messages wait behind
  it, so order holds); a refusal dead-letters it with its reason and moves on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.redis import RedisBroker, StreamSub
from redis.exceptions import ResponseError

from adapters.broker import BrokerTarget
from api.errors import PayloadTooLarge
from api.inbound import queues
from api.inbound.handling import ACTOR, handle
from api.inbound.messages import message_id_of, message_type_of, parse
from api.inbound.verdicts import Action, Verdict, verdict_for
from api.tally import Tally
from commands.bus import Context as CommandContext
from commands.inbound_commands import RejectInboundCommand
from domain.errors import NotFound
from domain.limits import MAX_DESCRIPTION_CHARS, MAX_INBOUND_MESSAGE_BYTES, plain_text

log = logging.getLogger("tally.inbound")

# FastStream passes the message itself (its ``ack``) to a parameter with this default.
MESSAGE = Context("message")

# The verdict on a message whose handling failed while the consumer was stopping.
STOPPING = Verdict(Action.RETRY, "service_unavailable", "the consumer is stopping", {})

# Unacknowledged messages a RabbitMQ queue hands this process at once.
PREFETCH = 16


async def raw_body(message: Any) -> bytes:
    """FastStream decoder: the body as it came, bytes; Tally reads it itself."""
    body: bytes = message.body
    return body


class InboundConsumer:
    """Consumes every known project's command queue on one broker connection."""

    def __init__(
        self,
        tally: Tally,
        target: BrokerTarget,
        *,
        refresh_s: float = 5.0,
        retry_pause_s: float = 1.0,
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.tally = tally
        self.target = target
        self.refresh_s = refresh_s
        self.retry_pause_s = retry_pause_s
        self.claim_idle_ms = claim_idle_ms
        self.broker: RabbitBroker | RedisBroker = target.make_broker()
        self.consumer_name = f"tally-{socket.gethostname()}-{os.getpid()}"
        self._locks: dict[UUID, asyncio.Lock] = {}
        self._listening: set[UUID] = set()
        self._modes: dict[UUID, str] = {}  # known projects' modes
        self._stopping = False
        self._refresher: asyncio.Task[None] | None = None
        self._starter: asyncio.Task[None] | None = None
        # Messages acknowledged, and of them dead-lettered (for logs and tests).
        self.handled = 0
        self.dead_lettered = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.connect()
        await self.broker.start()
        await self.refresh()
        self._refresher = asyncio.create_task(self._refresh_loop())

    def start_soon(self) -> None:
        """Start in the background, trying again every ``refresh_s`` while the broker
        cannot be reached: the server starts and answers HTTP whatever the broker does."""
        self._starter = asyncio.create_task(self._start_when_reachable())

    async def _start_when_reachable(self) -> None:
        while not self._stopping:
            try:
                await self.start()
                log.info("consuming commands from %s", self.target.destination)
                return
            except Exception as error:  # any failure to connect: try again later
                log.warning("broker not reachable for commands in (%s); trying again", error)
                await self.broker.stop()
                await asyncio.sleep(self.refresh_s)

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._starter, self._refresher):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.broker.stop()

    async def refresh(self) -> None:
        """Consume the queue of every project not consumed yet."""
        from projections.api_keys import list_projects

        projects = await asyncio.to_thread(list_projects, self.tally.views, self.tally.schema)
        for project in projects:
            project_id = UUID(str(project["id"]))
            self._modes[project_id] = str(project["mode"])
            await self.listen(project_id)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception:  # the next round tries again; consumed queues go on
                log.exception("looking for new projects' command queues failed")

    def listens(self, project_id: UUID) -> bool:
        """Whether the project's queue is consumed."""
        return project_id in self._listening

    async def listen(self, project_id: UUID) -> None:
        """Declare the project's queue and dead-letter queue, and consume the queue."""
        if project_id in self._locks:
            return
        self._locks[project_id] = asyncio.Lock()

        async def on_message(body: bytes, message: Any = MESSAGE) -> None:
            await self.receive(project_id, body, message.ack)

        try:
            if isinstance(self.broker, RabbitBroker):
                await self._listen_rabbit(self.broker, project_id, on_message)
            else:
                await self._listen_redis(self.broker, project_id, on_message)
        except BaseException:
            del self._locks[project_id]  # the next refresh tries again
            raise
        self._listening.add(project_id)

    async def _listen_rabbit(
        self, broker: RabbitBroker, project_id: UUID, on_message: Callable[..., Awaitable[None]]
    ) -> None:
        await broker.declare_queue(queues.dead_letter_queue(project_id))
        subscriber = broker.subscriber(
            queues.commands_queue(project_id),
            queues.commands_exchange(project_id),
            channel=Channel(prefetch_count=PREFETCH),
            ack_policy=AckPolicy.MANUAL,
            decoder=raw_body,
            persistent=False,
        )
        subscriber(on_message)
        await subscriber.start()

    async def _listen_redis(
        self, broker: RedisBroker, project_id: UUID, on_message: Callable[..., Awaitable[None]]
    ) -> None:
        name = queues.queue_name(project_id)
        # The group reads the stream from its start, so that what a producer added
        # before Tally first consumed it (a new project) is read too.
        client = await broker.connect()
        try:
            await client.xgroup_create(name, queues.GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        # New messages, and those another consumer left pending for claim_idle_ms (it
        # died before acknowledging them).
        readers = [
            StreamSub(name, group=queues.GROUP, consumer=self.consumer_name),
            StreamSub(
                name,
                group=queues.GROUP,
                consumer=self.consumer_name,
                min_idle_time=self.claim_idle_ms,
            ),
        ]
        for stream in readers:
            subscriber = broker.subscriber(
                stream=stream, ack_policy=AckPolicy.MANUAL, decoder=raw_body, persistent=False
            )
            subscriber(on_message)
            await subscriber.start()

    # -- one message ---------------------------------------------------------------------

    async def receive(
        self, project_id: UUID, body: bytes, ack: Callable[[], Awaitable[Any]]
    ) -> None:
        """Handle one message of the project's queue and acknowledge it, or leave it
        unacknowledged when stopping with a failure of the moment."""
        async with self._locks[project_id]:
            while True:
                verdict = await asyncio.to_thread(self.process, project_id, body)
                if verdict is None or verdict.action is Action.DEAD_LETTER:
                    break
                log.warning(
                    "command from %s not run yet (%s); trying again",
                    queues.queue_name(project_id),
                    verdict.code,
                )
                if self._stopping:
                    return  # redelivered, or claimed, after the restart
                await asyncio.sleep(self.retry_pause_s)
            if verdict is not None and not await self._dead_letter_until_out(
                project_id, body, verdict
            ):
                return  # stopping: redelivered, or claimed, after the restart
            await ack()
            self.handled += 1

    async def _dead_letter_until_out(self, project_id: UUID, body: bytes, verdict: Verdict) -> bool:
        """Publish the dead letter, trying again while the broker refuses it; False when
        stopping first (the message stays unacknowledged, so nothing is lost)."""
        while True:
            try:
                await self.dead_letter(project_id, body, verdict)
                return True
            except Exception:  # the broker is away: the message waits, as it would retry
                log.exception("dead-lettering a command of %s failed", project_id)
            if self._stopping:
                return False
            await asyncio.sleep(self.retry_pause_s)

    def process(self, project_id: UUID, body: bytes) -> Verdict | None:
        """Run the message; None when it is done, else the verdict on its failure."""
        try:
            mode = self.mode_of(project_id)
        except Exception as error:
            return verdict_for(error)  # no project: nothing to record the refusal in
        try:
            if len(body) > MAX_INBOUND_MESSAGE_BYTES:
                raise PayloadTooLarge(
                    f"the message is larger than {MAX_INBOUND_MESSAGE_BYTES} bytes",
                    max_bytes=MAX_INBOUND_MESSAGE_BYTES,
                )
            handle(self.tally, project_id, mode, parse(body))
            return None
        except Exception as error:
            verdict = verdict_for(error)
            if self._stopping:
                # Shutting down closes what the command ran on: what failed now is not
                # the message's fault. It stays unacknowledged and runs again later.
                return STOPPING
            if verdict.code == "internal_error":
                log.exception("command from %s failed", queues.queue_name(project_id))
        if verdict.action is Action.DEAD_LETTER:
            return self.record_rejection(project_id, body, verdict)
        return verdict

    def mode_of(self, project_id: UUID) -> str:
        """The project's mode (``live``/``test``), or ``not_found``. Known projects are
        kept: a project is never deleted and its mode never changes."""
        from projections.api_keys import get_project

        mode = self._modes.get(project_id)
        if mode is None:
            project = get_project(self.tally.views, self.tally.schema, project_id)
            if project is None:
                raise NotFound(f"no project {project_id}: its queue is no project's")
            mode = self._modes[project_id] = str(project["mode"])
        return mode

    def record_rejection(self, project_id: UUID, body: bytes, verdict: Verdict) -> Verdict:
        """Record the refusal in the project's log (``billing.command.rejected``): the
        dead-letter verdict again, or a retry when the record could not be written now."""
        try:
            self.tally.execute(
                rejection(project_id, body, verdict), CommandContext(project_id, ACTOR)
            )
        except Exception as error:
            failed = verdict_for(error)
            if failed.action is Action.RETRY:
                return failed
            # A refusal that cannot be recorded must still leave the queue.
            log.exception("recording a refused command of %s failed", project_id)
        return verdict

    async def dead_letter(self, project_id: UUID, body: bytes, verdict: Verdict) -> None:
        """Publish the message, with why it was refused, to the dead-letter queue."""
        letter = dead_letter(project_id, body, verdict, self.tally.clock.now())
        headers: dict[str, Any] = {"code": verdict.code, "project_id": str(project_id)}
        name = queues.dead_letter_name(project_id)
        if isinstance(self.broker, RabbitBroker):
            await self.broker.publish(
                letter, queue=name, persist=True, headers=headers, content_type="application/json"
            )
        else:
            await self.broker.publish(letter, stream=name, headers=headers)
        self.dead_lettered += 1
        log.info("dead-lettered a command from %s: %s", queues.queue_name(project_id), verdict.code)


def dead_letter(project_id: UUID, body: bytes, verdict: Verdict, now: datetime) -> bytes:
    """The dead letter of a refused message: why, and the message as it came (as text,
    at most ``MAX_INBOUND_MESSAGE_BYTES`` of it)."""
    return json.dumps(
        {
            "object": "dead_letter",
            "project_id": str(project_id),
            "queue": queues.queue_name(project_id),
            "message_id": message_id_of(body),
            "code": verdict.code,
            "detail": verdict.detail,
            "context": verdict.context,
            "rejected_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "body": body[:MAX_INBOUND_MESSAGE_BYTES].decode("utf-8", "replace"),
        },
        default=str,
    ).encode()


def inbound_consumer(tally: Tally) -> InboundConsumer | None:
    """The consumer ``tally serve`` runs: when a broker is set and ``run_inbound``."""
    target = tally.settings.broker_target()
    if target is None or not tally.settings.run_inbound:
        return None
    return InboundConsumer(tally, target, refresh_s=tally.settings.inbound_refresh_s)


def rejection(project_id: UUID, body: bytes, verdict: Verdict) -> RejectInboundCommand:
    """The command that records a refused message: keyed by its id, or by a hash of its
    bytes when it has no usable id, so a redelivery is recorded once."""
    message_id = message_id_of(body)
    key = message_id or "sha256:" + hashlib.sha256(body).hexdigest()
    # Outside words: control characters (a newline in a parser's message) become spaces,
    # by the one rule every stored outside text goes through.
    detail = plain_text(verdict.detail)[:MAX_DESCRIPTION_CHARS]
    return RejectInboundCommand(
        message_key=key,
        message_id=message_id,
        message_type=message_type_of(body),
        queue=queues.queue_name(project_id),
        code=verdict.code,
        detail=detail,
    )

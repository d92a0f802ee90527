"""``tally broker publish|status``: the broker publisher in the foreground (one process
of its own beside ``tally serve``, or one catch-up from cron) and where it stands
(docs/events.md, Brokers). Both need ``TALLY_BROKER_URL``. ``tally broker queues``
(commands in) is in ``api/cli_inbound.py``."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli_inbound import add_queue_commands


def _publisher(tally: Any) -> Any:
    from api.cli_session import CannotStart

    if tally.broker is None:
        raise CannotStart("TALLY_BROKER_URL is not set: there is no broker to publish to")
    return tally.broker


def cmd_broker_publish(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, wait_for_signal

    with opened() as tally:
        publisher = _publisher(tally)
        if args.once:
            moved = publisher.drain(timeout_s=args.timeout)
            emit(args, {"events": moved, **publisher.status()}, [f"{moved} events published"])
            return EXIT_OK
        publisher.start()
        print(f"publishing to {publisher.target.destination}; stop with Ctrl-C", flush=True)
        try:
            wait_for_signal()
        finally:
            publisher.stop()
        status = publisher.status()
    emit(args, status, [f"stopped at position {status['position']} of {status['head']}"])
    return EXIT_OK


def cmd_broker_status(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened

    with opened() as tally:
        status = _publisher(tally).status()
    behind = status["head"] - status["position"]
    line = f"{status['destination']}  position {status['position']}  head {status['head']}"
    emit(args, status, [f"{line}  ({behind} positions behind)"])
    return EXIT_OK


def add_broker_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    broker = sub.add_parser(
        "broker",
        help="integration events to, and commands from, RabbitMQ or Redis (TALLY_BROKER_URL)",
    ).add_subparsers(dest="action", required=True)
    publish = broker.add_parser(
        "publish", help="publish integration events until stopped", parents=[common]
    )
    publish.add_argument(
        "--once", action="store_true", help="publish everything not yet published, then exit"
    )
    publish.add_argument(
        "--timeout", type=float, default=600.0, help="with --once: give up after this many s"
    )
    publish.set_defaults(func=cmd_broker_publish)
    status = broker.add_parser(
        "status", help="the broker's confirmed position and the log's head", parents=[common]
    )
    status.set_defaults(func=cmd_broker_status)
    add_queue_commands(broker, common)  # commands in (api/cli_inbound.py)

"""``tally webhooks endpoints|deliveries|redeliver|deliver``: a project's webhook
endpoints and delivery attempts, sending one again, and a delivery pass now (docs/events.md),
for operators without an API key at hand."""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID


def cmd_webhooks_endpoints(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
    from projections.webhook_endpoints import list_endpoints

    with opened() as tally:
        sync_read_models(tally)
        rows, _ = list_endpoints(
            tally.views, tally.schema, args.project, limit=1000, starting_after=None
        )
    lines = [
        f"{r['id']}  {r['status']:<8}  {r['url']}  {','.join(r['enabled_events'])}" for r in rows
    ]
    emit(args, rows, lines or ["no webhook endpoints"])
    return EXIT_OK


def cmd_webhooks_deliveries(args: argparse.Namespace) -> int:
    from adapters.webhook_attempts import list_attempts
    from api.cli_session import EXIT_OK, emit, opened

    with opened() as tally:
        rows, _ = list_attempts(
            tally.views, tally.schema, args.project, limit=args.limit, starting_after=None,
            endpoint_id=args.endpoint,
        )  # fmt: skip
    lines = [
        f"{r['id']}  {r['status']:<9}  {r['http_status'] or '-'}  {r['latency_ms']}ms  "
        f"{r['event_type']}  {r['error']}"
        for r in rows
    ]
    emit(args, rows, lines or ["no delivery attempts"])
    return EXIT_OK


def cmd_webhooks_redeliver(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, EXIT_REFUSED, emit, opened, sync_read_models

    with opened() as tally:
        sync_read_models(tally)
        attempt = tally.webhooks.redeliver(args.project, args.delivery_id)
    if attempt is None:
        emit(args, {"error": "not found"}, [f"no delivery {args.delivery_id} in that project"])
        return EXIT_REFUSED
    emit(args, attempt, [f"{attempt['id']}  {attempt['status']}  {attempt['error']}"])
    return EXIT_OK if attempt["status"] == "succeeded" else EXIT_REFUSED


def cmd_webhooks_deliver(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models

    with opened() as tally:
        sync_read_models(tally)
        moved = tally.webhooks.drain()
    emit(args, {"events": moved}, [f"{moved} events sent or skipped"])
    return EXIT_OK


def add_webhook_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    webhooks = sub.add_parser("webhooks", help="webhook endpoints and deliveries").add_subparsers(
        dest="action", required=True
    )
    endpoints = webhooks.add_parser(
        "endpoints", help="list a project's endpoints", parents=[common]
    )
    endpoints.set_defaults(func=cmd_webhooks_endpoints)
    deliveries = webhooks.add_parser(
        "deliveries", help="list a project's delivery attempts", parents=[common]
    )
    deliveries.add_argument("--endpoint", type=UUID, default=None, help="of this endpoint only")
    deliveries.add_argument("--limit", type=int, default=100, help="at most this many (1-1000)")
    deliveries.set_defaults(func=cmd_webhooks_deliveries)
    again = webhooks.add_parser(
        "redeliver", help="send a delivery attempt's event again now", parents=[common]
    )
    again.add_argument("delivery_id", type=UUID, help="the attempt's id")
    again.set_defaults(func=cmd_webhooks_redeliver)
    deliver = webhooks.add_parser(
        "deliver", help="run delivery passes until nothing is due", parents=[common]
    )
    deliver.set_defaults(func=cmd_webhooks_deliver)
    for action in (endpoints, deliveries, again):
        action.add_argument("--project", type=UUID, required=True, help="the project's id")

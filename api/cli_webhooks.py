"""``tally webhooks``: a project's webhook endpoints and their delivery attempts, for
operators without an API key at hand (docs/events.md). Each verb runs the command or the
read of its route (``api/routes/webhook_endpoints.py``, the operator API's
``api/routes/project_webhooks.py``), its options named after the route's body fields, and
``--json`` answers the route's own shapes (the response schemas), so a script can move
between the two.

The signing secret is printed once, by ``create`` and ``rotate-secret``, as the API
answers it once; nothing else shows it and nothing logs it. Every verb answers the
project's not_found first for a project that does not exist, as ``payment-provider show``
does. The writes take ``--idempotency-key`` as the routes take ``Idempotency-Key``; without
one a key is made per invocation and printed if the write fails, so a retried ``create``
after a timeout makes one endpoint and one secret, not two."""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID

from api.cli_session import (
    EXIT_OK,
    EXIT_REFUSED,
    add_idempotency_key,
    emit,
    opened,
    run,
    sync_read_models,
    write_key,
)
from domain.errors import NotFound

NEEDS = ("webhook_endpoints",)
SHOWN_ONCE = "Store the secret now: Tally shows it only in this answer."


def _endpoint_json(body: dict[str, Any]) -> dict[str, Any]:
    from api.schemas.webhook_endpoints import WebhookEndpoint, WebhookEndpointWithSecret

    shape = WebhookEndpointWithSecret if "secret" in body else WebhookEndpoint
    return shape.model_validate(body).model_dump(mode="json")


def _endpoint_line(e: dict[str, Any]) -> str:
    return f"{e['id']}  {e['status']:<8}  {e['url']}  {','.join(e['enabled_events'])}"


def _emit_endpoint(args: argparse.Namespace, body: dict[str, Any]) -> int:
    shown = _endpoint_json(body)
    lines = [_endpoint_line(shown)]
    if shown.get("previous_secret_expires_at"):
        lines.append(f"the previous secret signs too until {shown['previous_secret_expires_at']}")
    if "secret" in shown:
        lines += [f"secret  {shown['secret']}", SHOWN_ONCE]
    emit(args, shown, lines)
    return EXIT_OK


def _write(args: argparse.Namespace, command: Any) -> int:
    """Run ``command`` in the project, bring the endpoints' read model up to it, and
    answer the endpoint (with its new secret, opened, when the command made one)."""
    from api.routes.webhook_endpoints import with_secret
    from commands.webhook_endpoints import CreateWebhookEndpoint, RotateWebhookSecret

    with write_key(args) as key, opened() as tally:
        _require_project(tally, args.project)
        outcome = run(tally, command, args.project, key)
        sync_read_models(tally, outcome.position)
        if isinstance(command, CreateWebhookEndpoint | RotateWebhookSecret):
            body = with_secret(tally, outcome).body
        else:
            body = outcome.body["webhook_endpoint"]
    return _emit_endpoint(args, body)


def _event_types(text: str) -> list[str]:
    """``--enabled-events``: TYPE[,TYPE...] (the catalogue's ``billing.*`` types, or *)."""
    return [t.strip() for t in text.split(",") if t.strip()]


def cmd_webhooks_create(args: argparse.Namespace) -> int:
    from commands.webhook_endpoints import CreateWebhookEndpoint

    fields: dict[str, Any] = {"url": args.url, "description": args.description}
    if args.enabled_events is not None:
        fields["enabled_events"] = args.enabled_events
    return _write(args, CreateWebhookEndpoint.model_validate(fields))


def cmd_webhooks_update(args: argparse.Namespace) -> int:
    from commands.webhook_endpoints import UpdateWebhookEndpoint

    command = UpdateWebhookEndpoint(
        endpoint_id=args.endpoint_id,
        url=args.url,
        enabled_events=args.enabled_events,
        description=args.description,
        status=args.status,
    )
    return _write(args, command)


def cmd_webhooks_rotate_secret(args: argparse.Namespace) -> int:
    from commands.webhook_endpoints import RotateWebhookSecret

    command = RotateWebhookSecret(
        endpoint_id=args.endpoint_id, previous_expires_in_s=args.previous_expires_in_s
    )
    return _write(args, command)


def cmd_webhooks_delete(args: argparse.Namespace) -> int:
    from commands.webhook_endpoints import DeleteWebhookEndpoint

    return _write(args, DeleteWebhookEndpoint(endpoint_id=args.endpoint_id))


def _require_project(tally: Any, project_id: UUID) -> None:
    from api.routes.projects import require_project

    require_project(tally, project_id)  # as the operator API: 404 before anything else


def _found_endpoint(tally: Any, project_id: UUID, endpoint_id: UUID) -> dict[str, Any]:
    from projections.webhook_endpoints import get_endpoint

    found = get_endpoint(tally.views, tally.schema, project_id, endpoint_id)
    if found is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found", id=str(endpoint_id))
    return found


def cmd_webhooks_show(args: argparse.Namespace) -> int:
    with opened() as tally:
        _require_project(tally, args.project)
        sync_read_models(tally, None, NEEDS)
        found = _found_endpoint(tally, args.project, args.endpoint_id)
    return _emit_endpoint(args, found)


def cmd_webhooks_endpoints(args: argparse.Namespace) -> int:
    from projections.webhook_endpoints import list_endpoints

    with opened() as tally:
        _require_project(tally, args.project)
        sync_read_models(tally, None, NEEDS)
        rows, _ = list_endpoints(
            tally.views, tally.schema, args.project, limit=1000, starting_after=None
        )
    shown = [_endpoint_json(r) for r in rows]
    emit(args, shown, [_endpoint_line(e) for e in shown] or ["no webhook endpoints"])
    return EXIT_OK


def _delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    from api.schemas.webhook_endpoints import WebhookDelivery

    return WebhookDelivery.model_validate(row).model_dump(mode="json")


def _delivery_line(a: dict[str, Any]) -> str:
    return (
        f"{a['id']}  {a['status']:<9}  {a['http_status'] or '-'}  {a['latency_ms']}ms  "
        f"{a['event_type']}  {a['error']}"
    )


def cmd_webhooks_deliveries(args: argparse.Namespace) -> int:
    from adapters.webhook_attempts import list_attempts

    with opened() as tally:
        _require_project(tally, args.project)
        if args.endpoint is not None:  # as the route: an endpoint not the project's is 404
            sync_read_models(tally, None, NEEDS)
            _found_endpoint(tally, args.project, args.endpoint)
        rows, _ = list_attempts(
            tally.views, tally.schema, args.project, limit=args.limit,
            starting_after=args.starting_after, endpoint_id=args.endpoint,
        )  # fmt: skip
    shown = [_delivery_json(r) for r in rows]
    emit(args, shown, [_delivery_line(a) for a in shown] or ["no delivery attempts"])
    return EXIT_OK


def cmd_webhooks_redeliver(args: argparse.Namespace) -> int:
    with opened() as tally:
        _require_project(tally, args.project)
        sync_read_models(tally)
        attempt = tally.webhooks.redeliver(args.project, args.delivery_id)
    if attempt is None:
        raise NotFound(f"delivery {args.delivery_id} not found", id=str(args.delivery_id))
    shown = _delivery_json(attempt)
    emit(args, shown, [_delivery_line(shown)])
    return EXIT_OK if shown["status"] == "succeeded" else EXIT_REFUSED


def cmd_webhooks_deliver(args: argparse.Namespace) -> int:
    with opened() as tally:
        sync_read_models(tally)
        moved = tally.webhooks.drain()
    emit(args, {"events": moved}, [f"{moved} events sent or skipped"])
    return EXIT_OK


def _writes(webhooks: Any, common: argparse.ArgumentParser) -> list[Any]:
    """create, update, rotate-secret and delete: the routes' writes, their options named
    after the routes' body fields."""
    events_help = "TYPE[,TYPE...]: the billing.* types to deliver (docs/events.md), or '*'"
    create = webhooks.add_parser("create", help="create an endpoint", parents=[common])
    create.add_argument("--url", required=True, help="where to send (absolute http(s) URL)")
    create.add_argument("--enabled-events", type=_event_types, help=f"{events_help} (default *)")
    create.add_argument("--description", default="", help="a note for people")
    create.set_defaults(func=cmd_webhooks_create)
    update = webhooks.add_parser(
        "update", help="change an endpoint (an option left out: unchanged)", parents=[common]
    )
    update.add_argument("--url", help="where to send (absolute http(s) URL)")
    update.add_argument("--enabled-events", type=_event_types, help=events_help)
    update.add_argument("--description", help="a note for people")
    update.add_argument(
        "--status", choices=["enabled", "disabled"],
        help="enabled: a disabled endpoint resumes where it stopped",
    )  # fmt: skip
    update.set_defaults(func=cmd_webhooks_update)
    rotate = webhooks.add_parser(
        "rotate-secret", help="a new signing secret, shown once", parents=[common]
    )
    rotate.add_argument(
        "--previous-expires-in-s", type=int, default=86_400,
        help="seconds the previous secret keeps signing beside the new one (0-604800, "
        "default a day)",
    )  # fmt: skip
    rotate.set_defaults(func=cmd_webhooks_rotate_secret)
    delete = webhooks.add_parser(
        "delete", help="send nothing more to an endpoint; it leaves the list", parents=[common]
    )
    delete.set_defaults(func=cmd_webhooks_delete)
    for write in (create, update, rotate, delete):
        add_idempotency_key(write)
    return [create, update, rotate, delete]


def _reads(webhooks: Any, common: argparse.ArgumentParser) -> list[Any]:
    endpoints = webhooks.add_parser(
        "endpoints", help="list a project's endpoints", parents=[common]
    )
    endpoints.set_defaults(func=cmd_webhooks_endpoints)
    show = webhooks.add_parser("show", help="one endpoint (never its secret)", parents=[common])
    show.set_defaults(func=cmd_webhooks_show)
    deliveries = webhooks.add_parser(
        "deliveries", help="list a project's delivery attempts, oldest first", parents=[common]
    )
    deliveries.add_argument(
        "--endpoint-id", "--endpoint", dest="endpoint", type=UUID, default=None,
        help="of this endpoint only",
    )  # fmt: skip
    deliveries.add_argument("--limit", type=int, default=100, help="at most this many (1-1000)")
    deliveries.add_argument(
        "--starting-after", type=UUID, default=None, help="the page after this attempt's id"
    )
    deliveries.set_defaults(func=cmd_webhooks_deliveries)
    again = webhooks.add_parser(
        "redeliver", help="send a delivery attempt's event again now", parents=[common]
    )
    again.add_argument("delivery_id", type=UUID, help="the attempt's id")
    again.set_defaults(func=cmd_webhooks_redeliver)
    return [endpoints, show, deliveries, again]


def add_webhook_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    webhooks = sub.add_parser("webhooks", help="webhook endpoints and deliveries").add_subparsers(
        dest="action", required=True
    )
    writes, reads = _writes(webhooks, common), _reads(webhooks, common)
    for action in (*writes, *reads):
        action.add_argument("--project", type=UUID, required=True, help="the project's id")
    for action in (*writes[1:], reads[1]):  # all but create, and show
        action.add_argument("endpoint_id", type=UUID, help="the endpoint's id")
    deliver = webhooks.add_parser(
        "deliver", help="run delivery passes until nothing is due", parents=[common]
    )
    deliver.set_defaults(func=cmd_webhooks_deliver)

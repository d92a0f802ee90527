"""``tally payments list|show``: a project's payments (``GET /v1/payments``, issue 12),
for operators without an API key at hand: the same read model, the same object."""

from __future__ import annotations

import argparse
from typing import Any, get_args
from uuid import UUID

from api.schemas.payments import Status

STATUSES: tuple[str, ...] = get_args(Status)


def _line(p: dict[str, Any]) -> str:
    refunded = f"  refunded {p['amount_refunded']}" if p["amount_refunded"] else ""
    failure = f"  {p['failure_code']}" if p["failure_code"] else ""
    return (
        f"{p['id']}  {p['status']:<18}  {p['amount']:>10} {p['currency']}  {p['method']:<11}"
        f"  {p['invoice_id'] or '-'}{refunded}{failure}"
    )


def _answered(row: dict[str, Any]) -> dict[str, Any]:
    from api.schemas.payments import Payment

    answered: dict[str, Any] = Payment.model_validate(row).model_dump(mode="json")
    return answered


def cmd_payments_list(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
    from projections.payment_queries import list_payments

    with opened() as tally:
        sync_read_models(tally, None, ("payment_objects",))
        rows, has_more = list_payments(
            tally.views,
            tally.schema,
            args.project,
            customer_id=args.customer,
            invoice_id=args.invoice,
            status=args.status,
            limit=args.limit,
            starting_after=args.starting_after,
        )
    payments = [_answered(r) for r in rows]
    lines = [_line(p) for p in payments] or ["no payments"]
    if has_more:
        lines.append(f"more after {payments[-1]['id']} (--starting-after)")
    emit(args, {"data": payments, "has_more": has_more}, lines)
    return EXIT_OK


def cmd_payments_show(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, EXIT_REFUSED, emit, opened, sync_read_models
    from projections.payment_queries import get_payment

    with opened() as tally:
        sync_read_models(tally, None, ("payment_objects",))
        row = get_payment(tally.views, tally.schema, args.project, args.payment_id)
    if row is None:
        emit(args, {"error": "not found"}, [f"no payment {args.payment_id} in that project"])
        return EXIT_REFUSED
    payment = _answered(row)
    emit(args, payment, [_line(payment)])
    return EXIT_OK


def add_payment_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    payments = sub.add_parser("payments", help="payments (charges, invoice payments)")
    actions = payments.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list a project's payments", parents=[common])
    listing.add_argument("--customer", type=UUID, default=None, help="only this customer's")
    listing.add_argument("--invoice", type=UUID, default=None, help="only this invoice's")
    listing.add_argument("--status", choices=STATUSES, default=None, help="only in this status")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (1-1000)")
    listing.add_argument(
        "--starting-after", type=UUID, default=None, help="the last id of the previous page"
    )
    listing.set_defaults(func=cmd_payments_list)
    show = actions.add_parser("show", help="show one payment", parents=[common])
    show.add_argument("payment_id", type=UUID, help="the payment's id")
    show.set_defaults(func=cmd_payments_show)
    for action in (listing, show):
        action.add_argument("--project", type=UUID, required=True, help="the project's id")

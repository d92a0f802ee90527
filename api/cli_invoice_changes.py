"""More of ``tally invoices`` (``api/cli.py`` adds them to its verbs), through the
functions of their routes like the rest (``api/cli_routes.py``): ``remove-line`` and
``apply-coupon`` on a draft (``POST /v1/invoices/{id}/lines/{line_id}/remove``,
``.../coupon``), ``retry-payment`` (``POST .../retry_payment``: a due retry's provider
charge is made before the answer, as the route makes it), and credit notes:
``credit-note`` issues one (``POST .../credit_notes``), ``credit-notes`` lists them
(``GET /v1/credit_notes``). The API has no route that removes a coupon, so neither has
the CLI."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli_invoices import NEEDS, invoice_line
from api.cli_routes import (
    add_paging,
    add_project,
    body_of,
    page_lines,
    paging,
    params,
    read,
    replayed_note,
    write,
)
from api.cli_session import EXIT_OK, add_idempotency_key, emit


def credit_note_line(c: dict[str, Any]) -> str:
    # A listed note names its invoice; the one a credit-note answer holds does not (its
    # invoice is beside it in the answer).
    invoice = f"  invoice {c['invoice_id']}" if c.get("invoice_id") else ""
    return f"{c['id']}{invoice}  {c['amount']}  to {c['refund_to']}  {c['reason']}".rstrip()


def cmd_invoices_remove_line(args: argparse.Namespace) -> int:
    from api.routes.invoices import remove_line

    ids = params(remove_line, invoice_id=args.invoice_id, line_id=args.line_id)
    answer, replayed = write(
        args, lambda tally, caller, key: remove_line(**ids, tally=tally, caller=caller, key=key),
        NEEDS,
    )  # fmt: skip
    emit(args, answer, [invoice_line(answer["invoice"]), *replayed_note(replayed)])
    return EXIT_OK


def cmd_invoices_apply_coupon(args: argparse.Namespace) -> int:
    from api.routes.invoices import apply_coupon
    from api.schemas.billing_setup import ApplyCouponRequest

    invoice_id = params(apply_coupon, invoice_id=args.invoice_id)["invoice_id"]
    body = ApplyCouponRequest.model_validate(
        body_of(coupon_code=args.coupon, promotion_code=args.promotion_code)
    )
    answer, replayed = write(
        args, lambda tally, caller, key: apply_coupon(invoice_id, body, tally, caller, key), NEEDS
    )
    emit(args, answer, [invoice_line(answer["invoice"]), *replayed_note(replayed)])
    return EXIT_OK


def cmd_invoices_retry_payment(args: argparse.Namespace) -> int:
    from api.routes.invoice_payments import retry_invoice_payment as retry

    invoice_id = params(retry, invoice_id=args.invoice_id)["invoice_id"]
    paid, replayed = write(
        args, lambda tally, caller, key: retry(invoice_id, tally, caller, key), NEEDS
    )
    attempt = paid.get("payment_attempt")
    lines = [invoice_line(paid["invoice"])]
    if attempt is None:
        lines.append("no retry was due: nothing attempted")
    else:
        failed = f": {attempt['failure_reason']}" if attempt.get("failure_reason") else ""
        lines.append(f"payment attempt {attempt.get('status')}{failed}")
    emit(args, paid, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_invoices_credit_note(args: argparse.Namespace) -> int:
    from api.routes.credit_notes import create_credit_note as create
    from api.schemas.credit_notes import CreateCreditNoteRequest

    invoice_id = params(create, invoice_id=args.invoice_id)["invoice_id"]
    body = CreateCreditNoteRequest.model_validate(
        body_of(amount=args.amount, reason=args.reason, refund_to=args.refund_to,
                payment_id=args.payment)
    )  # fmt: skip
    made, replayed = write(
        args, lambda tally, caller, key: create(invoice_id, body, tally, caller, key), NEEDS
    )
    lines = [credit_note_line(made["credit_note"]), invoice_line(made["invoice"])]
    emit(args, made, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_invoices_credit_notes(args: argparse.Namespace) -> int:
    from api.routes.credit_notes import list_credit_notes

    options = paging(args, list_credit_notes) | params(
        list_credit_notes, invoice_id=args.invoice, customer_id=args.customer
    )
    page = read(args, lambda tally, caller: list_credit_notes(tally, caller, **options), NEEDS)
    emit(args, page, page_lines(page, credit_note_line, "no credit notes"))
    return EXIT_OK


def _add_draft_changes(invoices: Any, common: argparse.ArgumentParser) -> list[Any]:
    remove = invoices.add_parser("remove-line", help="remove a line from a draft", parents=[common])
    remove.add_argument("invoice_id", help="the invoice's id")
    remove.add_argument("line_id", help="the line's id")
    remove.set_defaults(func=cmd_invoices_remove_line)
    coupon = invoices.add_parser(
        "apply-coupon", help="apply a coupon or a promotion code to a draft", parents=[common]
    )
    coupon.add_argument("invoice_id", help="the invoice's id")
    coupon.add_argument("--coupon", default=None, help="a coupon's code")
    coupon.add_argument("--promotion-code", default=None, help="instead: a promotion code")
    coupon.set_defaults(func=cmd_invoices_apply_coupon)
    return [remove, coupon]


def add_invoice_changes(invoices: Any, common: argparse.ArgumentParser) -> None:
    """The verbs above in ``tally invoices`` (``invoices``), with ``--project``."""
    writes = _add_draft_changes(invoices, common)
    retry = invoices.add_parser("retry-payment", help="run a due payment retry now",
                                parents=[common])  # fmt: skip
    retry.add_argument("invoice_id", help="the invoice's id")
    retry.set_defaults(func=cmd_invoices_retry_payment)
    note = invoices.add_parser("credit-note", help="issue a credit note", parents=[common])
    note.add_argument("invoice_id", help="an open, paid or uncollectible invoice's id")
    note.add_argument("--amount", type=int, default=None, help="default: all that was paid")
    note.add_argument("--reason", default=None, help="shown on the note")
    note.add_argument(
        "--refund-to", default=None,
        help="credit_balance (default), original_payment, or none (lower what is owed)",
    )  # fmt: skip
    note.add_argument("--payment", default=None, help="original_payment: which (default latest)")
    note.set_defaults(func=cmd_invoices_credit_note)
    writes += [retry, note]
    for action in writes:
        add_idempotency_key(action)
    listing = invoices.add_parser("credit-notes", help="list credit notes", parents=[common])
    listing.add_argument("--invoice", default=None, help="only this invoice's")
    listing.add_argument("--customer", default=None, help="only this customer's")
    add_paging(listing)
    listing.set_defaults(func=cmd_invoices_credit_notes)
    add_project(*writes, listing)

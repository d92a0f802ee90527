"""``tally invoices``: a project's invoices, through the functions of their routes
(``api/cli_routes.py``): ``create`` a draft (``POST /v1/invoices``), ``add-line``,
``finalize``, ``void``, ``mark-uncollectible``, ``pay`` (``POST /v1/invoices/{id}/...``;
a provider charge is made before the answer, as the route makes it), ``list`` and
``show`` (``GET /v1/invoices[/{id}]``), with the routes' request models and answers; and
``pdf``/``html``, one invoice's document written to a file (or stdout), as
``GET /v1/invoices/{id}/pdf`` renders it. ``remove-line``, ``apply-coupon``,
``retry-payment`` and the credit notes are in ``api/cli_invoice_changes.py``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, get_args
from uuid import UUID

from api.cli_routes import (
    add_paging,
    add_project,
    body_of,
    page_lines,
    paging,
    params,
    read,
    replayed_note,
    show,
    write,
)
from api.cli_session import EXIT_OK, add_idempotency_key, emit
from api.schemas.invoices import Status

NEEDS = ("invoices",)


def invoice_line(i: dict[str, Any]) -> str:
    due = f"  {i['amount_remaining']} remaining" if i["status"] == "open" else ""
    return (
        f"{i['id']}  {i.get('number') or '-':<12}  {i['status']:<13}  {i['total']} "
        f"{i['currency']}  customer {i['customer_id']}{due}"
    )


def _lines(raw: list[list[str]]) -> list[dict[str, Any]] | None:
    """``--line DESCRIPTION UNIT_AMOUNT`` (repeatable) as the body's lines; an amount
    that is not a whole number is passed on as given, for the model to refuse."""
    lines = [
        {"description": text, "unit_amount": int(amount) if amount.isdigit() else amount}
        for text, amount in raw
    ]
    return lines or None


def cmd_invoices_create(args: argparse.Namespace) -> int:
    from api.routes.invoices import create_invoice
    from api.schemas.invoices import CreateInvoiceRequest

    body = CreateInvoiceRequest.model_validate(
        body_of(customer_id=args.customer, description=args.description, lines=_lines(args.line))
    )
    made, replayed = write(
        args, lambda tally, caller, key: create_invoice(body, tally, caller, key), NEEDS
    )
    emit(args, made, [invoice_line(made), *replayed_note(replayed)])
    return EXIT_OK


def cmd_invoices_add_line(args: argparse.Namespace) -> int:
    from api.routes.invoices import add_line
    from api.schemas.invoices import AddLineRequest

    invoice_id = params(add_line, invoice_id=args.invoice_id)["invoice_id"]
    [line] = _lines([[args.description, args.unit_amount]]) or []
    body = AddLineRequest.model_validate(
        body_of(**line, quantity=args.quantity, tax_rate_ids=args.tax_rate or None,
                discountable=False if args.not_discountable else None)
    )  # fmt: skip
    answer, replayed = write(
        args, lambda tally, caller, key: add_line(invoice_id, body, tally, caller, key), NEEDS
    )
    lines = [invoice_line(answer["invoice"]), f"line {answer['line_id']} added"]
    emit(args, answer, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_invoices_change(args: argparse.Namespace) -> int:
    """finalize, void, mark-uncollectible: the verb's route, without a body."""
    from api.routes import invoices as routes

    route = {"finalize": routes.finalize_invoice, "void": routes.void_invoice,
             "mark-uncollectible": routes.mark_invoice_uncollectible}[args.action]  # fmt: skip
    invoice_id = params(route, invoice_id=args.invoice_id)["invoice_id"]
    answer, replayed = write(
        args, lambda tally, caller, key: route(invoice_id, tally, caller, key), NEEDS
    )
    emit(args, answer, [invoice_line(answer["invoice"]), *replayed_note(replayed)])
    return EXIT_OK


def cmd_invoices_pay(args: argparse.Namespace) -> int:
    from api.routes.invoice_payments import pay_invoice
    from api.schemas.invoice_payments import PayInvoiceRequest

    invoice_id = params(pay_invoice, invoice_id=args.invoice_id)["invoice_id"]
    body = PayInvoiceRequest.model_validate(
        body_of(method=args.method, amount=args.amount, account_id=args.account,
                provider=args.provider, reference=args.reference)
    )  # fmt: skip
    paid, replayed = write(
        args, lambda tally, caller, key: pay_invoice(invoice_id, body, tally, caller, key), NEEDS
    )
    attempt = paid.get("payment_attempt")
    lines = [invoice_line(paid["invoice"])]
    if attempt:  # a wallet or provider payment; out of band, nothing was attempted
        failed = f": {attempt['failure_reason']}" if attempt.get("failure_reason") else ""
        lines.append(f"payment attempt {attempt.get('status')}{failed}")
    emit(args, paid, [*lines, *replayed_note(replayed)])
    return EXIT_OK


def cmd_invoices_list(args: argparse.Namespace) -> int:
    from api.routes.invoices import list_invoices

    options = paging(args, list_invoices) | params(
        list_invoices,
        customer_id=args.customer,
        subscription_id=args.subscription,
        status=args.status,
        period_from=args.period_from,
        period_to=args.period_to,
    )
    page = read(args, lambda tally, caller: list_invoices(tally, caller, **options), NEEDS)
    emit(args, page, page_lines(page, invoice_line, "no invoices"))
    return EXIT_OK


def cmd_invoices_show(args: argparse.Namespace) -> int:
    from api.routes.invoices import get_invoice

    return show(args, get_invoice, invoice_line, NEEDS, invoice_id=args.invoice_id)


def cmd_invoices_document(args: argparse.Namespace) -> int:
    from adapters.documents.html import render_html
    from adapters.documents.pdf import render_pdf
    from api.cli_session import opened, sync_read_models
    from api.routes.invoice_documents import invoice_document

    with opened() as tally:
        sync_read_models(tally)
        view = invoice_document(tally, args.project, args.invoice_id)
    data = render_pdf(view) if args.action == "pdf" else render_html(view).encode()
    if args.output == "-":
        sys.stdout.buffer.write(data)
        return EXIT_OK
    Path(args.output).write_bytes(data)
    emit(args, {"file": args.output, "bytes": len(data)}, [f"wrote {args.output}"])
    return EXIT_OK


def _add_writes(invoices: Any, common: argparse.ArgumentParser) -> list[Any]:
    create = invoices.add_parser("create", help="a draft invoice", parents=[common])
    create.add_argument("customer", help="the customer's id")
    create.add_argument("--description", default=None, help="shown on the invoice")
    create.add_argument(
        "--line", nargs=2, action="append", default=[], metavar=("DESCRIPTION", "UNIT_AMOUNT"),
        help="a one-time line (repeatable; minor units)",
    )  # fmt: skip
    create.set_defaults(func=cmd_invoices_create)
    add = invoices.add_parser("add-line", help="add a line to a draft", parents=[common])
    add.add_argument("invoice_id", help="the invoice's id")
    add.add_argument("description", help="the line's text")
    add.add_argument("unit_amount", help="minor units per unit")
    add.add_argument("--quantity", type=int, default=None, help="default 1")
    add.add_argument("--tax-rate", action="append", default=[], help="a tax rate id (repeatable)")
    add.add_argument("--not-discountable", action="store_true", help="no coupon applies to it")
    add.set_defaults(func=cmd_invoices_add_line)
    writes = [create, add]
    for name, text in (
        ("finalize", "finalize a draft: totals, number, accounting entry"),
        ("void", "void an open invoice with nothing paid"),
        ("mark-uncollectible", "stop dunning an open invoice"),
    ):
        change = invoices.add_parser(name, help=text, parents=[common])
        change.add_argument("invoice_id", help="the invoice's id")
        change.set_defaults(func=cmd_invoices_change)
        writes.append(change)
    pay = invoices.add_parser("pay", help="pay an open invoice", parents=[common])
    pay.add_argument("invoice_id", help="the invoice's id")
    pay.add_argument(
        "--method",
        required=True,
        choices=["wallet", "provider", "out_of_band"],
        help="from a wallet, a provider charge, or money received elsewhere",
    )
    pay.add_argument("--amount", type=int, default=None, help="default: all that remains")
    pay.add_argument("--account", default=None, help="wallet: another wallet than the customer's")
    pay.add_argument("--provider", default=None, help="provider: default the project's")
    pay.add_argument("--reference", default=None, help="out_of_band: your reference (required)")
    pay.set_defaults(func=cmd_invoices_pay)
    writes.append(pay)
    for action in writes:
        add_idempotency_key(action)
    return writes


def add_invoice_commands(sub: Any, common: argparse.ArgumentParser) -> Any:
    """``tally invoices`` and these verbs; answers its verbs' parsers, for those of
    ``api/cli_invoice_changes.py`` (which uses ``invoice_line``) to join them."""
    invoices = sub.add_parser("invoices", help="invoices and their documents").add_subparsers(
        dest="action", required=True
    )
    writes = _add_writes(invoices, common)
    listing = invoices.add_parser("list", help="list invoices, oldest first", parents=[common])
    listing.add_argument("--customer", default=None, help="only this customer's")
    listing.add_argument("--subscription", default=None, help="only this subscription's")
    listing.add_argument(
        "--status", default=None, help=f"only in this status: {', '.join(get_args(Status))}"
    )
    listing.add_argument("--period-from", default=None, help="RFC 3339: period starts at or after")
    listing.add_argument("--period-to", default=None, help="RFC 3339: period starts before")
    add_paging(listing)
    listing.set_defaults(func=cmd_invoices_list)
    show = invoices.add_parser("show", help="one invoice", parents=[common])
    show.add_argument("invoice_id", help="the invoice's id")
    show.set_defaults(func=cmd_invoices_show)
    add_project(*writes, listing, show)
    for kind in ("pdf", "html"):
        action = invoices.add_parser(kind, help=f"write an invoice as {kind}", parents=[common])
        action.add_argument("invoice_id", type=UUID, help="the invoice's id")
        action.add_argument("--project", type=UUID, required=True, help="the project's id")
        action.add_argument("-o", "--output", required=True, help="a file, or - for stdout")
        action.set_defaults(func=cmd_invoices_document)
    return invoices

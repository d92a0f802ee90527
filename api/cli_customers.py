"""``tally customers create|update|list|show``: a project's customers, through the
functions of ``POST /v1/customers`` (register or retrieve by external id),
``POST /v1/customers/{id}``, ``GET /v1/customers`` and ``GET /v1/customers/{id}`` (or
``/by_external_id/{external_id}``), with the routes' request models and answers
(``api/cli_routes.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli_routes import (
    add_paging,
    add_project,
    body_of,
    metadata,
    page_lines,
    paging,
    params,
    read,
    replayed_note,
    show,
    write,
)
from api.cli_session import EXIT_OK, add_idempotency_key, emit

NEEDS = ("customers",)


def customer_line(c: dict[str, Any]) -> str:
    clock = f"  clock {c['test_clock_id']}" if c.get("test_clock_id") else ""
    return (
        f"{c['id']}  {c['external_id']}  {c['currency']}  {c.get('email') or '-'}"
        f"  {c.get('name') or '-'}{clock}"
    )


def cmd_customers_create(args: argparse.Namespace) -> int:
    from api.routes.customers import register_customer
    from api.schemas.customers import RegisterCustomerRequest

    body = RegisterCustomerRequest.model_validate(
        body_of(
            external_id=args.external_id,
            email=args.email,
            name=args.name,
            currency=args.currency,
            metadata=metadata(args.metadata),
            test_clock_id=args.test_clock,
        )
    )
    customer, replayed = write(
        args, lambda tally, caller, key: register_customer(body, tally, caller, key), NEEDS
    )
    verb = "already registered, unchanged" if customer.get("existed") else "registered"
    emit(args, customer, [f"{customer_line(customer)}  {verb}", *replayed_note(replayed)])
    return EXIT_OK


def cmd_customers_update(args: argparse.Namespace) -> int:
    from api.routes.customers import update_customer
    from api.schemas.customers import UpdateCustomerRequest

    body = UpdateCustomerRequest.model_validate(
        body_of(email=args.email, name=args.name, metadata=metadata(args.metadata))
    )
    customer_id = params(update_customer, customer_id=args.customer_id)["customer_id"]
    answer, replayed = write(
        args,
        lambda tally, caller, key: update_customer(customer_id, body, tally, caller, key),
        NEEDS,
    )
    emit(args, answer, [customer_line(answer["customer"]), *replayed_note(replayed)])
    return EXIT_OK


def cmd_customers_list(args: argparse.Namespace) -> int:
    from api.routes.customers import list_customers

    options = paging(args, list_customers) | params(list_customers, email=args.email)
    page = read(args, lambda tally, caller: list_customers(tally, caller, **options), NEEDS)
    emit(args, page, page_lines(page, customer_line, "no customers"))
    return EXIT_OK


def cmd_customers_show(args: argparse.Namespace) -> int:
    from api.routes.customers import get_by_external_id, get_customer

    if args.external_id:
        return show(args, get_by_external_id, customer_line, NEEDS, external_id=args.customer)
    return show(args, get_customer, customer_line, NEEDS, customer_id=args.customer)


def add_customer_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    customers = sub.add_parser("customers", help="customers").add_subparsers(
        dest="action", required=True
    )
    create = customers.add_parser(
        "create", help="register a customer (or find it by its external id)", parents=[common]
    )
    create.add_argument("external_id", help="your id for this user; unique per project")
    create.add_argument("--currency", default=None, help="default: the project's")
    create.add_argument("--test-clock", default=None, help="test mode: its clock")
    update = customers.add_parser("update", help="change email, name or metadata", parents=[common])
    update.add_argument("customer_id", help="the customer's id")
    for action in (create, update):
        action.add_argument("--email", default=None, help="an email address")
        action.add_argument("--name", default=None, help="a name")
        action.add_argument(
            "--metadata", action="append", default=[], metavar="KEY=VALUE",
            help="metadata (repeatable; on update, replaces all of it)",
        )  # fmt: skip
        add_idempotency_key(action)
    create.set_defaults(func=cmd_customers_create)
    update.set_defaults(func=cmd_customers_update)
    listing = customers.add_parser("list", help="list customers, oldest first", parents=[common])
    listing.add_argument("--email", default=None, help="only with this exact email")
    add_paging(listing)
    listing.set_defaults(func=cmd_customers_list)
    show = customers.add_parser("show", help="one customer", parents=[common])
    show.add_argument("customer", help="the customer's id (or, with --external-id, yours)")
    show.add_argument("--external-id", action="store_true", help="CUSTOMER is your external id")
    show.set_defaults(func=cmd_customers_show)
    add_project(create, update, listing, show)

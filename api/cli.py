"""The ``tally`` command line: its parser, its entry point and ``catalog load``. Each group
of commands has its module (``api/cli_*.py``): serving, the projection worker, the
scheduler and replay in ``api/cli_processes.py``; projects and keys, invoices, meters,
credits, payments, secrets, webhooks, audit, broker and the others beside it. The API's
everyday writes and reads (customers, accounts, holds, ...) call their routes' own
functions (``api/cli_routes.py``, docs/api.md).

Exit codes: 0 done, 1 refused (a domain error, replay found differences, or a read model
the command needs is stalled), 2 cannot start (settings invalid or database
unreachable). Failures print ONE line that names what is wrong (host and database, never
a password; the stalled read model, its position and its error) instead of a traceback.
A stalled read model the command does not need is one warning line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from uuid import UUID

from pydantic import ValidationError

from adapters.database import DatabaseUnreachable
from api.cli_accounts import add_account_commands
from api.cli_audit import add_audit_commands, add_export_commands
from api.cli_backtest import add_backtest_command
from api.cli_broker import add_broker_commands
from api.cli_credits import add_credit_commands
from api.cli_customers import add_customer_commands
from api.cli_help import add_examples, tally_version
from api.cli_holds import add_hold_commands
from api.cli_identity import add_identity_commands
from api.cli_invoice_changes import add_invoice_changes
from api.cli_invoices import add_invoice_commands
from api.cli_meters import add_meter_commands
from api.cli_payment_provider import add_payment_provider_commands
from api.cli_payments import add_payment_commands
from api.cli_processes import add_replay_command, add_serve_command, add_worker_commands
from api.cli_projects import add_project_commands
from api.cli_provider_subscriptions import add_provider_subscription_commands
from api.cli_secrets import add_secrets_commands
from api.cli_session import (
    EXIT_CANNOT_START,
    EXIT_OK,
    EXIT_REFUSED,
    CannotStart,
    Stalled,
    emit,
    opened,
    retry_hint,
    sync_read_models,
)
from api.cli_subscriptions import add_subscription_commands
from api.cli_test_clocks import add_test_clock_commands
from api.cli_transactions import add_transaction_commands
from api.cli_usage import add_usage_commands
from api.cli_webhooks import add_webhook_commands
from commands.provider_errors import ProviderMisconfigured
from domain.errors import DomainError
from projections.applying import ProjectionFailed

# -- catalog -------------------------------------------------------------------------------


def cmd_catalog_load(args: argparse.Namespace) -> int:
    from pathlib import Path

    from api.catalog_file import load

    path = Path(args.file)
    if not path.is_file():
        raise CannotStart(f"no catalog file at {path}")
    with opened() as tally:
        report = load(tally, args.project, path)
        sync_read_models(tally, report.position, ("catalog", "meters"))
    data = {
        "products_created": report.products_created,
        "products_revised": report.products_revised,
        "products_archived": report.products_archived,
        "prices_created": report.prices_created,
        "prices_unchanged": report.prices_unchanged,
        "meters_created": report.meters_created,
        "meters_unchanged": report.meters_unchanged,
        "meters": report.meter_ids,
        "products": report.product_ids,
        "prices": report.price_ids,
    }
    emit(args, data, report.lines())
    return EXIT_OK


# -- parser and entry point ----------------------------------------------------------------

# How the program's log lines read on stderr (its process's root logger, set by ``main``).
LOG_FORMAT = "%(levelname)s %(name)s %(message)s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tally",
        # Written with its line breaks: the examples' formatter prints it as it is.
        description="Tally billing ledger.\n\nSettings come from TALLY_* environment "
        "variables (docs/operations.md).\nWithout TALLY_DATABASE_URL, an embedded Postgres is "
        "started under TALLY_DATA_DIR.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {tally_version()}",
        help="show the version and exit",
    )
    # Every leaf command takes --json, after its own name like any other option.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True)

    add_serve_command(sub, common)

    add_project_commands(sub, common)

    catalog = sub.add_parser("catalog", help="products and prices").add_subparsers(
        dest="action", required=True
    )
    loader = catalog.add_parser(
        "load", help="create or update a project's catalog from a YAML file", parents=[common]
    )
    loader.add_argument("file", help="the catalog file (format: api/catalog_file.py)")
    loader.add_argument("--project", type=UUID, required=True, help="the project's id")
    loader.set_defaults(func=cmd_catalog_load)

    add_worker_commands(sub, common)

    add_customer_commands(sub, common)
    add_account_commands(sub, common)
    add_hold_commands(sub, common)
    add_transaction_commands(sub, common)
    add_test_clock_commands(sub, common)
    add_invoice_changes(add_invoice_commands(sub, common), common)
    add_meter_commands(sub, common)
    add_credit_commands(sub, common)
    add_subscription_commands(add_provider_subscription_commands(sub, common), common)
    add_payment_commands(sub, common)
    add_payment_provider_commands(sub, common)
    add_usage_commands(sub, common)
    add_secrets_commands(sub, common)
    add_webhook_commands(sub, common)
    add_identity_commands(sub, common)
    add_audit_commands(sub, common)
    add_backtest_command(sub, common)
    add_export_commands(sub, common)
    add_broker_commands(sub, common)

    add_replay_command(sub, common)
    add_examples(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tally`` program: its process's logging (warnings and errors on stderr; serve
    sets its own), then the verb (``run``)."""
    if (sys.argv[1:] if argv is None else argv)[:1] != ["serve"]:
        logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    return run(argv)


def run(argv: Sequence[str] | None = None) -> int:
    """One verb in this process, its exit code returned (argparse's own exits, --help and
    a refused argument, raise ``SystemExit``). It changes nothing process-wide, so a
    program (the tests) can run verbs one after another beside its own threads; the
    verbs that run until a signal (serve, projections run, scheduler and broker without
    --once) set signal handlers and belong in a process of their own."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    finally:
        retry_hint(args)


def _dispatch(args: argparse.Namespace) -> int:
    """The verb's exit code; what refused it in one line on stderr."""
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (CannotStart, DatabaseUnreachable) as exc:
        print(f"tally: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except ProviderMisconfigured as exc:
        # Names the variable that is missing or wrong, never a value.
        print(f"tally: payment provider misconfigured: {exc.detail}", file=sys.stderr)
        return EXIT_CANNOT_START
    except DomainError as exc:
        print(f"tally: {exc.code}: {exc.detail}", file=sys.stderr)
        return EXIT_REFUSED
    except ValidationError as exc:  # an argument its command message refuses (limits)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        print(f"tally: validation_error: {problems}", file=sys.stderr)
        return EXIT_REFUSED
    except Stalled as exc:
        print(f"tally: {exc}; see tally projections status", file=sys.stderr)
        return EXIT_REFUSED
    except ProjectionFailed as exc:  # replay's rebuild met an event a read model refuses
        print(f"tally: {exc}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())

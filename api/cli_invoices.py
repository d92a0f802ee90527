"""``tally invoices pdf|html``: write one invoice's document to a file (or stdout), as
``GET /v1/invoices/{id}/pdf`` renders it, for operators without an API key at hand."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from uuid import UUID


def cmd_invoices_document(args: argparse.Namespace) -> int:
    from adapters.documents.html import render_html
    from adapters.documents.pdf import render_pdf
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
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


def add_invoice_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    invoices = sub.add_parser("invoices", help="invoice documents").add_subparsers(
        dest="action", required=True
    )
    for kind in ("pdf", "html"):
        action = invoices.add_parser(kind, help=f"write an invoice as {kind}", parents=[common])
        action.add_argument("invoice_id", type=UUID, help="the invoice's id")
        action.add_argument("--project", type=UUID, required=True, help="the project's id")
        action.add_argument("-o", "--output", required=True, help="a file, or - for stdout")
        action.set_defaults(func=cmd_invoices_document)

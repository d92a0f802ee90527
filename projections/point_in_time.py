"""Read-model rows at a point in time (issue 15, docs/audit.md "Point in time").

An ``as_of`` read answers what a read model showed once the log had reached a position.
Two ways, by what the read model is:

- a row that follows one aggregate (an account, a transaction, an invoice and its
  dunning record, a subscription, a price, a product) is built here from the aggregate
  rebuilt at that position (``adapters.point_in_time``) by the same code the read model
  writes it with (``Account.summary()``, ``Transaction.summary()``, the ``Kind``'s
  summary), so it is the row the read model held;
- append-only rows (journal entries and their postings) are the rows whose ``position``
  is at or before it; their queries take ``up_to`` (``projections.journal``).

The functions here are pure: they take aggregates, not connections.
"""

from __future__ import annotations

from typing import Any

from domain.accounts import Account
from domain.dunning import InvoiceDunning
from domain.invoices import Invoice, dunning_fields
from domain.transactions import Transaction
from projections.aggregates import Kind


def _times(aggregate: Any) -> dict[str, str]:
    return {
        "created_at": aggregate.created_on.isoformat(),
        "updated_at": aggregate.modified_on.isoformat(),
    }


def account_row(account: Account) -> dict[str, Any]:
    """What ``projections.balances.get_account`` answered for the account at its version
    (the read model's columns are named after ``Account.summary()``)."""
    return {**account.summary(), **_times(account)}


def transaction_row(transaction: Transaction) -> dict[str, Any]:
    """What ``projections.transactions`` answers for a transaction (its columns are the
    keys of ``Transaction.summary()``)."""
    return {**transaction.summary(), **_times(transaction)}


def resource_row(kind: Kind, aggregate: Any) -> dict[str, Any]:
    """What ``projections.aggregates.as_resource`` answered for the aggregate's row."""
    return {**kind.summary(aggregate), **_times(aggregate)}


def invoice_row(invoice: Invoice, dunning: InvoiceDunning | None) -> dict[str, Any]:
    """What ``projections.invoices.get_invoice`` answered: the invoice's summary with its
    dunning record's fields laid over it."""
    summary = {**invoice.summary(), **(dunning_fields(dunning) if dunning else {})}
    return {**summary, **_times(invoice)}

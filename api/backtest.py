"""Backtests (issue 15, docs/audit.md): what a project's recorded subscription invoices
would have totalled under another price book, beside what they did. Nothing is written:
the catalog file is parsed and its prices built in memory, the invoices and their
subscriptions are read from the event store, and ``domain.backtest`` re-rates them.

- The price book is a catalog file (``api.catalog_file``; only its products' prices
  count). A recorded price is matched to the book's price of the same product code,
  lookup key and currency; a price the book does not list keeps its recorded amounts,
  as loading the file would leave it as it is.
- The invoices are the project's subscription invoices whose period starts in
  ``[from, to)``, once finalized (open, paid or uncollectible; drafts and voided ones
  left out), at most ``MAX_BACKTEST_INVOICES`` of them.
- Each invoice and subscription is folded from its events, read once in one query (a
  subscription's items per period noted as its events are applied), and a backtest
  reads at most ``MAX_BACKTEST_EVENTS`` events in all.
- A subscription line is re-rated with the items the subscription had when the
  invoice's period began (its first recorded version with that period).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from api.catalog_file import parse
from api.tally import Tally
from domain.backtest import Rerated, rerate
from domain.catalog import Price
from domain.errors import InvalidCatalog, InvalidWindow, LimitReached, ValidationFailed
from domain.invoices import OPEN, PAID, UNCOLLECTIBLE, Invoice
from domain.limits import MAX_BACKTEST_EVENTS, MAX_BACKTEST_INVOICES
from projections.paging import fetch_all
from projections.schema import table

BILLED = (OPEN, PAID, UNCOLLECTIBLE)


Book = dict[tuple[str, str, str], Price]  # (product code, lookup key, currency) -> price


def price_book(text: str, project_id: UUID) -> Book:
    """The catalog file's prices, built (and checked) by the domain, never stored."""
    try:
        _, checked = parse(text)
    except ValidationFailed as exc:
        raise InvalidCatalog(exc.detail) from None
    book: Book = {}
    for product, commands in checked:
        for command in commands:
            fields = command.model_dump(exclude={"product_id"})
            price = Price.define(project_id=project_id, product_id=UUID(int=0), **fields)
            book[(product.code, command.lookup_key, command.currency)] = price
    return book


@dataclass
class Report:
    """Per customer (and currency) and per currency: invoices, was, would be."""

    invoices: int = 0
    lines_changed: int = 0
    unmatched_lines: int = 0
    customers: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, customer_id: str, currency: str, rerated: Rerated) -> None:
        self.invoices += 1
        self.lines_changed += rerated.lines_changed
        self.unmatched_lines += rerated.unmatched
        sums = self.customers.setdefault((customer_id, currency), [0, 0, 0])
        sums[0] += 1
        sums[1] += rerated.was
        sums[2] += rerated.would_be

    def as_json(self, start: datetime, stop: datetime) -> dict[str, Any]:
        totals: dict[str, list[int]] = {}
        for (_, currency), (_, was, would_be) in self.customers.items():
            found = totals.setdefault(currency, [0, 0])
            found[0] += was
            found[1] += would_be
        return {
            "object": "backtest",
            "from": start,
            "to": stop,
            "invoices": self.invoices,
            "lines_changed": self.lines_changed,
            "unmatched_lines": self.unmatched_lines,
            "totals": [
                {"currency": c, "was": w, "would_be": b, "difference": b - w}
                for c, (w, b) in sorted(totals.items())
            ],
            "customers": [
                {"customer_id": k[0], "currency": k[1], "invoices": n, "was": w,
                 "would_be": b, "difference": b - w}
                for k, (n, w, b) in sorted(self.customers.items())
            ],
        }  # fmt: skip


def _recorded_prices(tally: Tally, project_id: UUID) -> dict[str, tuple[str, str, str]]:
    """Each of the project's prices, by id: its product's code, lookup key, currency."""
    query = sql.SQL(
        "SELECT p.id, r.code, p.summary->>'lookup_key' AS lookup_key, "
        "p.summary->>'currency' AS currency FROM {p} p JOIN {r} r "
        "ON r.id = p.product_id AND r.project_id = p.project_id WHERE p.project_id = %s"
    ).format(p=table(tally.schema, "prices"), r=table(tally.schema, "products"))
    rows = fetch_all(tally.views, query, [project_id])
    return {str(r["id"]): (r["code"], r["lookup_key"], r["currency"]) for r in rows}


def _invoices(
    tally: Tally, project_id: UUID, start: datetime, stop: datetime
) -> list[dict[str, Any]]:
    query = sql.SQL(
        "SELECT id, customer_id, subscription_id, currency FROM {} WHERE project_id = %s "
        "AND subscription_id IS NOT NULL AND status = ANY(%s) AND period_at >= %s "
        "AND period_at < %s ORDER BY period_at, id LIMIT %s"
    ).format(table(tally.schema, "invoices"))
    params = [project_id, list(BILLED), start, stop, MAX_BACKTEST_INVOICES + 1]
    rows = fetch_all(tally.views, query, params)
    if len(rows) > MAX_BACKTEST_INVOICES:
        raise LimitReached(
            f"a backtest re-rates at most {MAX_BACKTEST_INVOICES} invoices; take a shorter window",
            limit=MAX_BACKTEST_INVOICES,
        )
    return rows


class _Reader:
    """Folds aggregates from the event store, each read once in one query, counting the
    events it decodes against ``budget`` (``MAX_BACKTEST_EVENTS``): a backtest holds an
    event-store connection on an API thread, so its whole work is bounded, not only its
    number of invoices."""

    def __init__(self, tally: Tally, budget: int) -> None:
        self.tally = tally
        self.budget = budget
        self.read = 0
        self.seen: dict[UUID, dict[Any, list[dict[str, Any]]]] = {}

    def states(self, aggregate_id: UUID) -> Iterator[Any]:
        """The aggregate after each of its events, in order (one read of its events)."""
        left = self.budget - self.read
        aggregate: Any = None
        for event in self.tally.store.events.get(aggregate_id, limit=left + 1):
            self.read += 1
            if self.read > self.budget:
                raise LimitReached(
                    f"a backtest reads at most {self.budget} events; take a shorter window",
                    limit=self.budget,
                )
            # Every event the store decodes is a domain event with ``mutate`` (as
            # adapters.point_in_time folds them).
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
            yield aggregate

    def invoice(self, invoice_id: UUID) -> Invoice:
        found: Invoice | None = None
        for state in self.states(invoice_id):
            found = state
        assert found is not None  # the read model's row names a stored invoice
        return found

    def items(self, sub_id: UUID, period: tuple[Any, Any]) -> Any:
        """The subscription's items when ``period`` began: those of its first version
        with that period (its events read once, however many of its invoices ask)."""
        if sub_id not in self.seen:
            found: dict[Any, list[dict[str, Any]]] = {}
            for sub in self.states(sub_id):
                found.setdefault(tuple(sub.current_period), list(sub.items))
            self.seen[sub_id] = found
        return self.seen[sub_id].get(period)


def backtest(
    tally: Tally,
    project_id: UUID,
    catalog: str,
    start: datetime,
    stop: datetime,
    max_events: int = MAX_BACKTEST_EVENTS,
) -> dict[str, Any]:
    """The report of re-rating the window's invoices under ``catalog``, reading at most
    ``max_events`` events (409 ``limit_reached`` beyond)."""
    if start >= stop:
        raise InvalidWindow("from must be before to")
    book = price_book(catalog, project_id)
    recorded = _recorded_prices(tally, project_id)

    def new_price(price_id: str) -> Price | None:
        key = recorded.get(price_id)
        return None if key is None else book.get(key)

    reader = _Reader(tally, max_events)
    report = Report()
    for row in _invoices(tally, project_id, start, stop):
        invoice = reader.invoice(row["id"])
        period = (invoice.period_start, invoice.period_end)
        items = reader.items(row["subscription_id"], period)
        rerated = rerate(invoice.lines, invoice.rates, invoice.coupon, items, new_price)
        report.add(str(row["customer_id"]), row["currency"], rerated)
    return report.as_json(start, stop)

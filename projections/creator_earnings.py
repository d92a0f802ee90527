"""Creators' usage and earnings (issue 13, the marketplace seed): per product, the usage
its invoices billed and the revenue of its paid invoice lines, less the project's
platform fee. Built from the log alone (it reads no other read model), so a replay
builds the same rows.

Tables (``projections.tables``): ``creator_prices`` (each price's product),
``creator_fees`` (each project's ``platform_fee_percent`` as last configured),
``creator_invoices`` (each invoice's customer, currency and status) and
``creator_lines``: one row per invoice line that names a price (a subscription line's
``price_id``, a usage line's ``usage.price_id``), with its product, period, amount and,
for usage, its meter, group and quantity. A line's status follows its invoice's; when
the invoice is paid, the line's ``fee`` is fixed from the fee configured then (half-even
to a minor unit), so changing the fee later changes no earnings already made.

Queries (both scoped to the project and the product):

- ``product_usage(pool, schema, project_id, product_id)``: per usage period, customer and
  meter, the quantity the finalized invoices billed (per group, the greatest quantity a
  line billed, which a late adjustment raises; the groups summed).
- ``product_earnings(pool, schema, project_id, product_id)``: per period and currency,
  the paid lines' ``gross``, the platform's ``fee`` and the creator's ``net``.

Usage paid by **promotional** prepaid credits earns the creator nothing: the platform
gave those credits away, no money came in for that usage. An invoice's ``credits`` line
keeps, per price, what the credits paid and how much of it promotional grants gave
(``paid_for``, ``domain.credit_invoicing``); each price's promotional part is a row of
kind ``credits`` with that amount negative, the product's and period of the invoice's
usage line of that price, which its earnings then deduct (its fee too, fixed at payment
like every line's). Usage paid by paid credits counts like money: the customer bought
them. A credits line drafted before lines kept ``paid_for`` deducts nothing.

Lines before this read model existed count from a replay; subscription lines drafted
before lines recorded their price have none and are not counted (usage lines always
did).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg_pool import ConnectionPool

from projections import events as ev
from projections.base import ReadModel, Tracked, rows_of
from projections.creator_netting import BILLED as NETTING_BILLED
from projections.creator_netting import Netting

PRICES, FEES, INVOICES, LINES = (
    "creator_prices", "creator_fees", "creator_invoices", "creator_lines"
)  # fmt: skip
STATUS_EVENTS = frozenset(
    {ev.InvoiceFinalized, ev.InvoicePaymentRecorded, ev.InvoiceVoided,
     ev.InvoiceMarkedUncollectible, ev.InvoiceCredited}
)  # fmt: skip
HANDLES = frozenset(
    {ev.PriceDefined, ev.BillingSettingsOpened, ev.BillingSettingsConfigured,
     ev.InvoiceCreated, ev.InvoiceLineAdded, ev.InvoiceLineRemoved} | STATUS_EVENTS
)  # fmt: skip
BILLED = NETTING_BILLED  # finalized and not voided


def platform_fee(amount: int, percent: str) -> int:
    """The platform's part of ``amount`` minor units, half-even to a minor unit."""
    fee = Decimal(amount) * Decimal(percent) / 100
    return int(fee.to_integral_value(rounding=ROUND_HALF_EVEN))


def line_price(line: dict[str, Any]) -> str | None:
    usage = line.get("usage") or {}
    found = line.get("price_id") or usage.get("price_id")
    return str(found) if found else None


class CreatorEarnings(Netting, ReadModel):
    name = "creator_earnings"
    tables = (PRICES, FEES, INVOICES, LINES)
    handles = HANDLES

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        for event, position in events:
            kind = type(event)
            if kind is ev.PriceDefined:
                self._price(cur, event, position)
            elif kind in (ev.BillingSettingsOpened, ev.BillingSettingsConfigured):
                self._settings(cur, event, position)
            elif kind is ev.InvoiceCreated:
                self._invoice(cur, event, position)
            elif kind is ev.InvoiceLineAdded:
                self.line_added(cur, event.originator_id, str(event.line["id"]))
                self._line(cur, event, position)
            elif kind is ev.InvoiceLineRemoved:
                cur.execute(
                    f"DELETE FROM {self.t(LINES).as_string(cur)} "
                    "WHERE invoice_id = %s AND line_id = %s",
                    [event.originator_id, event.line_id],
                )
                self.line_removed(cur, event.originator_id, event.line_id)
            elif kind in STATUS_EVENTS:
                self._netted(cur, event, position)
                self._status(cur, event.originator_id, str(event.status))

    def _netted(self, cur: Cursor[Any], event: Any, position: int) -> None:
        """Discounts and tax out of the lines at finalization, credit notes as deductions
        (``projections/creator_netting.py``)."""
        if type(event) is ev.InvoiceFinalized:
            self.finalized(cur, event.originator_id, dict(event.totals))
        elif type(event) is ev.InvoiceCredited:
            self.credited(cur, event.originator_id, dict(event.note), position)

    def _price(self, cur: Cursor[Any], event: Any, position: int) -> None:
        cur.execute(
            f"INSERT INTO {self.t(PRICES).as_string(cur)} (id, project_id, product_id, "
            "position) VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            [event.originator_id, event.project_id, event.product_id, position],
        )

    def _settings(self, cur: Cursor[Any], event: Any, position: int) -> None:
        """A project's billing settings opened (its fee 0) or configured."""
        if type(event) is ev.BillingSettingsOpened:
            cur.execute(
                f"INSERT INTO {self.t(FEES).as_string(cur)} (id, project_id, percent, "
                "position) VALUES (%s, %s, '0', %s) ON CONFLICT (id) DO NOTHING",
                [event.originator_id, event.project_id, position],
            )
            return
        cur.execute(
            f"UPDATE {self.t(FEES).as_string(cur)} SET percent = %s WHERE id = %s",
            [str(event.values.get("platform_fee_percent", "0")), event.originator_id],
        )

    def _invoice(self, cur: Cursor[Any], event: Any, position: int) -> None:
        cur.execute(
            f"INSERT INTO {self.t(INVOICES).as_string(cur)} (id, project_id, customer_id, "
            "currency, status, position) VALUES (%s, %s, %s, %s, 'draft', %s) "
            "ON CONFLICT (id) DO NOTHING",
            [event.originator_id, event.project_id, event.customer_id, event.currency,
             position],
        )  # fmt: skip

    def _line(self, cur: Cursor[Any], event: Any, position: int) -> None:
        line: dict[str, Any] = dict(event.line)
        if line["kind"] == "credits":
            self._promotional(cur, event.originator_id, line, position)
            return
        price_id = line_price(line)
        if price_id is None:
            return
        usage = line.get("usage") or {}
        period = line.get("period") or [None, None]
        group = usage.get("group")
        cur.execute(
            f"INSERT INTO {self.t(LINES).as_string(cur)} (invoice_id, line_id, project_id, "
            "product_id, customer_id, currency, kind, period_start, period_end, amount, "
            "meter, group_key, quantity, status, fee, position) "
            "SELECT i.id, %s, i.project_id, p.product_id, i.customer_id, i.currency, %s, "
            "%s, %s, %s, %s, %s, %s, i.status, NULL, %s "
            f"FROM {self.t(INVOICES).as_string(cur)} i "
            f"JOIN {self.t(PRICES).as_string(cur)} p ON p.id = %s "
            "WHERE i.id = %s ON CONFLICT (invoice_id, line_id) DO NOTHING",
            [line["id"], line["kind"], period[0], period[1], int(line["amount"]),
             usage.get("meter"), None if group is None else _group_text(group),
             usage.get("quantity"), position, UUID(price_id), event.originator_id],
        )  # fmt: skip

    def _promotional(
        self, cur: Cursor[Any], invoice_id: UUID, line: dict[str, Any], position: int
    ) -> None:
        """The promotional credits' part of each price a credits line paid for: a row
        of kind ``credits``, negative, in the period of that price's usage line (added
        before it, by the same invoice)."""
        for paid in line.get("paid_for") or []:
            if int(paid["promotional"]) <= 0:
                continue
            cur.execute(
                f"INSERT INTO {self.t(LINES).as_string(cur)} (invoice_id, line_id, "
                "project_id, product_id, customer_id, currency, kind, period_start, "
                "period_end, amount, status, fee, position) "
                "SELECT u.invoice_id, %s, u.project_id, u.product_id, u.customer_id, "
                "u.currency, 'credits', u.period_start, u.period_end, %s, u.status, NULL, %s "
                f"FROM {self.t(LINES).as_string(cur)} u "
                f"JOIN {self.t(PRICES).as_string(cur)} p ON p.id = %s "
                "WHERE u.invoice_id = %s AND u.kind = 'usage' AND u.product_id = p.product_id "
                "ORDER BY u.line_id LIMIT 1 ON CONFLICT (invoice_id, line_id) DO NOTHING",
                [f"{line['id']}:{paid['price_id']}", -int(paid["promotional"]), position,
                 UUID(str(paid["price_id"])), invoice_id],
            )  # fmt: skip

    def _status(self, cur: Cursor[Any], invoice_id: UUID, status: str) -> None:
        cur.execute(
            f"UPDATE {self.t(INVOICES).as_string(cur)} SET status = %s WHERE id = %s "
            "RETURNING project_id",
            [status, invoice_id],
        )
        found = rows_of(cur)
        if not found:
            return
        cur.execute(
            f"SELECT percent FROM {self.t(FEES).as_string(cur)} WHERE project_id = %s",
            [found[0][0]],
        )
        fees = rows_of(cur)
        percent = str(fees[0][0]) if fees else "0"
        cur.execute(
            f"SELECT line_id, amount, fee FROM {self.t(LINES).as_string(cur)} "
            "WHERE invoice_id = %s",
            [invoice_id],
        )
        lines = rows_of(cur)
        # The fee is fixed when the invoice is paid, never after.
        fees_now = [
            platform_fee(int(amount), percent) if status == "paid" and fee is None else fee
            for _, amount, fee in lines
        ]
        cur.execute(
            f"UPDATE {self.t(LINES).as_string(cur)} l SET status = %s, fee = u.fee "
            "FROM unnest(%s::text[], %s::bigint[]) AS u(line_id, fee) "
            "WHERE l.invoice_id = %s AND l.line_id = u.line_id",
            [status, [str(r[0]) for r in lines], fees_now, invoice_id],
        )


def _group_text(group: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(group.items()) if v is not None)


def product_usage(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, product_id: UUID
) -> list[dict[str, Any]]:
    from projections.schema import table

    query = (
        "SELECT period_start, period_end, customer_id, meter, sum(q) AS quantity FROM ("
        "SELECT period_start, period_end, customer_id, meter, group_key, max(quantity) AS q "
        "FROM {t} WHERE project_id = %s AND product_id = %s AND kind = 'usage' "
        "AND status = ANY(%s) GROUP BY 1, 2, 3, 4, 5) g "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4"
    )
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute(query.format(t=table(schema, LINES).as_string(cur)),
                    [project_id, product_id, list(BILLED)])  # fmt: skip
        rows = rows_of(cur)
    return [
        {"period_start": r[0], "period_end": r[1], "customer_id": r[2], "meter": r[3],
         "quantity": r[4]}
        for r in rows
    ]  # fmt: skip


def product_earnings(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, product_id: UUID
) -> list[dict[str, Any]]:
    from projections.schema import table

    query = (
        "SELECT period_start, period_end, currency, sum(amount) AS gross, sum(fee) AS fee, "
        "count(*) AS lines "
        "FROM {t} WHERE project_id = %s AND product_id = %s AND status = 'paid' "
        "GROUP BY 1, 2, 3 ORDER BY 1, 3"
    )
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute(query.format(t=table(schema, LINES).as_string(cur)), [project_id, product_id])
        rows = rows_of(cur)
    return [
        {"period_start": r[0], "period_end": r[1], "currency": r[2], "gross": int(r[3]),
         "fee": int(r[4]), "net": int(r[3]) - int(r[4]), "lines": int(r[5])}
        for r in rows
    ]  # fmt: skip

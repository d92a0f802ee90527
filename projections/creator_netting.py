"""What nets a creator's earnings (issue 13): discounts, tax and credit notes, for
``projections.creator_earnings``.

- **Discounts and tax.** ``creator_invoices.line_ids`` follows the invoice's lines in
  order (every line, priced or not: ``Invoice.LineAdded`` appends, ``LineRemoved``
  drops). ``Invoice.Finalized`` carries the totals per line in that order, and each
  product line's ``amount`` becomes its ``net``: the line's amount less its share of
  the coupon's discount and less any inclusive tax in it; exclusive tax was never in it.
  The invoice's ``total`` (what the customer owes, tax included) is kept to share credit
  notes out. An invoice whose lines were added before ``line_ids`` existed keeps its
  lines' amounts (its lines and totals cannot be matched).
- **Credit notes** (refunds included: a refund of an invoice is a credit note of it).
  ``Invoice.Credited`` of ``amount`` takes from each product line of the invoice its
  share of the note without tax, ``amount x net_i / total`` (half-even to a minor unit),
  as a row of kind ``credit_note``, negative, in the period current when the note was
  issued: the latest period of that product's billed lines (open, paid, uncollectible:
  never a draft's or a voided invoice's) for that customer and currency that started at
  or before the note (the credited line's own period if none did). So a
  period already settled is never restated; the deduction lands in the period it
  happened in. The row's status follows its invoice's, like every line's: its fee is
  fixed when the invoice is (or already was) paid, from the fee configured then.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import Cursor, sql

from projections.base import rows_of

INVOICES, LINES = "creator_invoices", "creator_lines"
# Finalized and not voided (``creator_earnings.BILLED``, which imports this module): a
# draft (upcoming) or voided invoice's period earns nothing, so no deduction lands there.
BILLED = ("open", "paid", "uncollectible")


def share(amount: int, part: int, whole: int) -> int:
    """``amount x part / whole``, half-even to a minor unit."""
    exact = Decimal(amount) * Decimal(part) / Decimal(whole)
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


class Netting:
    """Mixed into ``CreatorEarnings`` (which gives ``t``, its tables' names)."""

    if TYPE_CHECKING:

        def t(self, name: str) -> sql.Composed: ...

    def line_added(self, cur: Cursor[Any], invoice_id: UUID, line_id: str) -> None:
        cur.execute(
            sql.SQL("UPDATE {} SET line_ids = line_ids || to_jsonb(%s::text) WHERE id = %s")
            .format(self.t(INVOICES)),
            [line_id, invoice_id],
        )  # fmt: skip

    def line_removed(self, cur: Cursor[Any], invoice_id: UUID, line_id: str) -> None:
        cur.execute(
            sql.SQL("UPDATE {} SET line_ids = line_ids - %s::text WHERE id = %s")
            .format(self.t(INVOICES)),
            [line_id, invoice_id],
        )  # fmt: skip

    def finalized(self, cur: Cursor[Any], invoice_id: UUID, totals: dict[str, Any]) -> None:
        """Each product line's amount becomes its net; the invoice keeps its total."""
        cur.execute(
            sql.SQL("UPDATE {} SET total = %s WHERE id = %s RETURNING line_ids")
            .format(self.t(INVOICES)),
            [int(totals.get("total", 0)), invoice_id],
        )  # fmt: skip
        found = rows_of(cur)
        per_line = totals.get("lines") or []
        if not found or len(found[0][0]) != len(per_line):
            return
        cur.execute(
            sql.SQL(
                "UPDATE {} l SET amount = u.net FROM unnest(%s::text[], %s::bigint[]) "
                "AS u(line_id, net) WHERE l.invoice_id = %s AND l.line_id = u.line_id "
                "AND l.kind NOT IN ('credits', 'credit_note')"
            ).format(self.t(LINES)),
            [list(found[0][0]), [int(li["net"]) for li in per_line], invoice_id],
        )

    def credited(
        self, cur: Cursor[Any], invoice_id: UUID, note: dict[str, Any], position: int
    ) -> None:
        """The note's share of each product line of the invoice, as deduction rows."""
        cur.execute(
            sql.SQL(
                "SELECT l.line_id, l.amount, l.product_id, l.period_start, l.period_end, "
                "i.total FROM {} l JOIN {} i ON i.id = l.invoice_id "
                "WHERE l.invoice_id = %s AND l.kind NOT IN ('credits', 'credit_note') "
                "ORDER BY l.line_id"
            ).format(self.t(LINES), self.t(INVOICES)),
            [invoice_id],
        )
        at = datetime.fromisoformat(str(note["at"]))
        for line_id, net, product_id, start, end, total in rows_of(cur):
            if not total or not net:
                continue
            amount = -share(int(note["amount"]), int(net), int(total))
            period = self._current_period(cur, invoice_id, product_id, at) or (start, end)
            row_id = f"{note['id']}:{line_id}"
            self._deduction(cur, invoice_id, line_id, row_id, amount, period, position)

    def _current_period(
        self, cur: Cursor[Any], invoice_id: UUID, product_id: UUID, at: datetime
    ) -> tuple[Any, Any] | None:
        cur.execute(
            sql.SQL(
                "SELECT l.period_start, l.period_end FROM {} l JOIN {} i "
                "ON i.id = %s AND l.project_id = i.project_id AND l.customer_id = i.customer_id "
                "AND l.currency = i.currency WHERE l.product_id = %s AND l.kind <> 'credit_note' "
                "AND l.status = ANY(%s) AND l.period_start <= %s "
                "ORDER BY l.period_start DESC LIMIT 1"
            ).format(self.t(LINES), self.t(INVOICES)),
            [invoice_id, product_id, list(BILLED), at],
        )
        found = rows_of(cur)
        return (found[0][0], found[0][1]) if found else None

    def _deduction(  # the row's facts, each named
        self,
        cur: Cursor[Any],
        invoice_id: UUID,
        credited_line: str,
        row_id: str,
        amount: int,
        period: tuple[Any, Any],
        position: int,
    ) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (invoice_id, line_id, project_id, product_id, customer_id, "
                "currency, kind, period_start, period_end, amount, status, fee, position) "
                "SELECT l.invoice_id, %s, l.project_id, l.product_id, l.customer_id, "
                "l.currency, 'credit_note', %s, %s, %s, l.status, NULL, %s FROM {} l "
                "WHERE l.invoice_id = %s AND l.line_id = %s "
                "ON CONFLICT (invoice_id, line_id) DO NOTHING"
            ).format(self.t(LINES), self.t(LINES)),
            [row_id, period[0], period[1], amount, position, invoice_id, credited_line],
        )  # fmt: skip

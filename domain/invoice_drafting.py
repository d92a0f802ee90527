"""Drafting an invoice: the Invoice's commands that change a draft (``InvoiceDrafting``):
add and remove lines, apply a coupon.

The Invoice (``domain.invoices``) extends ``InvoiceDrafting``. Each command checks its
guards (the draft guard is the Invoice's, the line rules are ``domain.invoice_lines``'),
then records the Invoice's event; the events (``LineAdded``, ``LineRemoved``,
``CouponApplied``) stay declared on the Invoice, since the library defines an
aggregate's event classes from its own class body. Finalizing is the Invoice's own.

A draft with a ``credits`` line (prepaid credits consumed for its usage, after its
discount: ``domain.credit_invoicing``) is fixed where that amount depends on it: no line
can be removed, no crediting line added and no coupon applied (each would let the
credits pay for more than the invoice owes, or turn them into the billing account's
credit); a charge can still be added. Voiding the finalized invoice gives the credits
back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.errors import CouponUnavailable, CurrencyMismatch, InvalidTransition, NotFound
from domain.invoice_lines import CREDITING, Line, build_line, check_line
from domain.invoice_totals import check_lines_within_limit
from domain.limits import MAX_DESCRIPTION_CHARS, check_text
from domain.money import Money
from domain.tax import TaxRate


class InvoiceDrafting:
    """The draft commands of an ``Invoice``: guards first, then the Invoice's event."""

    # What the commands read and record, all the Invoice's own (its fields, its draft
    # guard and its @event methods): named here so the commands type-check.
    if TYPE_CHECKING:
        currency: str
        lines: list[Line]
        rates: dict[str, dict[str, Any]]
        coupon: dict[str, Any] | None

        def check_draft(self, trigger: str) -> None: ...
        def _line_added(self, line: Line, rates: dict[str, dict[str, Any]]) -> None: ...
        def _line_removed(self, line_id: str) -> None: ...
        def _coupon_applied(self, coupon: dict[str, Any]) -> None: ...

    # -- guards ------------------------------------------------------------------------

    def check_line(self, line_id: str, kind: str, quantity: int, unit_amount: int) -> None:
        self.check_draft("add_line")
        if kind in CREDITING:
            self.check_no_credits("add_line")
        check_line(self.lines, line_id, kind, quantity, unit_amount)

    def check_remove_line(self, line_id: str) -> None:
        self.check_draft("remove_line")
        if not any(li["id"] == line_id for li in self.lines):
            raise NotFound(f"line {line_id} is not on this invoice", id=line_id)
        self.check_no_credits("remove_line")

    def check_no_credits(self, trigger: str) -> None:
        """Refuse a change to what the draft's prepaid credits paid for (the module's
        docstring says why)."""
        if any(li["kind"] == "credits" for li in self.lines):
            raise InvalidTransition(
                f"cannot {trigger.replace('_', ' ')} on a draft that prepaid credits "
                "paid for: its discount and usage are fixed",
                state="draft",
                trigger=trigger,
            )

    def check_coupon(self) -> None:
        self.check_draft("apply_coupon")
        self.check_no_credits("apply_coupon")
        if self.coupon is not None:
            raise CouponUnavailable(
                f"coupon {self.coupon.get('code')} is already applied to this invoice"
            )

    # -- commands ----------------------------------------------------------------------

    def add_line(  # a line's fields are independent facts, so they are all named
        self,
        line_id: str,
        kind: str,
        description: str,
        quantity: int,
        unit_amount: int,
        tax_rates: list[TaxRate],
        discountable: bool = True,
        amount: int | None = None,
        period: tuple[datetime, datetime] | None = None,
        tiers: list[dict[str, Any]] | None = None,
        usage: dict[str, Any] | None = None,
        price_id: str | None = None,
        paid_for: list[dict[str, Any]] | None = None,
        given: dict[str, Any] | None = None,
    ) -> None:
        """Add a line (``domain.invoice_lines``)."""
        check_text(description, "description", MAX_DESCRIPTION_CHARS, min_chars=1, free_text=True)
        self.check_line(line_id, kind, quantity, unit_amount)
        line, rates = build_line(
            line_id=line_id,
            kind=kind,
            description=description,
            quantity=quantity,
            unit_amount=unit_amount,
            tax_rates=tax_rates,
            discountable=discountable,
            amount=amount,
            period=period,
            tiers=tiers,
            usage=usage,
            price_id=price_id,
            paid_for=paid_for,
            given=given,
        )
        # The invoice with this line must still fit the limits (domain/limits/).
        check_lines_within_limit([*self.lines, line], {**self.rates, **rates}, self.coupon)
        self._line_added(line=line, rates=rates)

    def remove_line(self, line_id: str) -> None:
        self.check_remove_line(line_id)
        self._line_removed(line_id=line_id)

    def apply_coupon(
        self, coupon_id: str, percent_off: str | None, amount_off: Money | None, code: str = ""
    ) -> None:
        """Apply a coupon; a fixed amount off must be in the invoice's currency. The event
        keeps the bare amount, as it always has."""
        self.check_coupon()
        if amount_off is not None and amount_off.currency != self.currency:
            raise CurrencyMismatch(
                f"coupon '{code}' takes {amount_off.currency} off; this is billed in "
                f"{self.currency}",
                coupon_currency=amount_off.currency,
                currency=self.currency,
            )
        self._coupon_applied(
            coupon={
                "id": coupon_id,
                "code": code,
                "percent_off": percent_off,
                "amount_off": None if amount_off is None else amount_off.amount,
            }
        )

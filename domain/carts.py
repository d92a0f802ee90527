"""The Cart aggregate: items a customer gathers before one hosted checkout.

Lines are ad-hoc (name and unit amount in minor units) or come from a catalog price;
the cart keeps the amount it showed, so the checkout charges what the cart said. One
currency per cart. A checked-out cart is closed to changes.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.utils import register_topic

from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.errors import (
    CartEmpty,
    CurrencyMismatch,
    InvalidTransition,
    LimitReached,
    NotFound,
    ValidationFailed,
)
from domain.limits import MAX_NAME_CHARS, MAX_QUANTITY, check_text
from domain.money import Money, check_amount, check_currency, check_within_limit

OPEN, CHECKED_OUT = "open", "checked_out"
MAX_LINES = 50


class Cart(TallyAggregate):
    TOPIC = "tally:Cart"

    @event("Created", topic="tally:Cart.Created")
    def __init__(self, project_id: UUID, customer_id: UUID | None, currency: str) -> None:
        self.project_id = project_id
        self.customer_id = customer_id
        self.currency = currency
        self.status = OPEN
        self.lines: dict[str, dict[str, Any]] = {}
        self.next_line = 1

    @classmethod
    def open(cls, project_id: UUID, customer_id: UUID | None, currency: str) -> Cart:
        check_currency(currency)
        return cls(project_id=project_id, customer_id=customer_id, currency=currency)

    @property
    def total(self) -> int:
        return sum(int(line["unit_amount"]) * int(line["quantity"]) for line in self.lines.values())

    def _check_open(self) -> None:
        if self.status != OPEN:
            raise InvalidTransition(
                f"cannot change a cart that is {self.status}", state=self.status, trigger="change"
            )

    def add_line(self, name: str, unit_amount: Money, quantity: int, price_id: UUID | None) -> str:
        """Add ``quantity`` of ``unit_amount``; the line keeps the bare amount, the cart
        its one currency."""
        self._check_open()
        # A catalog line is named "<product name> x <quantity>", a little longer than a name.
        check_text(name, "name", MAX_NAME_CHARS + 16, min_chars=1)
        if unit_amount.currency != self.currency:
            raise CurrencyMismatch(
                f"the cart is in {self.currency}, the item in {unit_amount.currency}",
                expected=self.currency,
                got=unit_amount.currency,
            )
        check_amount(unit_amount.amount)
        if not 0 < quantity <= MAX_QUANTITY:
            raise ValidationFailed(f"quantity must be 1 to {MAX_QUANTITY}")
        if len(self.lines) >= MAX_LINES:
            raise LimitReached(f"a cart holds at most {MAX_LINES} lines", limit=MAX_LINES)
        # The checkout charges the cart's total in one payment, so it must fit the limit.
        check_within_limit(self.total + unit_amount.amount * quantity, "the cart's total")
        line_id = f"li_{self.next_line}"
        self._line_added(
            line_id=line_id,
            line={
                "id": line_id,
                "name": name,
                "unit_amount": unit_amount.amount,
                "quantity": quantity,
                "price_id": str(price_id) if price_id else None,
            },
        )
        return line_id

    @event("LineAdded", topic="tally:Cart.LineAdded")
    def _line_added(self, line_id: str, line: dict[str, Any]) -> None:
        self.lines[line_id] = line
        self.next_line += 1

    def remove_line(self, line_id: str) -> None:
        self._check_open()
        if line_id not in self.lines:
            raise NotFound(f"cart line {line_id} not found", id=line_id)
        self._line_removed(line_id=line_id)

    @event("LineRemoved", topic="tally:Cart.LineRemoved")
    def _line_removed(self, line_id: str) -> None:
        del self.lines[line_id]

    def check_out(self) -> None:
        self._check_open()
        if not self.lines:
            raise CartEmpty("an empty cart cannot be checked out")
        self._checked_out()

    @event("CheckedOut", topic="tally:Cart.CheckedOut")
    def _checked_out(self) -> None:
        self.status = CHECKED_OUT

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "customer_id": str(self.customer_id) if self.customer_id else None,
            "currency": self.currency,
            "status": self.status,
            "lines": plain_copy(list(self.lines.values())),
            "total": self.total,
        }


# The event was `Cart.Opened` until issue 17 named it after its command, CreateCart,
# as DESIGN.md asks (events past tense, commands imperative). Stored events never
# change: the old topic still reads, as this class.
register_topic("tally:Cart.Opened", Cart.Created)

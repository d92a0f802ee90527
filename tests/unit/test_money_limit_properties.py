"""Hypothesis over amounts at the limit, through the real handlers on the in-memory
store (issue 10, reproduction 2): whatever a client sends within each field's own limit,

- every amount an accepted invoice's events carry (lines, totals, tax, discounts, the
  postings of its entries, the customer's credit) is an int within ±MAX_AMOUNT_MINOR;
- after any sequence of deposits, withdrawals, transfers and holds, accepted or
  refused, every account's ledger balance and held amount stay within ±MAX_AMOUNT_MINOR
  (the read models keep them in BIGINT), and a refusal writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from commands import messages as m
from domain.accounts import Account
from domain.errors import AmountTooLarge, DomainError
from domain.limits import MAX_AMOUNT_MINOR, MAX_QUANTITY
from tests.unit.invoicing_world import InvoicingWorld
from tests.unit.ledger_world import LedgerWorld

# Amounts anywhere in range, but mostly near the limit, where products and sums pass it.
NEAR_LIMIT = st.integers(MAX_AMOUNT_MINOR - 10**6, MAX_AMOUNT_MINOR)
AMOUNT = st.one_of(st.integers(1, MAX_AMOUNT_MINOR), NEAR_LIMIT, st.integers(1, 10**6))
HALF = st.integers(MAX_AMOUNT_MINOR // 2 - 10, MAX_AMOUNT_MINOR // 2 + 10)
UNIT_AMOUNT = st.one_of(st.integers(0, MAX_AMOUNT_MINOR), NEAR_LIMIT, HALF, st.integers(0, 5000))
QUANTITY = st.one_of(st.just(1), st.integers(1, MAX_QUANTITY), st.integers(1, 3))
LINE = st.tuples(UNIT_AMOUNT, QUANTITY, st.integers(0, 2))
# Keys under which an invoice's events carry money.
MONEY_KEYS = {
    "amount",
    "unit_amount",
    "subtotal",
    "discount",
    "tax",
    "net",
    "gross",
    "total",
    "credit_applied",
    "credit_granted",
}


def money_values(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) under a money key in ``value``, however deep, and every value
    of a ``tax_by_rate`` map."""
    if isinstance(value, dict):
        for k, v in value.items():
            if key == "tax_by_rate" or (k in MONEY_KEYS and not isinstance(v, dict | list)):
                yield k, v
            else:
                yield from money_values(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from money_values(item, key)


def _invoice_world() -> tuple[InvoicingWorld, UUID, list[list[UUID]]]:
    world = InvoicingWorld()
    customer = UUID(world.customer("c0"))
    rates = [[], [world.tax("100")], [world.tax("10", inclusive=True)]]
    world.run(m.DefineCoupon(code="FIX", amount_off=700, currency="EUR", duration="forever"))
    return world, customer, rates


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(LINE, min_size=1, max_size=4),
    coupon=st.booleans(),
    credit=st.one_of(st.just(0), NEAR_LIMIT),
)
def test_every_amount_an_accepted_invoice_records_is_an_int_within_the_limit(
    lines: list[tuple[int, int, int]], coupon: bool, credit: int
) -> None:
    world, customer, rates = _invoice_world()
    try:
        if credit:
            world.run(m.AdjustCreditBalance(customer_id=customer, amount=credit))
        inputs = [
            m.InvoiceLineInput(
                description="x", unit_amount=unit, quantity=qty, tax_rate_ids=rates[rate]
            )
            for unit, qty, rate in lines
        ]
        # Drafted whole, then line by line, so both ways of adding a line are tried.
        _run_or_refused(world, m.CreateInvoice(customer_id=customer, lines=inputs))
        drafted = _run_or_refused(world, m.CreateInvoice(customer_id=customer))
        assert drafted is not None
        invoices = [UUID(drafted["invoice"]["id"])]
        for line in inputs:
            _run_or_refused(world, m.AddInvoiceLine(invoice_id=invoices[0], line=line))
        for n in world.app.recorder.select_notifications(1, 1000, topics=["tally:Invoice.Created"]):
            invoice_id = UUID(str(n.originator_id))
            if coupon:
                _run_or_refused(world, m.ApplyCoupon(invoice_id=invoice_id, coupon_code="FIX"))
            _run_or_refused(world, m.FinalizeInvoice(invoice_id=invoice_id))
        checked = 0
        for n in world.app.recorder.select_notifications(1, 1_000_000):
            state = world.app.mapper.to_domain_event(n).__dict__
            for key, value in money_values(state):
                assert type(value) is int, (n.topic, key, value)
                assert -MAX_AMOUNT_MINOR <= value <= MAX_AMOUNT_MINOR, (n.topic, key, value)
                checked += 1
        # Shown by --hypothesis-show-statistics: most examples have amounts to check.
        event("some amounts recorded" if checked else "every command refused")
    finally:
        world.bus.close()


def _run_or_refused(world: InvoicingWorld, command: m.Command) -> dict[str, Any] | None:
    """Run ``command`` and return its answer; a refusal (None) must have written nothing."""
    before = world.head()
    try:
        return world.body(command)
    except DomainError:
        assert world.head() == before, f"{type(command).__name__} was refused but wrote"
        return None


LEDGER_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(0, 2), AMOUNT),
        st.tuples(st.just("withdraw"), st.integers(0, 2), AMOUNT),
        st.tuples(st.just("transfer"), st.integers(0, 2), st.integers(0, 2), AMOUNT),
        st.tuples(st.just("hold"), st.integers(0, 2), st.integers(0, 3), AMOUNT),
        st.tuples(st.just("capture"), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=25,
)


class LimitLedger:
    """Three accounts, one of them allowed the deepest overdraft there is."""

    def __init__(self) -> None:
        self.world = LedgerWorld()
        self.accounts = [
            self._open("plain", 0),
            self._open("deep", MAX_AMOUNT_MINOR),
            self._open("small", 10),
        ]
        self.holds: list[tuple[UUID, str]] = []

    def _open(self, owner: str, overdraft: int) -> UUID:
        opened = self.world.run(
            m.OpenAccount(owner_ref=owner, currency="EUR", overdraft_limit=overdraft)
        )
        assert opened.outcome is not None
        return UUID(opened.outcome.body["account"]["id"])

    def command(self, op: tuple[Any, ...]) -> m.Command | None:
        kind = op[0]
        if kind == "capture":
            if not self.holds:
                return None
            account_id, hold_id = self.holds[op[1] % len(self.holds)]
            return m.CaptureHold(account_id=account_id, hold_id=hold_id)
        first = self.accounts[op[1] % 3]
        if kind == "deposit":
            return m.Deposit(account_id=first, amount=op[2], currency="EUR")
        if kind == "withdraw":
            return m.Withdraw(account_id=first, amount=op[2], currency="EUR")
        if kind == "transfer":
            target = self.accounts[op[2] % 3]
            if target == first:
                return None
            return m.Transfer(
                from_account_id=first, to_account_id=target, amount=op[3], currency="EUR"
            )
        # A hold paying into another account when captured, or into a clearing account.
        destination = self.accounts[op[2]] if op[2] < 3 else None
        return m.PlaceHold(
            account_id=first,
            amount=op[3],
            currency="EUR",
            expires_at=self.world.clock.now().replace(year=2030),
            destination_account_id=None if destination == first else destination,
        )

    def run(self, op: tuple[Any, ...]) -> None:
        command = self.command(op)
        if command is None:
            return
        attempt = self.world.run(command)  # asserts that a refusal wrote nothing
        if attempt.outcome is not None and isinstance(command, m.PlaceHold):
            self.holds.append((command.account_id, attempt.outcome.body["hold"]["id"]))
        if isinstance(attempt.error, AmountTooLarge):
            assert abs(attempt.error.context["amount"]) > MAX_AMOUNT_MINOR

    def check(self) -> None:
        for account_id in self.accounts:
            account: Account = self.world.load(Account, account_id)
            assert -MAX_AMOUNT_MINOR <= account.ledger <= MAX_AMOUNT_MINOR, account.summary()
            assert 0 <= account.held <= MAX_AMOUNT_MINOR, account.summary()
            assert -MAX_AMOUNT_MINOR <= account.available <= MAX_AMOUNT_MINOR, account.summary()
        self.world.check_invariants()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LEDGER_OPS)
def test_balances_stay_within_the_limit_whatever_is_accepted(ops: list[tuple[Any, ...]]) -> None:
    ledger = LimitLedger()
    try:
        for op in ops:
            ledger.run(op)
            ledger.check()
    finally:
        ledger.world.close()

"""The text and time limits (domain/limits/) and the API types built from them
(commands/limits_types.py) agree: what the schema's pattern accepts the domain accepts,
and a control character is refused by all three (pydantic, JSON Schema, the domain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from commands.limits_types import EMAIL_PATTERN, Description, Email, Name, Timestamp
from domain import limits
from domain.accounts import Account
from domain.carts import Cart
from domain.catalog import Product
from domain.customers import Customer
from domain.errors import ValidationFailed
from domain.invoices import Invoice
from domain.money import Money
from domain.periods import Schedule
from domain.projects import Project
from domain.test_clocks import TestClock
from domain.transactions import Transaction

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAME = TypeAdapter(Name)
DESCRIPTION = TypeAdapter(Description)
EMAIL = TypeAdapter(Email)
CONTROLS = [chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]]
# Any code point, lone surrogates included, with control characters made common.
ANY_TEXT = st.text(
    st.one_of(st.characters(codec=None, categories=None), st.sampled_from(CONTROLS)),
    max_size=30,
)


def _accepts(adapter: TypeAdapter[Any], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def _domain_accepts(value: str, *, free_text: bool) -> bool:
    try:
        limits.check_text(value, "field", 200, free_text=free_text)
    except ValidationFailed:
        return False
    return True


def _schema_accepts(pattern: str, value: str) -> bool:
    """What the schema says, as the fuzzer's own JSON Schema validator reads it (pydantic
    reads the pattern with another engine, Rust's regex). Python's ``re`` would differ on
    one point only: its ``$`` also matches before a final newline."""
    schema = {"type": "string", "pattern": pattern, "maxLength": 200}
    return bool(jsonschema_rs.validator_for(schema).is_valid(value))


@given(ANY_TEXT)
def test_the_api_the_schema_and_the_domain_agree_on_names(value: str) -> None:
    # Lone surrogates cannot be sent as JSON (pydantic refuses them) nor stored; the
    # schema's pattern has no word on them, and no JSON client can produce one.
    has_surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    api = _accepts(NAME, value) if value else True  # Name needs 1 character
    domain = _domain_accepts(value, free_text=False)
    assert api == domain
    if not has_surrogate:
        assert _schema_accepts(limits.TEXT_PATTERN, value) == domain
    assert domain == (not any(c in CONTROLS for c in value) and not has_surrogate)


@given(ANY_TEXT)
def test_the_api_the_schema_and_the_domain_agree_on_free_text(value: str) -> None:
    has_surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    domain = _domain_accepts(value, free_text=True)
    assert _accepts(DESCRIPTION, value) == domain
    if not has_surrogate:
        assert _schema_accepts(limits.FREE_TEXT_PATTERN, value) == domain
    expected = not any(c in CONTROLS and c != "\t" for c in value) and not has_surrogate
    assert domain == expected


@given(st.one_of(ANY_TEXT, st.builds("{}@{}".format, ANY_TEXT, ANY_TEXT)))
def test_the_api_and_the_domain_agree_on_emails(value: str) -> None:
    try:
        Customer.register(PROJECT, "u1", value, "", "EUR")
        domain = True
    except ValidationFailed:
        domain = False
    assert _accepts(EMAIL, value) == domain
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        assert _schema_accepts(EMAIL_PATTERN, value) == domain


def test_lengths_count_characters_not_bytes() -> None:
    assert limits.check_text("😀" * 200, "name", 200) == "😀" * 200
    with pytest.raises(ValidationFailed, match="1 to 200 characters"):
        limits.check_text("😀" * 201, "name", 200, min_chars=1)
    with pytest.raises(ValidationFailed, match="1 to 200 characters"):
        limits.check_text("", "name", 200, min_chars=1)


def test_metadata_keys_and_values_are_checked() -> None:
    assert limits.check_metadata({"team": "core"}) == {"team": "core"}
    for bad in ({"te\x00am": "x"}, {"team": "a\x00b"}, {str(n): "" for n in range(21)}):
        with pytest.raises(ValidationFailed):
            limits.check_metadata(bad)


TIMESTAMP = TypeAdapter(Timestamp)
TIMESTAMP_SCHEMA = jsonschema_rs.validator_for(
    {"type": "string", "format": "date-time", "pattern": limits.TIMESTAMP_PATTERN}
)


def _timestamp_accepted(text: str) -> bool:
    try:
        moment = TIMESTAMP.validate_python(text)
    except ValidationError:
        return False
    assert limits.check_timestamp(moment, "at") == moment  # the domain accepts it too
    return True


@given(st.from_regex(limits.TIMESTAMP_PATTERN, fullmatch=True))
def test_every_timestamp_the_schema_allows_is_accepted(text: str) -> None:
    assert _timestamp_accepted(text)


@given(st.datetimes(), st.integers(-(23 * 60 + 59), 23 * 60 + 59))
def test_the_api_accepts_a_timestamp_exactly_when_the_schema_does(
    moment: datetime, offset_minutes: int
) -> None:
    text = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).isoformat()
    assert _timestamp_accepted(text) == TIMESTAMP_SCHEMA.is_valid(text)


def test_timestamp_dates_are_real_ones() -> None:
    for text, real in [
        ("2024-02-29T00:00:00Z", True),
        ("2000-02-29T00:00:00Z", True),
        ("2023-02-29T00:00:00Z", False),
        ("2100-02-29T00:00:00Z", False),
        ("2030-04-31T00:00:00Z", False),
    ]:
        assert _timestamp_accepted(text) == TIMESTAMP_SCHEMA.is_valid(text) == real


def test_timestamps_must_be_aware_and_in_range() -> None:
    for bad in (
        datetime(2030, 1, 1),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
        datetime(1969, 12, 31, 23, 0, tzinfo=UTC),
    ):
        with pytest.raises(ValidationFailed):
            limits.check_timestamp(bad, "at")
    assert limits.check_timestamp(limits.MAX_TIMESTAMP, "at") == limits.MAX_TIMESTAMP


# -- the aggregates refuse before they record --------------------------------------------


def test_aggregates_refuse_control_characters_before_recording() -> None:
    bad = "a\x00b"
    refusals = [
        lambda: Product.define(PROJECT, "P1", bad, []),
        lambda: Product.define(PROJECT, "P1", "Pro", ["sso", bad]),
        lambda: Account.open(PROJECT, bad, "EUR"),
        lambda: Account.open(PROJECT, "alice", "EUR", metadata={"team": bad}),
        lambda: Customer.register(PROJECT, "u1", "", bad, "EUR"),
        lambda: Customer.register(PROJECT, "u1", "a\x00@b", "", "EUR"),
        lambda: Project.create(bad),
        lambda: TestClock.create(PROJECT, bad, NOW),
        lambda: Transaction.begin(
            id=uuid4(),
            project_id=PROJECT,
            kind="deposit",
            amount=Money(1, "EUR"),
            from_ref="clearing:manual",
            to_ref="wallet:x",
            complete_now=True,
            description=bad,
        ),
    ]
    for refuse in refusals:
        with pytest.raises(ValidationFailed):
            refuse()


def test_an_invoice_line_and_a_cart_line_refuse_a_nul() -> None:
    invoice = Invoice(
        project_id=PROJECT, customer_id=uuid4(), currency="EUR", subscription_id=None,
        period_start=None, period_end=None,
    )  # fmt: skip
    version = invoice.version
    with pytest.raises(ValidationFailed):
        invoice.add_line("li_1", "one_time", "a\x00b", 1, 100, [])
    assert invoice.version == version
    assert invoice.lines == []
    cart = Cart.open(PROJECT, None, "EUR")
    with pytest.raises(ValidationFailed):
        cart.add_line("a\x00b", Money(100, "EUR"), 1, None)
    assert cart.lines == {}


def test_a_hold_or_a_clock_past_the_range_is_refused_and_nothing_recorded() -> None:
    account = Account.open(PROJECT, "alice", "EUR", overdraft_limit=1000)
    version = account.version
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))
    with pytest.raises(ValidationFailed, match="expires_at"):
        account.place_hold("h1", Money(100, "EUR"), late, "clearing:manual", NOW)
    assert account.version == version
    assert account.holds == {}
    with pytest.raises(ValidationFailed, match="frozen_time"):
        TestClock.create(PROJECT, "clock", late)
    clock = TestClock.create(PROJECT, "clock", NOW)
    with pytest.raises(ValidationFailed, match="to"):
        clock.advance(late)


def test_a_billing_period_past_the_range_is_refused_not_an_arithmetic_error() -> None:
    schedule = Schedule(datetime(9997, 1, 1, tzinfo=UTC), "year", 365)
    assert schedule.boundary(0) == datetime(9997, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationFailed, match="9999-01-01"):
        schedule.boundary(1)  # year 10362: Python's datetime cannot hold it
    monthly = Schedule(datetime(9998, 12, 1, tzinfo=UTC), "month")
    assert monthly.period(0)[1] == limits.MAX_TIMESTAMP
    with pytest.raises(ValidationFailed):
        monthly.period(1)  # 9999-02-01: representable, past the limit


def test_a_time_computed_past_the_range_is_refused_not_an_overflow() -> None:
    start = datetime(9998, 6, 1, tzinfo=UTC)
    assert limits.later(start, timedelta(days=30), "at") == datetime(9998, 7, 1, tzinfo=UTC)
    with pytest.raises(ValidationFailed, match="trial_end"):
        limits.later(start, timedelta(days=730), "trial_end")  # past Python's datetime
    with pytest.raises(ValidationFailed, match="trial_end"):
        limits.later(start, timedelta(days=300), "trial_end")  # past MAX_TIMESTAMP

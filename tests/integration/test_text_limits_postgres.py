"""The text and time limits against the real store: any text the domain accepts is one
Postgres stores as it was given (text and jsonb, as the read models keep it), and a
command that slips past the API (built without validation, as a careless caller could)
is refused by the domain with nothing written (issue 10, reproductions 1 and 5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from api.bootstrap import Tally
from commands import messages as m
from commands import provider_messages as pm
from commands.bus import Context
from domain import limits
from domain.errors import ValidationFailed
from projections.registry import current_position
from projections.runner import ProjectionWorker
from projections.stalls import stalls
from tests.e2e.conftest import create_project, head

NUL = "a\u0000b"


@pytest.fixture(scope="module")
def conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_url, autocommit=True) as connection:
        yield connection


def _accepted(value: str) -> bool:
    try:
        limits.check_text(value, "field", 10_000, free_text=True)
    except ValidationFailed:
        return False
    return True


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(codec=None, categories=None), max_size=40))
def test_any_text_the_domain_accepts_round_trips_through_postgres(
    conn: psycopg.Connection[Any], value: str
) -> None:
    if not _accepted(value):
        assert any(c in value for c in "\x00\r\n") or any(
            ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in value
        )
        return
    row = conn.execute("SELECT %s::text, %s::jsonb", (value, Jsonb({value: value}))).fetchone()
    assert row == (value, {value: value})


def test_postgres_refuses_what_the_domain_refuses(conn: psycopg.Connection[Any]) -> None:
    # Why NUL is refused at all: neither column type the read models use can hold it.
    with pytest.raises(psycopg.errors.UntranslatableCharacter):
        conn.execute("SELECT %s::jsonb", (Jsonb({"name": NUL}),))
    with pytest.raises(psycopg.DataError):
        conn.execute("SELECT %s::text", (NUL,))


def _refused(tally: Tally, project_id: UUID, command: m.Command) -> None:
    before = head(tally)
    with pytest.raises(ValidationFailed):
        tally.execute(command, Context(project_id, "test"))
    assert head(tally) == before, "a refused command wrote events"


def test_commands_that_slip_past_the_api_are_refused_by_the_domain(tally: Tally) -> None:
    project_id, _, _, _ = create_project(tally, "acme")
    ctx = Context(project_id, "test")
    account = tally.execute(m.OpenAccount(owner_ref="alice", currency="EUR"), ctx)
    account_id = UUID(account.body["account"]["id"])
    customer = tally.execute(m.RegisterCustomer(external_id="u1", currency="EUR"), ctx)
    customer_id = UUID(customer.body["customer"]["id"])
    tally.execute(m.Deposit(account_id=account_id, amount=1000, currency="EUR"), ctx)
    # model_construct skips validation, as a command built by hand (or by a loader that
    # forgot to validate) would; the aggregates still refuse before recording.
    slipped: list[m.Command] = [
        m.DefineProduct.model_construct(code="P1", name=NUL, features=[]),
        m.RegisterCustomer.model_construct(external_id="u2", name=NUL, currency="EUR"),
        m.OpenAccount.model_construct(owner_ref=NUL, currency="EUR"),
        m.OpenAccount.model_construct(owner_ref="bob", currency="EUR", metadata={"k": NUL}),
        m.Deposit.model_construct(
            account_id=account_id, amount=100, currency="EUR", description=NUL
        ),
        m.CreateInvoice.model_construct(
            customer_id=customer_id,
            lines=[m.InvoiceLineInput.model_construct(description=NUL, unit_amount=100)],
        ),
        m.PlaceHold.model_construct(
            account_id=account_id,
            amount=100,
            currency="EUR",
            expires_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
        ),
    ]
    slipped.append(  # its URL goes into the provider call the read models keep whole
        pm.TopUpAccount.model_construct(
            provider="stub",
            account_id=account_id,
            amount=100,
            currency="EUR",
            success_url="http://127.0.0.1/\u0000",
        )
    )
    # A source or destination names a clearing account (clearing:<source>).
    slipped.append(
        m.Deposit.model_construct(account_id=account_id, amount=1, currency="EUR", source=NUL)
    )
    later = datetime(2030, 1, 1, tzinfo=UTC)
    slipped.append(
        m.PlaceHold.model_construct(
            account_id=account_id, amount=1, currency="EUR", expires_at=later, destination=NUL
        )
    )
    line = m.InvoiceLineInput(description="Consulting", unit_amount=100)
    invoice = tally.execute(m.CreateInvoice(customer_id=customer_id, lines=[line]), ctx)
    invoice_id = UUID(invoice.body["invoice"]["id"])
    tally.execute(m.FinalizeInvoice(invoice_id=invoice_id), ctx)
    slipped.append(
        m.PayInvoice.model_construct(invoice_id=invoice_id, method="out_of_band", reference=NUL)
    )
    for command in slipped:
        _refused(tally, project_id, command)
    # Everything that was written is something every read model can store.
    ProjectionWorker(tally.store, tally.views, tally.schema, 100).catch_up()
    assert stalls(tally.views, tally.schema) == []
    assert current_position(tally.views, tally.schema) == head(tally)

"""A real command bus on the library's in-memory store, with customers, a catalog and
subscriptions; shared by the subscription tests of the unit tier."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from adapters.clock import FixedClock
from commands import catalog, customers, ledger, projects, subscriptions, test_clocks
from commands import messages as m
from commands.bus import CommandBus, Context, Outcome
from domain.subscriptions import Subscription

START = datetime(2027, 1, 31, 9, tzinfo=UTC)
NO_PROJECT = UUID(int=0)


class World:
    def __init__(self, mode: str = "test") -> None:
        self.app = Application[UUID]()
        self.clock = FixedClock(START)
        handlers = {
            **ledger.HANDLERS,
            **projects.HANDLERS,
            **customers.HANDLERS,
            **catalog.HANDLERS,
            **subscriptions.HANDLERS,
            **test_clocks.HANDLERS,
        }
        self.bus = CommandBus(self.app, handlers, self.clock)
        made = self.bus.execute(m.CreateProject(name="w", mode=mode), Context(NO_PROJECT, "cli"))
        self.project_id = UUID(made.body["project"]["id"])

    def run(self, command: m.Command, key: str | None = None) -> Outcome:
        return self.bus.execute(command, Context(self.project_id, "key_test", key))

    def body(self, command: m.Command) -> dict[str, Any]:
        return self.run(command).body

    def plan(self, code: str, amount: int, currency: str = "EUR", **price: Any) -> str:
        product = self.body(m.DefineProduct(code=code, name=code.title(), features=[code]))
        created = self.body(
            m.DefinePrice(
                product_id=UUID(product["product"]["id"]),
                lookup_key=f"{code}_monthly_{currency}",
                currency=currency,
                scheme="flat",
                unit_amount=amount,
                interval="month",
                **price,
            )
        )
        return str(created["price"]["id"])

    def customer(self, external_id: str = "u1", clock: str | None = None) -> str:
        body = self.body(
            m.RegisterCustomer(
                external_id=external_id,
                currency="EUR",
                test_clock_id=UUID(clock) if clock else None,
            )
        )
        return str(body["customer"]["id"])

    def sub(self, sub_id: str) -> Subscription:
        return self.app.repository.get(UUID(sub_id))  # type: ignore[no-any-return]

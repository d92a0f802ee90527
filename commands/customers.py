"""Handlers for customers: register (or retrieve), update."""

from __future__ import annotations

from typing import Any

from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.test_clocks import check_test_mode
from domain.customers import Customer
from domain.projects import Project
from domain.test_clocks import TestClock


def customer_summary(customer: Customer) -> dict[str, Any]:
    return {**customer.summary(), "created": created(customer)}


def register_customer(uow: UnitOfWork, cmd: m.RegisterCustomer, ctx: Context) -> Result:
    """Register-or-retrieve by external id: the second call answers the first customer."""
    customer_id = Customer.create_id(ctx.project_id, cmd.external_id)
    existing = uow.find(Customer, customer_id)
    if existing is not None:
        return Result.existed({"customer": customer_summary(existing), "created": False})
    if cmd.test_clock_id is not None:
        check_test_mode(uow, ctx)
        uow.get(TestClock, cmd.test_clock_id, ctx.project_id)
    currency = cmd.currency
    if currency is None:
        currency = uow.get(Project, ctx.project_id, ctx.project_id).currency_or_default(None)
    customer = Customer.register(
        ctx.project_id,
        cmd.external_id,
        cmd.email,
        cmd.name,
        currency,
        dict(cmd.metadata),
        cmd.test_clock_id,
    )
    uow.add(customer)
    return Result.created({"customer": customer_summary(customer), "created": True})


def update_customer(uow: UnitOfWork, cmd: m.UpdateCustomer, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    customer.update(
        email=cmd.email,
        name=cmd.name,
        metadata=dict(cmd.metadata) if cmd.metadata is not None else None,
    )
    return Result.changed({"customer": customer_summary(customer)})


HANDLERS: dict[type[m.Command], Handler] = {
    m.RegisterCustomer: register_customer,
    m.UpdateCustomer: update_customer,
}

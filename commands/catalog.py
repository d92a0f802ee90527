"""Handlers for the catalog (products, prices)."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID, uuid5

from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from domain.catalog import METERED, Price, Product
from domain.errors import PriceArchived, UnknownMeter
from domain.meters import Meter


def product_summary(product: Product) -> dict[str, Any]:
    return {**product.summary(), "created": created(product)}


def define_product(uow: UnitOfWork, cmd: m.DefineProduct, ctx: Context) -> Result:
    """Create a product, or revise its name and features: loading a catalog twice is
    harmless."""
    product_id = Product.create_id(ctx.project_id, cmd.code)
    product = uow.find(Product, product_id)
    if product is None:
        product = Product.define(ctx.project_id, cmd.code, cmd.name, list(cmd.features))
        if cmd.owner is not None:
            product.set_owner(cmd.owner)
        uow.add(product)
        return Result.created({"product": product_summary(product)})
    product.revise(cmd.name, list(cmd.features))
    if cmd.owner is not None:
        product.set_owner(cmd.owner)
    return Result.changed({"product": product_summary(product)})


def archive_product(uow: UnitOfWork, cmd: m.ArchiveProduct, ctx: Context) -> Result:
    product = uow.get(Product, cmd.product_id, ctx.project_id)
    product.archive()
    return Result.changed({"product": product_summary(product)})


def price_summary(price: Price) -> dict[str, Any]:
    return {**price.summary(), "created": created(price)}


def price_id_for(project_id: UUID, cmd: m.DefinePrice) -> UUID:
    """A price's id comes from its lookup key and its whole definition, so the same
    definition is the same price and any change is a new one."""
    definition = cmd.model_dump(mode="json")
    if definition.get("package") is None:
        # Prices defined before packages existed keep their ids (and so their
        # definitions answer as the same price).
        definition.pop("package", None)
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
    return uuid5(project_id, f"price:{cmd.lookup_key}:{digest}")


def define_price(uow: UnitOfWork, cmd: m.DefinePrice, ctx: Context) -> Result:
    """Create a price under a lookup key. Prices are never edited: a changed definition is
    a new price, and the one it replaces is archived."""
    product = uow.get(Product, cmd.product_id, ctx.project_id)
    price_id = price_id_for(ctx.project_id, cmd)
    existing = uow.find(Price, price_id)
    if existing is not None:
        if not existing.active:
            raise PriceArchived(
                f"price {price_id} with this definition was archived; change the lookup key "
                "or the definition to publish a new one",
                price_id=str(price_id),
            )
        product.set_price(cmd.lookup_key, existing.id)
        return Result.existed({"price": price_summary(existing), "created": False})
    if cmd.scheme in METERED:
        _check_meter(uow, ctx.project_id, cmd.meter)
    replaced_id = product.prices.get(cmd.lookup_key)
    replaced = uow.get(Price, UUID(replaced_id), ctx.project_id) if replaced_id else None
    price = Price.define(
        project_id=ctx.project_id,
        product_id=product.id,
        currency=cmd.currency,
        scheme=cmd.scheme,
        unit_amount=cmd.unit_amount,
        tiers=[t.model_dump() for t in cmd.tiers],
        meter=cmd.meter,
        interval=cmd.interval,
        interval_count=cmd.interval_count,
        trial_days=cmd.trial_days,
        package=cmd.package.model_dump() if cmd.package is not None else None,
        price_id=price_id,
        lookup_key=cmd.lookup_key,
    )
    if replaced is not None and replaced.id != price.id:
        replaced.archive()
    product.set_price(cmd.lookup_key, price.id)
    uow.add(price)
    return Result.created({"price": price_summary(price), "created": True})


def _check_meter(uow: UnitOfWork, project_id: UUID, code: str) -> None:
    """A new metered price names a meter of its project. Prices defined before meters
    existed (issue 13) may name none: they keep working, rated 0 at renewal as before,
    and defining the same price again answers it as it is (``existed``, above)."""
    if code and uow.find(Meter, Meter.create_id(project_id, code)) is None:
        raise UnknownMeter(
            f"no meter '{code}' in this project; define it first (POST /v1/meters)",
            meter=code,
        )


def archive_price(uow: UnitOfWork, cmd: m.ArchivePrice, ctx: Context) -> Result:
    price = uow.get(Price, cmd.price_id, ctx.project_id)
    price.archive()
    return Result.changed({"price": price_summary(price)})


HANDLERS: dict[type[m.Command], Handler] = {
    m.DefineProduct: define_product,
    m.ArchiveProduct: archive_product,
    m.DefinePrice: define_price,
    m.ArchivePrice: archive_price,
}

"""A catalog as a YAML file, loaded with ``tally catalog load FILE.yaml --project ID``.

The file lists meters (issue 13) and products (plans) with their features and prices::

    meters:                             # defined first, so metered prices can name them
      - code: api_calls                 # unique per project; a metered price's `meter`
        name: API calls
        event_name: api_call            # the usage events it counts
        aggregation: count              # count | sum | max | unique_count | latest | weighted_sum
        # property: tokens              # the property it folds (every aggregation but count)
        # filters: {region: [eu, us]}   # counts only events whose region is eu or us
        # group_by: [model]             # splits the usage by model
    products:
      - code: PRO                       # plan code: letters, digits, underscores
        name: Pro
        features: [api, sso, priority_support]
        prices:
          - lookup_key: pro_monthly_eur # the product's name for this price
            currency: EUR
            scheme: flat                # flat | per_unit | graduated | volume | metered...
                                        # metered_package: package: {size: 1000, round: up,
                                        #   free_units: 100}; unit_amount per package
            unit_amount: 2900           # minor units
            interval: month             # day | week | month | year; omit for one-time
            trial_days: 14
            provider_price_ids: {stripe: price_1PgafmB7WZ01}  # when Stripe runs it
          - lookup_key: pro_seats_eur
            currency: EUR
            scheme: graduated
            interval: month
            tiers:
              - {up_to: 10, unit_amount: 500}
              - {up_to: null, unit_amount: 400, flat_amount: 0}
      - code: LEGACY
        name: Legacy
        active: false                   # archive the product (it leaves the plan list)

Fields and limits are those of ``POST /v1/meters``, ``POST /v1/products`` and
``POST /v1/prices`` (``provider_price_ids``: ``POST /v1/prices/{id}/provider_price_ids``,
replacing the price's mapping; left out, the mapping stays as it is); unknown
fields are refused, so a typo never passes silently. The whole file is checked before
anything is written.

Loading is idempotent: each meter is defined (the same definition again is no change; a
meter defined otherwise under the same code stops the load, as a meter never changes),
each product is defined (or revised, when its name or features
changed) and each price is published under its lookup key. The same definition again is
no change; a changed definition publishes a new price and archives the old one, as the
API does. Loading the same file twice therefore writes nothing the second time. Products
and prices that the file does not mention are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.revision_fan_out import check_revision
from api.tally import Tally
from commands import messages as m
from commands.bus import Context, Happened
from commands.meter_messages import DefineMeter
from commands.provider_subscriptions import MapPriceToProviders
from domain.catalog import METERED, Price
from domain.errors import UnknownMeter, ValidationFailed
from domain.limits import MAX_METERS_PER_PROJECT
from domain.meters import Meter
from domain.subscription_runners import check_provider_price_ids

MAX_FILE_BYTES = 1024 * 1024
MAX_PRODUCTS = 500


class PriceEntry(BaseModel):
    """A price as the file states it: ``DefinePrice`` without the product id."""

    model_config = ConfigDict(extra="forbid")
    lookup_key: str
    currency: str
    scheme: str
    unit_amount: int = 0
    tiers: list[dict[str, Any]] = Field(default_factory=list)
    meter: str = ""
    package: dict[str, Any] | None = None  # metered_package: {size, round, free_units}
    interval: str | None = None
    interval_count: int = 1
    trial_days: int = 0
    # The providers' own prices (issue 18): {"stripe": "price_..."}; absent leaves them.
    provider_price_ids: dict[str, str] | None = None


class ProductEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    name: str
    features: list[str] = Field(default_factory=list)
    owner: str | None = None  # the creator's external id (issue 13)
    active: bool = True
    prices: list[PriceEntry] = Field(default_factory=list, max_length=100)


class MeterEntry(BaseModel):
    """A meter as the file states it: ``DefineMeter``'s fields."""

    model_config = ConfigDict(extra="forbid")
    code: str
    name: str
    event_name: str
    aggregation: str
    property: str | None = None
    filters: dict[str, list[str]] = Field(default_factory=dict)
    group_by: list[str] = Field(default_factory=list)


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meters: list[MeterEntry] = Field(default_factory=list, max_length=MAX_METERS_PER_PROJECT)
    products: list[ProductEntry] = Field(default_factory=list, max_length=MAX_PRODUCTS)


@dataclass
class LoadReport:
    """What a load did, counted by kind, and the ids it ended with."""

    products_created: int = 0
    products_revised: int = 0
    products_archived: int = 0
    prices_created: int = 0
    prices_unchanged: int = 0
    meters_created: int = 0
    meters_unchanged: int = 0
    meter_ids: dict[str, str] = field(default_factory=dict)
    product_ids: dict[str, str] = field(default_factory=dict)
    price_ids: dict[str, str] = field(default_factory=dict)
    position: int | None = None

    def lines(self) -> list[str]:
        return [
            f"products  {self.products_created} created, {self.products_revised} revised or "
            f"unchanged, {self.products_archived} archived",
            f"prices    {self.prices_created} created, {self.prices_unchanged} unchanged",
            f"meters    {self.meters_created} created, {self.meters_unchanged} unchanged",
        ]


Checked = list[tuple[ProductEntry, list[m.DefinePrice]]]


def parse(text: str) -> tuple[CatalogFile, Checked]:
    """Check the whole file (shape and every command) before anything is written."""
    try:
        raw = yaml.safe_load(text)
        catalog = CatalogFile.model_validate(raw)
    except yaml.YAMLError as exc:
        # One line: the CLI reports a refusal in one line.
        reason = " ".join(str(exc).split())
        raise ValidationFailed(f"the catalog file is not valid YAML: {reason}") from None
    except ValidationError as exc:
        raise ValidationFailed(f"the catalog file is not valid: {_errors(exc)}") from None
    codes = [p.code for p in catalog.products]
    if len(set(codes)) != len(codes):
        raise ValidationFailed("each product code appears once in a catalog file")
    checked: Checked = []
    placeholder = UUID(int=0)  # the real product id is known only once it is defined
    try:
        _check_meters(catalog.meters)
        for product in catalog.products:
            m.DefineProduct(
                code=product.code,
                name=product.name,
                features=product.features,
                owner=product.owner,
            )
            prices = [
                m.DefinePrice(
                    product_id=placeholder, **price.model_dump(exclude={"provider_price_ids"})
                )
                for price in product.prices
            ]
            for entry in product.prices:
                if entry.provider_price_ids is not None:
                    check_provider_price_ids(entry.provider_price_ids)
            for command in prices:
                _check_price(command)
            keys = [p.lookup_key for p in prices]
            if len(set(keys)) != len(keys):
                raise ValidationFailed(f"product {product.code}: each lookup key appears once")
            checked.append((product, prices))
    except ValidationError as exc:
        raise ValidationFailed(f"the catalog file is not valid: {_errors(exc)}") from None
    return catalog, checked


def meter_commands(meters: list[MeterEntry]) -> list[DefineMeter]:
    return [DefineMeter(**meter.model_dump()) for meter in meters]


def _check_meters(meters: list[MeterEntry]) -> None:
    """Each code once, and each meter by the domain's rules (built and thrown away)."""
    codes = [meter.code for meter in meters]
    if len(set(codes)) != len(codes):
        raise ValidationFailed("each meter code appears once in a catalog file")
    for command in meter_commands(meters):
        try:
            Meter.define(
                UUID(int=0),
                **command.model_dump(exclude={"property"}),
                property=command.property or "",
            )
        except ValidationFailed as exc:
            raise ValidationFailed(f"meter {command.code}: {exc.detail}") from None


def _check_price(command: m.DefinePrice) -> None:
    """The domain's own rules (tiers, one-time prices without trials, ...), checked on a
    price that is built and thrown away, so a bad price late in the file stops the load
    before its first write."""
    try:
        Price.define(
            project_id=command.product_id,
            product_id=command.product_id,
            **command.model_dump(exclude={"product_id", "lookup_key"}),
        )
    except ValidationFailed as exc:
        raise ValidationFailed(f"price {command.lookup_key}: {exc.detail}") from None


def _check_meters_named(
    tally: Tally, project_id: UUID, meters: list[MeterEntry], checked: Checked
) -> None:
    """Every new metered price names a meter of the file or of the project, checked
    before the first write (the command checks it again). A price defined before meters
    existed is no new price: loading it again answers it unchanged."""
    from commands.catalog import price_id_for
    from domain.catalog import Product
    from projections.catalog import get_price
    from projections.meters import meters_of

    known = {meter.code for meter in meters}
    known |= {row["code"] for row in meters_of(tally.views, tally.schema, project_id)}
    for product, prices in checked:
        product_id = Product.create_id(project_id, product.code)
        for price in prices:
            if price.scheme not in METERED or price.meter in known:
                continue
            price_id = price_id_for(project_id, price.model_copy(update={"product_id": product_id}))
            if get_price(tally.views, tally.schema, project_id, price_id) is None:
                raise UnknownMeter(
                    f"price {product.code}/{price.lookup_key}: no meter '{price.meter}' in "
                    "the file or the project",
                    meter=price.meter,
                )


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10]
    )


def load(tally: Tally, project_id: UUID, path: Path, actor: str = "cli") -> LoadReport:
    """Create or update the project's catalog from the file at ``path``."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValidationFailed(f"a catalog file is at most {MAX_FILE_BYTES} bytes")
    catalog, checked = parse(path.read_text(encoding="utf-8"))
    _check_meters_named(tally, project_id, catalog.meters, checked)
    # Every revision's fan-out is checked before anything is written, so a refused
    # catalog file writes nothing.
    for product, _ in checked:
        define = m.DefineProduct(
            code=product.code, name=product.name, features=product.features, owner=product.owner
        )
        check_revision(tally, project_id, define)
    context = Context(project_id, actor)
    report = LoadReport()
    positions: list[int] = []
    for command in meter_commands(catalog.meters):
        defined = tally.execute(command, context)
        report.meter_ids[command.code] = defined.body["meter"]["id"]
        if defined.body["created"]:
            report.meters_created += 1
        else:
            report.meters_unchanged += 1
        positions.append(defined.position or 0)
    for product, prices in checked:
        defined = tally.execute(
            m.DefineProduct(
                code=product.code,
                name=product.name,
                features=product.features,
                owner=product.owner,
            ),
            context,
        )
        product_id = UUID(defined.body["product"]["id"])
        report.product_ids[product.code] = str(product_id)
        if defined.happened is Happened.CREATED:
            report.products_created += 1
        else:
            report.products_revised += 1
        positions.append(defined.position or 0)
        for price, entry in zip(prices, product.prices, strict=True):
            published = tally.execute(price.model_copy(update={"product_id": product_id}), context)
            report.price_ids[f"{product.code}/{price.lookup_key}"] = published.body["price"]["id"]
            if entry.provider_price_ids is not None:
                mapped = tally.execute(
                    MapPriceToProviders(
                        price_id=UUID(published.body["price"]["id"]),
                        provider_price_ids=entry.provider_price_ids,
                    ),
                    context,
                )
                positions.append(mapped.position or 0)
            if published.body.get("created"):
                report.prices_created += 1
            else:
                report.prices_unchanged += 1
            positions.append(published.position or 0)
        # Archiving an archived product writes nothing, so it is not counted again.
        if not product.active and defined.body["product"]["active"]:
            archived = tally.execute(m.ArchiveProduct(product_id=product_id), context)
            report.products_archived += 1
            positions.append(archived.position or 0)
    report.position = max(positions, default=None)
    return report

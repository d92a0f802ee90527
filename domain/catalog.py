"""Products (plans) and prices.

A price that has been used is never edited: a change is a new price and the old one is
archived, so every invoice line can always be explained by the price it names.

Tiered prices (``graduated``, ``volume``) are checked and summed by ``domain.price_tiers``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.errors import InvalidCombination, LimitReached, ValidationFailed
from domain.limits import (
    MAX_FEATURES,
    MAX_LABEL_CHARS,
    MAX_NAME_CHARS,
    MAX_QUANTITY,
    MAX_REF_CHARS,
    MAX_TRIAL_DAYS,
    check_text,
)
from domain.money import check_amount, check_currency, check_within_limit
from domain.periods import INTERVALS, MAX_INTERVAL_COUNT
from domain.price_tiers import Tier, check_tiers, tiered_amount
from domain.subscription_runners import check_provider_price_ids
from domain.usage_packages import Package, check_package, package_count

NAMESPACE = UUID("9d8c7b6a-5f4e-4d3c-8b2a-1e0f9a8b7c6d")
# Metered prices charge a meter's quantity over a period (issue 13): per unit
# (``metered``), by tiers of the quantity, graduated or volume as above, or per package
# of units (``metered_package``: ``domain.usage_packages``).
METERED = ("metered", "metered_graduated", "metered_volume", "metered_package")
TIERED = ("graduated", "volume", "metered_graduated", "metered_volume")
SCHEMES = ("flat", "per_unit", "graduated", "volume", *METERED)


class Product(TallyAggregate):
    """Version 2 keeps ``owner`` (issue 13: the creator of a marketplace product, an
    opaque external id); products stored before have none."""

    TOPIC = "tally:Product"
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["owner"] = None

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Product.Created"

    @staticmethod
    def create_id(project_id: UUID, code: str) -> UUID:
        return uuid5(NAMESPACE, f"product:{project_id}:{code}")

    @event("Defined", topic="tally:Product.Defined")
    def __init__(self, project_id: UUID, code: str, name: str, features: list[str]) -> None:
        self.project_id = project_id
        self.code = code
        self.name = name
        self.features = features
        self.active = True
        self.owner: str | None = None
        # The current price for each lookup key; a changed price gets a new id.
        self.prices: dict[str, str] = {}

    @classmethod
    def define(cls, project_id: UUID, code: str, name: str, features: list[str]) -> Product:
        if not code or len(code) > 40 or not code.replace("_", "").isalnum():
            raise ValidationFailed("a plan code is 1 to 40 letters, digits or underscores")
        _check_name_and_features(name, features)
        return cls(project_id=project_id, code=code, name=name, features=list(features))

    def revise(self, name: str, features: list[str]) -> None:
        _check_name_and_features(name, features)
        if self.revised_by(name, features):
            self._revised(name=name, features=list(features))

    def revised_by(self, name: str, features: list[str]) -> bool:
        """Whether defining the product again with these would record a revision."""
        return name != self.name or list(features) != self.features

    def check_fan_out(self, name: str, features: list[str], customers: int, limit: int) -> None:
        """Refuse a revision that would change the entitlement sets of more than
        ``limit`` customers (``MAX_REVISION_FAN_OUT``): each is recomputed in one
        projection batch. ``customers`` is how many the product grants to now."""
        if self.revised_by(name, features) and customers > limit:
            raise LimitReached(
                f"product {self.code} grants to more than {limit} customers; revising its "
                "name or features would recompute all their entitlements at once",
                limit=limit,
            )

    @event("Revised", topic="tally:Product.Revised")
    def _revised(self, name: str, features: list[str]) -> None:
        self.name = name
        self.features = features

    def set_owner(self, owner: str) -> None:
        """Name the product's creator (``owner``): whose usage and earnings it counts."""
        check_text(owner, "owner", MAX_REF_CHARS, min_chars=1)
        if owner != self.owner:
            self._owner_set(owner=owner)

    @event("OwnerSet", topic="tally:Product.OwnerSet")
    def _owner_set(self, owner: str) -> None:
        self.owner = owner

    def set_price(self, lookup_key: str, price_id: UUID) -> None:
        check_text(lookup_key, "lookup_key", MAX_LABEL_CHARS, min_chars=1)
        if self.prices.get(lookup_key) != str(price_id):
            self._price_set(lookup_key=lookup_key, price_id=str(price_id))

    @event("PriceSet", topic="tally:Product.PriceSet")
    def _price_set(self, lookup_key: str, price_id: str) -> None:
        self.prices[lookup_key] = price_id

    def archive(self) -> None:
        if self.active:
            self._archived()

    @event("Archived", topic="tally:Product.Archived")
    def _archived(self) -> None:
        self.active = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "code": self.code,
            "name": self.name,
            "features": plain_copy(self.features),
            "active": self.active,
            "owner": self.owner,
            "prices": plain_copy(self.prices),
        }


def _check_name_and_features(name: str, features: list[str]) -> None:
    check_text(name, "name", MAX_NAME_CHARS, min_chars=1)
    if len(features) > MAX_FEATURES:
        raise ValidationFailed(f"a product has at most {MAX_FEATURES} features")
    for feature in features:
        check_text(feature, "features", MAX_LABEL_CHARS)


class Price(TallyAggregate):
    """A price knows the lookup key it was published under (its id is derived from it).

    Version 2 keeps ``lookup_key``. Prices defined before it did (and stored states of
    them) upcast to ``None``: their key is known only to their product's ``prices`` map,
    and only while they are its current price. Version 3 keeps ``package`` (a package
    price's terms); every price defined before has none."""

    TOPIC = "tally:Price"
    class_version = 3
    # The provider's own price for each provider that may run subscriptions of it
    # (``{"stripe": "price_..."}``; domain/subscription_runners.py). A class default, so
    # prices recorded before the mapping existed load with none.
    provider_price_ids: dict[str, str] | None = None

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Price.Created"

    class Defined(Created):
        """Version 2 adds ``lookup_key``, version 3 ``package``."""

        TOPIC = "tally:Price.Defined"
        class_version = 3

        project_id: UUID
        product_id: UUID
        lookup_key: str | None
        currency: str
        scheme: str
        unit_amount: int
        tiers: list[Tier]
        meter: str
        interval: str | None
        interval_count: int
        trial_days: int
        package: Package | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["lookup_key"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["package"] = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["lookup_key"] = None

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["package"] = None

    @event(Defined)
    def __init__(
        self,
        id: UUID,
        project_id: UUID,
        product_id: UUID,
        lookup_key: str | None,
        currency: str,
        scheme: str,
        unit_amount: int,
        tiers: list[Tier],
        meter: str,
        interval: str | None,
        interval_count: int,
        trial_days: int,
        package: Package | None,
    ) -> None:
        self.project_id = project_id
        self.product_id = product_id
        self.lookup_key = lookup_key
        self.currency = currency
        self.scheme = scheme
        self.unit_amount = unit_amount
        self.tiers = tiers
        self.meter = meter
        self.interval = interval
        self.interval_count = interval_count
        self.trial_days = trial_days
        self.package = package
        self.active = True

    @classmethod
    def define(
        cls,
        *,
        project_id: UUID,
        product_id: UUID,
        currency: str,
        scheme: str,
        unit_amount: int = 0,
        tiers: list[Tier] | None = None,
        meter: str = "",
        interval: str | None = None,
        interval_count: int = 1,
        trial_days: int = 0,
        price_id: UUID | None = None,
        lookup_key: str | None = None,
        package: Package | None = None,
    ) -> Price:
        if lookup_key is not None:
            check_text(lookup_key, "lookup_key", MAX_LABEL_CHARS, min_chars=1)
        check_currency(currency)
        if scheme not in SCHEMES:
            raise ValidationFailed(f"scheme must be one of {', '.join(SCHEMES)}")
        check_amount(unit_amount, allow_zero=True)
        checked_tiers = check_tiers(tiers or []) if scheme in TIERED else []
        if package is not None and scheme != "metered_package":
            raise InvalidCombination("only a metered_package price has a package")
        terms = check_package(package) if scheme == "metered_package" else None
        check_text(meter, "meter", MAX_LABEL_CHARS)
        if scheme in METERED and not meter:
            raise InvalidCombination("a metered price names its meter")
        if interval is not None and interval not in INTERVALS:
            raise ValidationFailed(f"interval must be one of {', '.join(INTERVALS)} or null")
        if not 1 <= interval_count <= MAX_INTERVAL_COUNT:
            raise ValidationFailed(f"interval_count must be 1 to {MAX_INTERVAL_COUNT}")
        if interval is None and (trial_days or scheme in METERED):
            raise InvalidCombination("a one-time price has no trial and is not metered")
        if not 0 <= trial_days <= MAX_TRIAL_DAYS:
            raise ValidationFailed(f"trial_days must be 0 to {MAX_TRIAL_DAYS}")
        return cls(
            id=price_id or uuid4(),
            project_id=project_id,
            product_id=product_id,
            lookup_key=lookup_key,
            currency=currency,
            scheme=scheme,
            unit_amount=unit_amount,
            tiers=checked_tiers,
            meter=meter,
            interval=interval,
            interval_count=interval_count,
            trial_days=trial_days,
            package=terms,
        )

    @property
    def recurring(self) -> bool:
        return self.interval is not None

    @property
    def metered(self) -> bool:
        return self.scheme in METERED

    def amount_for(self, quantity: int) -> int:
        """What one period (or the one-time purchase) of ``quantity`` costs, before tax."""
        if quantity <= 0:
            raise ValidationFailed("quantity must be greater than zero")
        if quantity > MAX_QUANTITY:
            raise ValidationFailed(f"quantity must be at most {MAX_QUANTITY}", quantity=quantity)
        if self.scheme == "flat":
            amount = self.unit_amount
        elif self.scheme in ("per_unit", "metered"):
            amount = self.unit_amount * quantity
        elif self.package is not None:
            amount = self.unit_amount * package_count(self.package, Decimal(quantity))
        else:
            amount = tiered_amount(self.scheme.removeprefix("metered_"), self.tiers, quantity)
        return check_within_limit(amount, f"the amount of {quantity} of price {self.id}")

    def archive(self) -> None:
        if self.active:
            self._archived()

    @event("Archived", topic="tally:Price.Archived")
    def _archived(self) -> None:
        self.active = False

    def map_to_providers(self, provider_price_ids: dict[str, str]) -> bool:
        """Replace the price's mapping to provider prices; False (nothing recorded) if
        unchanged. A provider left out is no longer mapped."""
        checked = check_provider_price_ids(provider_price_ids)
        if checked == (self.provider_price_ids or {}):
            return False
        self._mapped_to_providers(provider_price_ids=checked)
        return True

    @event("MappedToProviders", topic="tally:Price.MappedToProviders")
    def _mapped_to_providers(self, provider_price_ids: dict[str, str]) -> None:
        self.provider_price_ids = provider_price_ids

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "product_id": str(self.product_id),
            "lookup_key": self.lookup_key,
            "currency": self.currency,
            "scheme": self.scheme,
            "unit_amount": self.unit_amount,
            "tiers": plain_copy(self.tiers),
            "meter": self.meter,
            "interval": self.interval,
            "interval_count": self.interval_count,
            "trial_days": self.trial_days,
            "package": plain_copy(self.package),
            "active": self.active,
            "provider_price_ids": dict(self.provider_price_ids or {}),
        }

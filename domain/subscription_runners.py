"""Who runs a project's subscriptions: Tally (the default) or its payment provider.

Tally runs subscriptions itself: it renews them on its own clock, drafts their invoices
and charges saved payment methods. A team already on Stripe Billing or Paddle
subscriptions can keep them there instead: the project's ``SubscriptionRunner`` says
``provider``, and then Tally's subscription commands ask the provider (through the
outbox) and the provider's webhooks bring every change back (docs/subscriptions.md,
"Who runs the subscription").

The choice names the provider it was made for, since only providers with a
subscription API can run one (``PROVIDERS_THAT_RUN``): YooKassa has none, and the stub
is Tally's offline stand-in for payments only. A provider-run subscription maps each of
Tally's prices to the provider's own price (``provider_price_ids`` on the price, checked
here too: ``check_provider_price_ids``).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.errors import InvalidCombination, ValidationFailed
from domain.limits import MAX_PROVIDER_PRICE_ID_CHARS

NAMESPACE = UUID("5c0f7e2a-93d1-4b6e-a8f4-0d2b7c9e1a35")
TALLY, PROVIDER = "tally", "provider"
RUNNERS = (TALLY, PROVIDER)
# Providers whose API can run a subscription Tally mirrors.
PROVIDERS_THAT_RUN = ("stripe", "paddle")
# Each provider's documented price id: Stripe ``price_<letters and digits>``, Paddle
# ``pri_<26 lower-case letters or digits>``. Checked before they are stored, as every
# id Tally later puts into a provider request.
PRICE_ID_FORMATS: dict[str, re.Pattern[str]] = {
    "stripe": re.compile(r"price_[A-Za-z0-9]{1,90}"),
    "paddle": re.compile(r"pri_[a-z0-9]{26}"),
}


def check_provider_price_ids(ids: dict[str, str]) -> dict[str, str]:
    """A price's mapping to provider prices: one id per provider that runs
    subscriptions, each in that provider's format."""
    if not isinstance(ids, dict):
        raise ValidationFailed("provider_price_ids maps a provider to its price id")
    for provider, price_ref in ids.items():
        pattern = PRICE_ID_FORMATS.get(provider)
        if pattern is None:
            raise ValidationFailed(
                f"provider_price_ids: {provider!r} runs no subscriptions; only "
                f"{', '.join(PROVIDERS_THAT_RUN)} do",
                provider=str(provider)[:40],
            )
        if (
            not isinstance(price_ref, str)
            or len(price_ref) > MAX_PROVIDER_PRICE_ID_CHARS
            or pattern.fullmatch(price_ref) is None
        ):
            raise ValidationFailed(
                f"provider_price_ids.{provider} is not a {provider} price id ({pattern.pattern})",
                provider=provider,
            )
    return dict(sorted(ids.items()))


class SubscriptionRunner(TallyAggregate):
    """One per project; a project without one has Tally run its subscriptions."""

    TOPIC = "tally:SubscriptionRunner"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:SubscriptionRunner.Created"

    @staticmethod
    def create_id(project_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"subscription_runner:{project_id}")

    @event("Started", topic="tally:SubscriptionRunner.Started")
    def __init__(self, id: UUID, project_id: UUID) -> None:
        self.project_id = project_id
        self.run_by = TALLY
        self.provider = ""
        # Per plan (product id): who runs its subscriptions, "tally" or the provider's
        # name, overriding the project's choice.
        self.plans: dict[str, str] = {}

    @classmethod
    def start(cls, project_id: UUID) -> SubscriptionRunner:
        return cls(id=cls.create_id(project_id), project_id=project_id)

    @staticmethod
    def can_run(provider: str) -> bool:
        return provider in PROVIDERS_THAT_RUN

    def choose(self, run_by: str, provider: str) -> bool:
        """Record who runs new subscriptions; False (nothing recorded) if unchanged.
        The caller refuses a provider that cannot run them (``can_run``) first, with
        the provider's own error."""
        if run_by not in RUNNERS:
            raise ValidationFailed(f"run_by must be one of {', '.join(RUNNERS)}")
        assert run_by == TALLY or self.can_run(provider), provider
        provider = provider if run_by == PROVIDER else ""
        if (run_by, provider) == (self.run_by, self.provider):
            return False
        self._chosen(run_by=run_by, provider=provider)
        return True

    @event("Chosen", topic="tally:SubscriptionRunner.Chosen")
    def _chosen(self, run_by: str, provider: str) -> None:
        self.run_by = run_by
        self.provider = provider

    def choose_for_plan(self, product_id: UUID, run_by: str, provider: str) -> bool:
        """Who runs new subscriptions of one plan, whatever the project's choice; False
        (nothing recorded) if unchanged."""
        if run_by not in RUNNERS:
            raise ValidationFailed(f"run_by must be one of {', '.join(RUNNERS)}")
        assert run_by == TALLY or self.can_run(provider), provider
        runner = provider if run_by == PROVIDER else TALLY
        if self.plans.get(str(product_id)) == runner:
            return False
        self._plan_chosen(product_id=str(product_id), runner=runner)
        return True

    @event("PlanChosen", topic="tally:SubscriptionRunner.PlanChosen")
    def _plan_chosen(self, product_id: str, runner: str) -> None:
        self.plans = {**self.plans, product_id: runner}

    def runner_for(self, product_ids: set[UUID]) -> str:
        """Who runs a new subscription of these plans: "tally" or the provider's name.
        Its plans must agree: one subscription is run in one place."""
        default = self.provider if self.run_by == PROVIDER else TALLY
        runners = {self.plans.get(str(p), default) for p in product_ids}
        if len(runners) > 1:
            raise InvalidCombination(
                "these plans are run in different places "
                f"({', '.join(sorted(runners))}); one subscription is run by one"
            )
        return runners.pop() if runners else default

    def summary(self) -> dict[str, Any]:
        return {
            "run_by": self.run_by,
            "provider": self.provider or None,
            "plans": dict(sorted(self.plans.items())),
        }


class ProviderPriceLink(TallyAggregate):
    """Which Tally price a provider's price id stands for in a project: how a webhook's
    items (the provider's prices) are read back as Tally's. The newest mapping wins."""

    TOPIC = "tally:ProviderPriceLink"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:ProviderPriceLink.Created"

    @staticmethod
    def create_id(project_id: UUID, provider: str, price_ref: str) -> UUID:
        return uuid5(NAMESPACE, f"provider_price:{project_id}:{provider}:{price_ref}")

    @event("Linked", topic="tally:ProviderPriceLink.Linked")
    def __init__(
        self, id: UUID, project_id: UUID, provider: str, price_ref: str, price_id: UUID
    ) -> None:
        self.project_id = project_id
        self.provider = provider
        self.price_ref = price_ref
        self.price_id = price_id

    @classmethod
    def start(
        cls, project_id: UUID, provider: str, price_ref: str, price_id: UUID
    ) -> ProviderPriceLink:
        return cls(
            id=cls.create_id(project_id, provider, price_ref),
            project_id=project_id,
            provider=provider,
            price_ref=price_ref,
            price_id=price_id,
        )

    def relink(self, price_id: UUID) -> None:
        if price_id != self.price_id:
            self._relinked(price_id=price_id)

    @event("Relinked", topic="tally:ProviderPriceLink.Relinked")
    def _relinked(self, price_id: UUID) -> None:
        self.price_id = price_id

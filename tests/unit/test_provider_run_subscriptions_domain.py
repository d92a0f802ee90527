"""The domain of provider-run subscriptions: who runs them, a price's provider prices,
a subscription handed to its provider (Tally no longer schedules it), the requests it
numbers, the provider id it links once and the plan it mirrors; the call params."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.catalog import Price
from domain.errors import InvalidCombination, InvalidTransition, ValidationFailed
from domain.provider_call_params import parse_params
from domain.provider_subscription_params import (
    ChangeSubscriptionParams,
    CreateSubscriptionParams,
    GetInvoiceParams,
    SubscriptionLine,
)
from domain.subscription_runners import (
    PRICE_ID_FORMATS,
    SubscriptionRunner,
    check_provider_price_ids,
)
from domain.subscriptions import Subscription

NOW = datetime(2027, 1, 31, 9, tzinfo=UTC)
ITEMS = [{"price_id": "p1", "quantity": 1, "amount": 1000}]


def _sub(*, incomplete: bool = True) -> Subscription:
    return Subscription.start(
        project_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        items=ITEMS,
        interval="month",
        interval_count=1,
        now=NOW,
        incomplete=incomplete,
    )


def test_a_runner_records_a_choice_once_and_forgets_the_provider_when_tally_runs() -> None:
    runner = SubscriptionRunner.start(uuid4())
    assert runner.summary() == {"run_by": "tally", "provider": None, "plans": {}}
    assert runner.choose("provider", "stripe")
    assert not runner.choose("provider", "stripe")
    assert runner.summary()["provider"] == "stripe"
    assert runner.choose("tally", "stripe")
    assert runner.summary()["provider"] is None
    assert [SubscriptionRunner.can_run(p) for p in ("stripe", "paddle", "yookassa", "stub")] == [
        True,
        True,
        False,
        False,
    ]
    with pytest.raises(ValidationFailed):
        runner.choose("someone", "stripe")


def test_a_plan_may_be_run_elsewhere_than_the_project_but_a_subscription_in_one_place() -> None:
    runner = SubscriptionRunner.start(uuid4())
    pro, basic = uuid4(), uuid4()
    assert runner.runner_for({pro, basic}) == "tally"
    assert runner.choose_for_plan(pro, "provider", "stripe")
    assert not runner.choose_for_plan(pro, "provider", "stripe")
    assert (runner.runner_for({pro}), runner.runner_for({basic})) == ("stripe", "tally")
    with pytest.raises(InvalidCombination):
        runner.runner_for({pro, basic})
    runner.choose("provider", "stripe")
    assert runner.runner_for({pro, basic}) == "stripe"
    runner.choose_for_plan(basic, "tally", "stripe")
    assert runner.runner_for({basic}) == "tally"
    assert runner.summary()["plans"] == dict(
        sorted({str(pro): "stripe", str(basic): "tally"}.items())
    )


def test_provider_price_ids_take_each_providers_own_format_only() -> None:
    ids = {"stripe": "price_1PgafmB7WZ01", "paddle": "pri_01h04vsbhqc62t8hmd4z3b578c"}
    assert check_provider_price_ids(ids) == dict(sorted(ids.items()))
    for wrong in (
        {"yookassa": "price_1"},
        {"stripe": "pri_01h04vsbhqc62t8hmd4z3b578c"},
        {"stripe": "price_../x"},
        {"paddle": "pri_SHORT"},
        {"stripe": "price_" + "a" * 200},
    ):
        with pytest.raises(ValidationFailed):
            check_provider_price_ids(wrong)


@given(st.text(max_size=120))
def test_a_stripe_price_id_is_accepted_exactly_when_it_matches_the_format(text: str) -> None:
    fits = PRICE_ID_FORMATS["stripe"].fullmatch(text) is not None and len(text) <= 100
    try:
        check_provider_price_ids({"stripe": text})
    except ValidationFailed:
        assert not fits
    else:
        assert fits


def test_a_price_records_its_mapping_only_when_it_changes() -> None:
    price = Price.define(
        project_id=uuid4(), product_id=uuid4(), currency="EUR", scheme="flat", unit_amount=900
    )
    assert price.summary()["provider_price_ids"] == {}
    assert price.map_to_providers({"stripe": "price_abc"})
    version = price.version
    assert not price.map_to_providers({"stripe": "price_abc"})
    assert price.version == version
    assert price.summary()["provider_price_ids"] == {"stripe": "price_abc"}
    assert price.map_to_providers({})
    assert price.summary()["provider_price_ids"] == {}


def test_a_subscription_handed_to_its_provider_is_never_due_in_tally() -> None:
    sub = _sub()
    assert sub.next_due_at() is not None  # incomplete ones expire in Tally
    sub.hand_to_provider("stripe")
    assert (sub.next_due_at(), sub.next_step_at()) == (None, None)
    assert sub.summary()["run_by"] == "provider"
    assert sub.process_due(NOW + timedelta(days=400)) == []
    with pytest.raises(InvalidTransition):
        sub.hand_to_provider("stripe")
    with pytest.raises(InvalidTransition):
        _sub(incomplete=False).hand_to_provider("stripe")  # already started in Tally


def test_requests_are_numbered_and_the_first_provider_id_wins() -> None:
    sub = _sub()
    sub.hand_to_provider("stripe")
    assert [sub.ask_provider("cancel"), sub.ask_provider("undo_cancel")] == [1, 2]
    assert sub.link_provider("sub_1")
    assert not sub.link_provider("sub_2")
    assert sub.summary()["provider_subscription"] == "sub_1"
    # Linked: the provider made it, so a refusal reported late expires nothing.
    assert not sub.provider_refused()
    unmade = _sub()
    unmade.hand_to_provider("stripe")
    assert unmade.provider_refused()
    assert unmade.status == "incomplete_expired"


def test_a_mirrored_plan_moves_items_and_period_once() -> None:
    sub = _sub(incomplete=False)
    start = NOW + timedelta(days=10)
    items = [{"price_id": "p2", "quantity": 3, "amount": 4500}]
    assert sub.mirror_period(items, start)
    assert not sub.mirror_period(items, start)
    assert sub.items == items
    assert sub.current_period[0] == start
    assert sub.current_period[1] == datetime(2027, 3, 10, 9, tzinfo=UTC)


def test_subscription_call_params_write_back_what_they_read() -> None:
    line = SubscriptionLine("price_a", 2)
    made = [
        CreateSubscriptionParams("s1", (line,), "EUR", None, "c1", "call1", 14, "pm_1", {"a": "b"}),
        ChangeSubscriptionParams("s1", "sub_1", "change_items", (line,), False, {}),
        ChangeSubscriptionParams("s1", "sub_1", "cancel_at_period_end"),
        GetInvoiceParams("s1", "in_1", {"tally_project": "p"}),
    ]
    for params in made:
        stored = params.to_params()
        assert parse_params(params.OPERATION, stored) == params
        assert parse_params(params.OPERATION, stored).to_params() == stored


def test_a_cancel_asked_is_pending_until_the_provider_shows_it_or_refuses_it() -> None:
    sub = _sub()
    sub.hand_to_provider("paddle")
    sub.activate()  # as the provider's webhook does
    assert not sub.check_cancel_not_asked(at_period_end=True, asked_failed=False)
    number = sub.ask_provider("cancel_at_period_end")
    assert sub.cancel_asked == number
    assert sub.check_cancel_not_asked(at_period_end=True, asked_failed=False)
    assert not sub.check_cancel_not_asked(at_period_end=True, asked_failed=True)
    with pytest.raises(InvalidTransition, match="has not answered yet"):
        sub.check_cancel_not_asked(at_period_end=False, asked_failed=False)
    sub.cancel(NOW, at_period_end=True)  # the provider's webhook showed it scheduled
    assert not sub.check_cancel_not_asked(at_period_end=False, asked_failed=False)
    sub.ask_provider("cancel")
    sub.ask_provider("undo_cancel")
    assert sub.cancel_asked == 0

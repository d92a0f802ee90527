"""Events are named as DESIGN.md says (issue 17): a command that creates an aggregate
records the past tense of its verb (``CreateSubscription`` -> ``Subscription.Created``,
``OpenAccount`` -> ``Account.Opened``), and an event renamed for it still reads under the
topic it was stored with."""

from __future__ import annotations

import importlib
import pkgutil
import re

from eventsourcing.domain import _created_event_classes
from eventsourcing.utils import get_topic, resolve_topic

import domain
from commands import messages, provider_messages
from commands.messages import Command
from domain.base import TallyAggregate

PAST = {"Create": "Created", "Open": "Opened", "Register": "Registered", "Define": "Defined"}
CREATING = re.compile(r"^(Create|Open|Register|Define)([A-Z]\w+)$")
# Create commands whose noun is not an aggregate of its own, and what they record instead.
NOT_AGGREGATES = {"CreateCreditNote": "a credit note is recorded on its invoice: Invoice.Credited"}
# Renamed by issue 17: the old topic -> the new one.
RENAMED = {
    "tally:Project.Registered": "tally:Project.Created",
    "tally:Subscription.Started": "tally:Subscription.Created",
    "tally:TestClock.Started": "tally:TestClock.Created",
    "tally:Invoice.Drafted": "tally:Invoice.Created",
    "tally:Cart.Opened": "tally:Cart.Created",
}


def aggregates_by_topic() -> dict[str, type[TallyAggregate]]:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found: dict[str, type[TallyAggregate]] = {}
    pending = list(TallyAggregate.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found[get_topic(cls)] = cls
    return found


def test_a_command_that_creates_an_aggregate_records_the_past_tense_of_its_verb() -> None:
    aggregates = aggregates_by_topic()
    checked = []
    for module in (messages, provider_messages):
        for name, value in vars(module).items():
            match = CREATING.match(name)
            if not (match and isinstance(value, type) and issubclass(value, Command)):
                continue
            verb, noun = match.groups()
            aggregate = aggregates.get(f"tally:{noun}")
            if aggregate is None:
                assert name in NOT_AGGREGATES, f"{name}: no aggregate tally:{noun}"
                continue
            [created] = _created_event_classes[aggregate]
            assert get_topic(created) == f"tally:{noun}.{PAST[verb]}", name
            checked.append(name)
    assert len(checked) == 12, checked


def test_a_renamed_event_records_its_new_topic_and_reads_its_old_one() -> None:
    aggregates = aggregates_by_topic()
    for old, new in RENAMED.items():
        aggregate = aggregates[new.rsplit(".", 1)[0]]
        [created] = _created_event_classes[aggregate]
        assert get_topic(created) == new
        assert resolve_topic(old) is created
        assert resolve_topic(new) is created

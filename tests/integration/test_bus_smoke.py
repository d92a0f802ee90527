from __future__ import annotations

from uuid import UUID

from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context


def test_deposit_replayed_with_same_key_has_one_effect(tally: Tally) -> None:
    project = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    pid = UUID(project.body["project"]["id"])
    opened = tally.execute(m.OpenAccount(owner_ref="bob", currency="EUR"), Context(pid, "k"))
    aid = UUID(opened.body["account"]["id"])
    first = tally.execute(
        m.Deposit(account_id=aid, amount=500, currency="EUR"), Context(pid, "k", "d1")
    )
    again = tally.execute(
        m.Deposit(account_id=aid, amount=500, currency="EUR"), Context(pid, "k", "d1")
    )
    assert not first.replayed
    assert again.replayed
    assert again.body == first.body
    assert tally.store.repository.get(aid).ledger == 500

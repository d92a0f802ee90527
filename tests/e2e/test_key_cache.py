"""The write routes' key cache (api/key_lookups.py, KeyCache; docs/architecture.md, Tenancy): a key
revoked after a worker cached it is refused at once, by the append that would commit
its command (under the event table's lock), with nothing of that command stored and its
batch's neighbours committed; an answer that writes nothing (an idempotent replay, a
refusal) through a revoked key is 401 too; a rotated key's expiry is honoured.

The revocations are made by a second Tally on the same schema, as another process's
would be: the server's own bus never sees them. Each test widens the cache's age
(``max_age_s``) so that the cached row is still used however loaded the machine is: a
test of the bound itself is test_rate_limits' (a policy reaches writes after it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import timedelta
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from adapters.clock import FixedClock
from api.bootstrap import Tally, build
from api.key_lookups import KeyLookups
from api.settings import Settings
from commands import messages as m
from commands import operator_messages as om
from commands.bus import Context, Outcome, Reply
from commands.bus.key_check import KeyCheck
from domain.errors import Unauthenticated
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.test_rate_limits import set_limit
from tests.e2e.test_revocation import _second_key, stalled_api_keys

DEPOSIT = {"amount": 100, "currency": "EUR"}


@pytest.fixture
def lookups(http: TestClient) -> KeyLookups:
    """The app's key lookups, their cache kept a minute (see the module's docstring)."""
    found: KeyLookups = http.app.state.key_lookups  # type: ignore[attr-defined]
    found.cache.max_age_s = 60.0
    return found


@pytest.fixture
def elsewhere(settings: Settings, clock: FixedClock) -> Iterator[Tally]:
    """Another Tally on the same schema: another process's bus and writer."""
    tally = build(settings.model_copy(update={"run_projections": False}), clock=clock)
    yield tally
    tally.close()


def revoke(tally: Tally, client: Client) -> None:
    out = tally.execute(
        m.RevokeApiKey(project_id=client.project_id, key_id=client.key_id),
        Context(client.project_id, "cli"),
    )
    assert out.position is not None


def cached(lookups: KeyLookups, client: Client, account: str) -> None:
    """A deposit through the client's key, which leaves its row in the cache."""
    client.deposit(account, 100)
    assert lookups.cache.get(client.key_id) is not None


@pytest.mark.parametrize("stalled", [False, True], ids=["projected", "read-model-stalled"])
def test_a_key_revoked_after_it_was_cached_is_refused_by_the_append(
    api: Client, app_tally: Tally, elsewhere: Tally, lookups: KeyLookups, stalled: bool
) -> None:
    second = _second_key(app_tally, api)
    account = api.open_account("alice")
    cached(lookups, api, account)
    asked = lookups.lookups
    with stalled_api_keys(app_tally) if stalled else nullcontext():
        revoke(elsewhere, api)
        with nothing_written(app_tally):
            refused = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "unauthenticated"
        # Refused by the append's check, not by a lookup: the key came from the cache.
        assert lookups.lookups == asked
        # The project's other key writes on.
        second.deposit(account, 50)
    assert api.get(f"/v1/accounts/{account}").status_code == 401
    assert second.account(account)["ledger_balance"] == 150


def test_replays_and_refusals_through_a_revoked_key_answer_401(
    api: Client, app_tally: Tally, elsewhere: Tally, lookups: KeyLookups
) -> None:
    account = api.open_account("alice")
    first = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT, key="dep-1")
    assert first.status_code == 201, first.text
    assert lookups.cache.get(api.key_id) is not None
    revoke(elsewhere, api)
    asked = lookups.lookups
    unknown = f"/v1/accounts/{UUID(int=1)}/deposits"
    with nothing_written(app_tally):
        replay = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT, key="dep-1")
        missing = api.post(unknown, DEPOSIT)  # 404 for a valid key
        too_much = api.post(f"/v1/accounts/{account}/withdrawals", {**DEPOSIT, "amount": 10**6})
    for answer in (replay, missing, too_much):
        assert answer.status_code == 401, answer.text
        assert "Idempotency-Replayed" not in answer.headers
    # Each was decided without a write, then confirmed by a lookup: the first refused the
    # key and dropped it from the cache, so the next two were looked up when they came.
    assert lookups.lookups == asked + 3
    assert lookups.cache.get(api.key_id) is None


def test_a_replay_through_a_valid_cached_key_is_answered(api: Client, lookups: KeyLookups) -> None:
    """The check before a replay's answer refuses only a key that no longer holds."""
    account = api.open_account("alice")
    first = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT, key="dep-1")
    replay = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT, key="dep-1")
    assert replay.status_code == 201, replay.text
    assert replay.headers["Idempotency-Replayed"] == "true"
    assert replay.json() == first.json()


def test_a_rotated_key_cached_before_its_rotation_is_refused_from_its_expiry(
    api: Client, app_tally: Tally, elsewhere: Tally, lookups: KeyLookups, clock: FixedClock
) -> None:
    account = api.open_account("alice")
    cached(lookups, api, account)
    rotated = elsewhere.execute(
        om.RotateApiKey(project_id=api.project_id, key_id=api.key_id, overlap_s=60),
        Context(api.project_id, "cli"),
    )
    assert rotated.position is not None
    # The cached row knows no expiry; the append reads the rotation's and lets the key
    # write until then.
    clock.advance(timedelta(seconds=59))
    api.deposit(account, 100)
    clock.advance(timedelta(seconds=1))
    with nothing_written(app_tally):
        expired = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT)
    assert expired.status_code == 401, expired.text


def test_a_batch_with_a_refused_key_commits_its_neighbours(
    api: Client, app_tally: Tally, elsewhere: Tally
) -> None:
    """Commands of two keys in one batch, one of them revoked since it was cached: the
    batch's append refuses the whole batch, naming the key: that command is answered 401
    and the others run again as one batch.
    The event table's lock, held here, keeps the committer in a first batch's append while
    the two join the next one."""
    second = _second_key(app_tally, api)
    now = app_tally.clock.now()
    revoke(elsewhere, api)
    bus = app_tally.bus
    refused_before = bus.stats()["key_refused"]
    answers: list[Reply] = []
    with psycopg.connect(app_tally.target.url) as conn:
        table = sql.Identifier(app_tally.schema, "tally_events")
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
        first = m.OpenAccount(owner_ref="first", currency="EUR")
        blocker = bus.submit(first, Context(api.project_id, "cli"), lambda _: None)
        wait_for_a_lock_wait(app_tally)
        for client, owner in ((api, "refused"), (second, "neighbour")):
            check = KeyCheck(client.key_id, client.project_id, now)
            context = Context(client.project_id, client.key_id, key_check=check)
            command = m.OpenAccount(owner_ref=owner, currency="EUR")
            answers.append(bus.submit(command, context, lambda _: None))
        conn.rollback()
    blocker.result(timeout=30)
    with pytest.raises(Unauthenticated):
        answers[0].result(timeout=30)
    neighbour: Outcome = answers[1].result(timeout=30)
    assert neighbour.key_checked
    assert neighbour.position is not None
    # One append refused, naming the key: the neighbour ran again in a batch without it
    # (before, the whole batch was refused twice, then the refused command once alone).
    assert bus.stats()["key_refused"] == refused_before + 1
    second.position = neighbour.position
    owners = {a["owner_ref"] for a in second.ok(second.get("/v1/accounts"))["data"]}
    assert owners == {"first", "neighbour"}


def wait_for_a_lock_wait(tally: Tally) -> None:
    """Until a backend waits for a lock on the event table (the committer's append)."""
    query = (
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT l.granted AND c.relname = 'tally_events' AND n.nspname = %s"
    )
    deadline = time.monotonic() + 10
    with psycopg.connect(tally.target.url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(query, [tally.schema]).fetchone()
            if row is not None and row[0] > 0:
                return
            threading.Event().wait(0.01)
    raise AssertionError("the committer never waited for the event table's lock")


def revoked_while_cached(
    api: Client, elsewhere: Tally, lookups: KeyLookups, *, frozen: bool = False
) -> str:
    """An account of the client's (frozen if asked), the client's key cached by a deposit
    and then revoked by another Tally."""
    account = api.open_account("alice")
    cached(lookups, api, account)
    if frozen:
        api.ok(api.post(f"/v1/accounts/{account}/freeze", {}))
    revoke(elsewhere, api)
    return account


# One refusal each, decided without a write: only the confirmation in run's refusal branch
# (api/routes/common.py) stands between it and its own code, since nothing before it has
# dropped the key from the cache (review finding 2).
REFUSALS = {
    "404-unknown-account": ("deposits", DEPOSIT, False, True),
    "422-insufficient-funds": ("withdrawals", {**DEPOSIT, "amount": 10**6}, False, False),
    "422-currency-mismatch": ("deposits", {**DEPOSIT, "currency": "USD"}, False, False),
    "409-account-frozen": ("deposits", DEPOSIT, True, False),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_one_refusal_through_a_key_revoked_since_it_was_cached_answers_401(
    api: Client, app_tally: Tally, elsewhere: Tally, lookups: KeyLookups, refusal: str
) -> None:
    route, body, frozen, unknown = REFUSALS[refusal]
    account = revoked_while_cached(api, elsewhere, lookups, frozen=frozen)
    assert lookups.cache.get(api.key_id) is not None
    target = str(UUID(int=1)) if unknown else account
    with nothing_written(app_tally):
        answer = api.post(f"/v1/accounts/{target}/{route}", body)
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "unauthenticated"
    assert lookups.cache.get(api.key_id) is None


def test_a_422_through_a_key_revoked_since_it_was_cached_answers_401(
    api: Client, app_tally: Tally, elsewhere: Tally, lookups: KeyLookups
) -> None:
    """FastAPI checks the body after authenticating from the cache; the 422 must not tell
    a revoked key it was valid, nor what was wrong with its request (review finding 1).
    (A body that is not JSON at all is answered 400 before any authentication, whatever
    the key: that answer tells nothing about the key.)"""
    account = revoked_while_cached(api, elsewhere, lookups)
    with nothing_written(app_tally):
        answer = api.post(f"/v1/accounts/{account}/deposits", {"amount": "lots"})
    assert answer.status_code == 401, answer.text
    assert "errors" not in answer.json()


def test_a_422_through_a_valid_cached_key_is_answered(api: Client, lookups: KeyLookups) -> None:
    account = api.open_account("alice")
    cached(lookups, api, account)
    asked = lookups.lookups
    answer = api.post(f"/v1/accounts/{account}/deposits", {"amount": "lots", "currency": "EUR"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "validation_error"
    assert lookups.lookups == asked + 1  # confirmed by a lookup
    assert lookups.cache.get(api.key_id) is not None


def test_a_429_through_a_key_revoked_since_it_was_cached_answers_401(
    api: Client, app_tally: Tally, elsewhere: Tally, lookups: KeyLookups
) -> None:
    account = api.open_account("alice")
    set_limit(app_tally, api, "api_key", 2, 60)
    lookups.cache.drop(api.key_id)  # the next write reads the new policy
    cached(lookups, api, account)
    api.deposit(account, 100)
    revoke(elsewhere, api)
    with nothing_written(app_tally):
        answer = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT)
    assert answer.status_code == 401, answer.text
    assert "RateLimit" not in answer.headers


def test_a_key_refused_by_the_append_leaves_the_cache(
    api: Client, app_tally: Tally, elsewhere: Tally, lookups: KeyLookups
) -> None:
    """After its first refused write, a revoked key is refused by a lookup, not by another
    failed batch under the event table's lock (review finding 3)."""
    account = revoked_while_cached(api, elsewhere, lookups)
    refused_before = app_tally.bus.stats()["key_refused"]
    with nothing_written(app_tally):
        first = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT)
    assert first.status_code == 401, first.text
    assert app_tally.bus.stats()["key_refused"] == refused_before + 1
    assert lookups.cache.get(api.key_id) is None
    asked = lookups.lookups
    with nothing_written(app_tally):
        second = api.post(f"/v1/accounts/{account}/deposits", DEPOSIT)
    assert second.status_code == 401, second.text
    assert lookups.lookups == asked + 1
    assert app_tally.bus.stats()["key_refused"] == refused_before + 1

"""``adapters.outbox_claims``: one holder per provider call at a time, across sessions
(``PostgresClaims``, what the server uses) and across threads (``LocalClaims``): a
second claimant that does not wait is told at once, one that waits gets the claim when
the first lets go, and a claim is let go when its block raises."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from uuid import uuid4

import pytest
from psycopg_pool import ConnectionPool

from adapters.outbox_claims import Claims, LocalClaims, PostgresClaims


@pytest.fixture(params=["postgres", "local"])
def claims(request: pytest.FixtureRequest, pg_url: str) -> Iterator[Claims]:
    if request.param == "local":
        yield LocalClaims()
        return
    with ConnectionPool(pg_url, min_size=1, max_size=4, open=True) as pool:
        yield PostgresClaims(pool)


def test_a_held_call_is_refused_to_a_second_claimant_and_not_to_another_call(
    claims: Claims,
) -> None:
    call = uuid4()
    with claims.claimed(call) as first:
        assert first
        with claims.claimed(call) as second:
            assert not second
        with claims.claimed(uuid4()) as other:
            assert other
    with claims.claimed(call) as after:
        assert after


def test_a_waiting_claimant_gets_the_call_when_the_holder_lets_go(claims: Claims) -> None:
    call = uuid4()
    holding, waited = threading.Event(), []

    def hold() -> None:
        with claims.claimed(call) as held:
            assert held
            holding.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    started = time.monotonic()
    with claims.claimed(call, wait_s=5.0) as got:
        waited.append(time.monotonic() - started)
        assert got
    holder.join()
    assert 0.1 < waited[0] < 5.0


def test_a_claim_is_let_go_when_its_block_raises(claims: Claims) -> None:
    call = uuid4()

    def fail_holding() -> None:
        with claims.claimed(call) as held:
            assert held
            raise RuntimeError("the provider call failed")

    with pytest.raises(RuntimeError):
        fail_holding()
    with claims.claimed(call) as again:
        assert again

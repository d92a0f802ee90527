"""``adapters.outbox_claims``: one holder per provider call at a time, across sessions
(``PostgresClaims``, what the server uses) and across threads (``LocalClaims``): a
second claimant that does not wait is told at once, one that waits gets the claim when
the first lets go, and a claim is let go when its block raises."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from uuid import UUID, uuid4

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
    """The second claimant is another thread, as a worker's pass beside a route (one
    thread's nested claims are another test's)."""
    call = uuid4()

    def elsewhere(call_id: UUID) -> bool:
        answers: list[bool] = []

        def claim() -> None:
            with claims.claimed(call_id) as held:
                answers.append(held)

        thread = threading.Thread(target=claim)
        thread.start()
        thread.join(10)
        return answers[0]

    with claims.claimed(call) as first:
        assert first
        assert not elsewhere(call)
        assert elsewhere(uuid4())  # another call is another claim
    assert elsewhere(call)


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


def test_a_claim_taken_inside_another_uses_the_same_connection(pg_url: str) -> None:
    """A charge's claim, then its customer call's inside it: one pooled connection, so a
    thread never waits for a second connection while holding the first."""
    with ConnectionPool(pg_url, min_size=1, max_size=1, open=True, timeout=2) as pool:
        claims = PostgresClaims(pool)
        outer, inner = uuid4(), uuid4()
        with claims.claimed(outer) as held:
            assert held
            with claims.claimed(inner) as nested:  # a second connection would time out
                assert nested
            # The inner claim is let go at the end of its block; the outer is still held.
            with ConnectionPool(pg_url, min_size=1, max_size=1, open=True) as other:
                with PostgresClaims(other).claimed(inner) as taken:
                    assert taken
                with PostgresClaims(other).claimed(outer) as refused:
                    assert not refused
        with claims.claimed(outer) as again:
            assert again

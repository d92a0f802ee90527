"""Rate limits are exact across server workers when they count in Redis (issue 14): a real
``tally serve --workers 2`` with TALLY_REDIS_URL on the Redis at 6379, 16 concurrent
clients sending more deposits than the project's bucket holds, and no more succeed than
the bucket allows (and the refused ones wrote nothing). Each test has its own key prefix,
so parallel tests never share a bucket."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.test_cli_and_server import free_port, tally_json
from tests.e2e.test_stub_flow_serve import serving, stub_env

__all__ = ["stub_env"]  # a fixture used by name below

REDIS_URL = "redis://127.0.0.1:6379/0"
CLIENTS = 16
PER_CLIENT = 5
ALLOWED = 30


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"tally-test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("the tests need Redis on 127.0.0.1:6379 (the CI machine has it)")
    yield name
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
    client.close()


def deposit_all(base: str, secret: str, account: str) -> list[httpx.Response]:
    """``CLIENTS`` clients at once, each with its own connection, ``PER_CLIENT`` deposits
    each; their answers."""

    def one_client(n: int) -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            return [
                http.post(
                    f"/v1/accounts/{account}/deposits",
                    json={"amount": 100, "currency": "EUR"},
                    headers={"Idempotency-Key": f"c{n}-{i}"},
                )
                for i in range(PER_CLIENT)
            ]

    with ThreadPoolExecutor(CLIENTS) as pool:
        return [r for answers in pool.map(one_client, range(CLIENTS)) for r in answers]


def test_sixteen_clients_across_two_workers_get_no_more_than_the_bucket(
    stub_env: dict[str, str], prefix: str, tmp_path: Path
) -> None:
    env = {**stub_env, "TALLY_REDIS_URL": REDIS_URL, "TALLY_RATE_LIMIT_PREFIX": prefix}
    project = tally_json(env, "projects", "create", "acme")
    reader = tally_json(env, "keys", "create", "--project", project["id"])["api_key"]
    limits = tally_json(env, "projects", "limits", project["id"], "--api-key", f"{ALLOWED}/60")
    assert limits["rate_limits"]["api_key"] == {"requests": ALLOWED, "window_s": 60}
    with serving(env, free_port(), workers=2) as base:
        headers = {"Authorization": f"Bearer {project['api_key']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            opened = http.post("/v1/accounts", json={"owner_ref": "a", "currency": "EUR"})
            assert opened.status_code == 201, opened.text
        account = opened.json()["id"]
        answers = deposit_all(base, project["api_key"], account)
        # The account's open took one request of the bucket.
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {201: ALLOWED - 1, 429: CLIENTS * PER_CLIENT - (ALLOWED - 1)}
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        # Nothing a refused request asked for was executed: the balance is the admitted
        # deposits' (read with another key, whose bucket is its own).
        position = max(int(a.headers["Tally-Position"]) for a in answers if a.status_code == 201)
        with httpx.Client(base_url=base, timeout=30) as http:
            shown = http.get(
                f"/v1/accounts/{account}",
                params={"wait_for_position": position},
                headers={"Authorization": f"Bearer {reader}"},
            )
        assert shown.status_code == 200, shown.text
        assert shown.json()["ledger_balance"] == 100 * (ALLOWED - 1)
    assert redis.Redis.from_url(REDIS_URL).keys(f"{prefix}*"), "no bucket was in Redis"

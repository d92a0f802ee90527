"""``TALLY_TRUSTED_PROXIES`` (docs/operations.md): ``X-Forwarded-For`` names the client
for the buckets counted per address only when the peer is a trusted proxy. From any
other peer the header is ignored, so a guesser cannot give each guess a new address;
from a trusted proxy each client has its own bucket, and what a client prepends to the
header is not read."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from adapters.clock import FixedClock
from api.app import create_app
from api.bootstrap import Tally, build
from api.settings import Settings
from domain.rate_limits import default_policy
from tests.e2e.test_catalog_load import cli, env

__all__ = ["env"]  # the fixture, used by name

LIMIT = default_policy("auth_failure").requests
PROXY, OUTSIDER = ("10.0.0.7", 40000), ("203.0.113.9", 40000)


@pytest.fixture
def proxied(settings: Settings, clock: FixedClock) -> Iterator[Tally]:
    tally = build(settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"}), clock=clock)
    yield tally
    tally.close()


def guesses(http: TestClient, forwarded_for: list[str]) -> list[int]:
    """A wrong API key shown once per ``X-Forwarded-For`` value: the statuses."""
    return [
        http.get(
            "/v1/accounts",
            headers={"Authorization": f"Bearer tly_{n:016x}_wrong", "X-Forwarded-For": xff},
        ).status_code
        for n, xff in enumerate(forwarded_for)
    ]


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(proxied: Tally) -> None:
    # Trusted proxies are set, but this peer is not one: each guess names a new address,
    # and all of them count in the peer's own bucket.
    with TestClient(create_app(proxied), client=OUTSIDER) as http:
        spoofed = [f"198.51.100.{n}" for n in range(LIMIT + 1)]
        assert guesses(http, spoofed) == [401] * LIMIT + [429]


def test_without_the_setting_no_peer_is_trusted(app_tally: Tally) -> None:
    with TestClient(create_app(app_tally), client=PROXY) as http:
        spoofed = [f"198.51.100.{n}" for n in range(LIMIT + 1)]
        assert guesses(http, spoofed) == [401] * LIMIT + [429]


def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(proxied: Tally) -> None:
    with TestClient(create_app(proxied), client=PROXY) as http:
        # The client prepends addresses of its own; the proxy appends the one it saw.
        chains = [f"192.0.2.{n}, 198.51.100.1" for n in range(LIMIT + 1)]
        assert guesses(http, chains) == [401] * LIMIT + [429]
        # Another client behind the same proxy is apart, also through a second proxy.
        assert guesses(http, ["198.51.100.2", "198.51.100.2, 10.0.0.8"]) == [401, 401]


def test_a_malformed_network_refuses_to_start(env: dict[str, str]) -> None:
    done: subprocess.CompletedProcess[str] = cli(
        {**env, "TALLY_TRUSTED_PROXIES": "10.0.0.0/8, 10.0.0.300"}, "projects", "list"
    )
    assert done.returncode == 2
    assert "TALLY_TRUSTED_PROXIES" in done.stderr
    assert "'10.0.0.300' is not an IP address or network" in done.stderr
    assert Settings(trusted_proxies=" 10.1.2.3 ,::1, 10.0.0.0/8").trusted_proxies == (
        "10.1.2.3/32,::1/128,10.0.0.0/8"
    )

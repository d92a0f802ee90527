"""Fetching an identity provider's JWKS safely (security review of issue 14, findings 1
and 4): a server dribbling its answer cannot hold requests past the fetch deadline, no
project makes Tally fetch from a private address (test mode allows loopback only), the
request goes to the address that was checked, and kept keys belong to one project."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.customer_tokens import JwksCache, verify_jwt
from adapters.pinned_get import RefusedAddress, checked_address, get
from domain.errors import IdentityProviderUnavailable
from domain.limits import MAX_JWKS_KEPT
from tests.jwt_issuer import AUDIENCE, ISSUER, DribblingServer, JwksServer, claims_at, mint

NOW = datetime(2030, 1, 1, tzinfo=UTC)
DEADLINE_S = 0.5


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    server = JwksServer()
    server.new_key("k1")
    yield server
    server.close()


def settings_for(url: str) -> dict[str, object]:
    return {
        "kind": "jwks",
        "jwks_url": url,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "algorithms": ["RS256"],
    }


def test_a_dribbling_jwks_server_holds_no_request_past_the_deadline(idp: JwksServer) -> None:
    # 60 bytes, 50 ms apart: 3 s in all, each byte well within any per-read timeout.
    slow = DribblingServer(size=60, pause_s=0.05)
    cache = JwksCache(timeout_s=DEADLINE_S)
    token = mint(claims_at(NOW), idp.keys[0])
    waited: list[float] = []
    refused: list[bool] = []

    def one() -> None:
        started = time.monotonic()
        try:
            verify_jwt(
                token,
                settings_for(slow.url),
                now=NOW,
                shared_secret=None,
                jwks=cache,
                owner="p",
                allow_loopback=True,
            )
        except IdentityProviderUnavailable:
            refused.append(True)
        waited.append(time.monotonic() - started)

    threads = [threading.Thread(target=one) for _ in range(5)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        slow.close()
    # The fetch fails at its deadline; the four waiting for it wait at most as long.
    assert len(refused) == 5
    assert max(waited) < 3 * DEADLINE_S, waited


def test_private_addresses_are_refused_in_every_mode() -> None:
    for url in ("https://10.1.2.3/jwks", "https://169.254.169.254/latest", "http://192.0.2.2/"):
        for loopback in (False, True):
            with pytest.raises(RefusedAddress):
                checked_address(url, allow_loopback=loopback)
    with pytest.raises(RefusedAddress):
        checked_address("http://127.0.0.1:9/jwks", allow_loopback=False)
    assert checked_address("http://127.0.0.1:9/jwks", allow_loopback=True) == "127.0.0.1"


def own_address() -> str:
    """This machine's address on its network (no packet is sent: a UDP socket's
    connect only picks the route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return str(probe.getsockname()[0])


def test_a_test_mode_project_cannot_fetch_from_a_private_network() -> None:
    # A JWKS server on this machine's own non-loopback, non-public address: the kind of
    # internal service a test-mode key must not reach.
    host = own_address()
    address = ipaddress.ip_address(host)
    assert not address.is_global, host  # what the test needs
    assert not address.is_loopback, host
    inside = JwksServer(host=host)
    inside.new_key("k1")
    try:
        with pytest.raises(IdentityProviderUnavailable):
            verify_jwt(
                mint(claims_at(NOW), inside.keys[0]),
                settings_for(inside.url),
                now=NOW,
                shared_secret=None,
                jwks=JwksCache(),
                owner="p",
                allow_loopback=True,
            )
        assert inside.requests == 0
    finally:
        inside.close()


def test_the_request_goes_to_the_checked_address(idp: JwksServer) -> None:
    # The name does not resolve at all: only the checked address can have been used.
    port = idp.url.split(":")[2].split("/")[0]
    body = get(f"http://jwks.invalid:{port}/jwks.json", "127.0.0.1", timeout_s=2, max_bytes=10_000)
    assert b'"keys"' in body
    assert idp.requests == 1


def test_keys_are_kept_per_project(idp: JwksServer) -> None:
    cache = JwksCache()
    token = mint(claims_at(NOW), idp.keys[0])
    values = settings_for(idp.url)
    assert verify_jwt(
        token, values, now=NOW, shared_secret=None, jwks=cache, owner="test-p", allow_loopback=True
    )
    # A live project naming the same URL gets no keys fetched under test-mode rules.
    with pytest.raises(IdentityProviderUnavailable):
        verify_jwt(token, values, now=NOW, shared_secret=None, jwks=cache, owner="live-p")
    assert idp.requests == 1


def test_the_kept_documents_are_bounded(idp: JwksServer) -> None:
    cache = JwksCache()
    token = mint(claims_at(NOW), idp.keys[0])
    for n in range(MAX_JWKS_KEPT + 5):
        url = f"{idp.url}?v={n}"  # a varied query string is one more document, bounded
        with pytest.raises(IdentityProviderUnavailable):
            verify_jwt(token, settings_for(url), now=NOW, shared_secret=None, jwks=cache, owner="p")
    assert len(cache) == MAX_JWKS_KEPT

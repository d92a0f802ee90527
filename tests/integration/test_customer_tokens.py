"""Identity-provider JWTs checked by ``adapters.customer_tokens`` (issue 14), against a
local JWKS server: forged tokens are refused, a rotation is picked up, and unknown kids
cannot make Tally fetch the JWKS more than once per interval."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import OctKey, RSAKey

from adapters.customer_tokens import JwksCache, verify_jwt
from domain.errors import IdentityProviderUnavailable, Unauthenticated
from domain.limits import JWKS_MIN_REFRESH_S, MAX_JWT_LIFETIME_S, TOKEN_SKEW_S
from tests.jwt_issuer import AUDIENCE, ISSUER, JwksServer, claims_at, mint

NOW = datetime(2030, 1, 1, tzinfo=UTC)
SECRET = "s" * 40
OWNER = "project-1"


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    server = JwksServer()
    server.new_key("k1")
    yield server
    server.close()


def jwks_settings(idp: JwksServer, **changes: Any) -> dict[str, Any]:
    values = {
        "kind": "jwks",
        "jwks_url": idp.url,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "algorithms": ["RS256"],
    }
    return {**values, **changes}


HMAC = {"kind": "shared_secret", "issuer": ISSUER, "audience": AUDIENCE, "algorithms": ["HS256"]}


def check(token: str, values: dict[str, Any], cache: JwksCache, secret: str | None = None) -> Any:
    # The local JWKS server is on a loopback address: allowed as for a test-mode project.
    return verify_jwt(
        token, values, now=NOW, shared_secret=secret, jwks=cache, owner=OWNER, allow_loopback=True
    )


def test_a_good_token_verifies_with_the_jwks_and_with_a_shared_secret(idp: JwksServer) -> None:
    cache = JwksCache()
    claims = check(mint(claims_at(NOW), idp.keys[0]), jwks_settings(idp), cache)
    assert claims["sub"] == "user_1"
    hs = mint(claims_at(NOW, sub="u2"), OctKey.import_key(SECRET), "HS256")
    assert check(hs, HMAC, cache, SECRET)["sub"] == "u2"


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def _hs256_by_hand(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """What an attacker makes with the RSA public key as an HMAC secret (joserfc refuses
    to make it, so it is made here by hand)."""
    signing_input = _unsigned(claims, {"alg": "HS256", "kid": kid})[:-1]
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def forged_tokens(idp: JwksServer) -> dict[str, tuple[str, dict[str, Any], str | None]]:
    good = claims_at(NOW)
    key = idp.keys[0]
    public_pem = key.as_pem(private=False)
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    unknown = RSAKey.generate_key(2048, parameters={"kid": "nobody"})
    settings_ = jwks_settings(idp)
    return {
        "alg none": (_unsigned(good, {"alg": "none", "kid": "k1"}), settings_, None),
        "alg none, shared": (_unsigned(good, {"alg": "none"}), HMAC, SECRET),
        # The RSA public key used as an HMAC secret (the classic HS/RS confusion).
        "hs with the public key": (
            _hs256_by_hand(good, public_pem, "k1"),
            jwks_settings(idp, algorithms=["RS256"]),
            None,
        ),
        "hs on a jwks provider": (mint(good, OctKey.import_key(SECRET), "HS256"), settings_, None),
        "rs on a shared secret": (mint(good, key), HMAC, SECRET),
        "wrong key, same kid": (mint(good, other), settings_, None),
        "unknown kid": (mint(good, unknown), settings_, None),
        "wrong secret": (mint(good, OctKey.import_key("x" * 40), "HS256"), HMAC, SECRET),
        "expired": (
            mint(claims_at(NOW, exp=int(NOW.timestamp()) - TOKEN_SKEW_S - 1), key),
            settings_,
            None,
        ),
        "no exp": (mint(claims_at(NOW, exp=None), key), settings_, None),
        "not yet valid": (
            mint(claims_at(NOW, nbf=int(NOW.timestamp()) + TOKEN_SKEW_S + 5), key),
            settings_,
            None,
        ),
        "issued in the future": (
            mint(claims_at(NOW, iat=int(NOW.timestamp()) + TOKEN_SKEW_S + 5), key),
            settings_,
            None,
        ),
        "wrong issuer": (mint(claims_at(NOW, iss="https://evil.test/"), key), settings_, None),
        "no issuer": (mint(claims_at(NOW, iss=None), key), settings_, None),
        # Finding 8: a token without iat, or living longer than MAX_JWT_LIFETIME_S.
        "no iat": (mint(claims_at(NOW, iat=None), key), settings_, None),
        "lives 30 years": (
            mint(claims_at(NOW, exp=int(NOW.timestamp()) + 30 * 365 * 86_400), key),
            settings_,
            None,
        ),
        "lives a second too long": (
            mint(claims_at(NOW, exp=int(NOW.timestamp()) + MAX_JWT_LIFETIME_S + 1), key),
            settings_,
            None,
        ),
        "wrong audience": (mint(claims_at(NOW, aud="someone-else"), key), settings_, None),
        "not a jwt": ("tly_abc_def", settings_, None),
        "five parts (JWE)": ("a.b.c.d.e", settings_, None),
    }


def test_every_forged_token_is_refused(idp: JwksServer) -> None:
    cache = JwksCache()
    forged = forged_tokens(idp)
    refused = []
    for name, (token, values, secret) in forged.items():
        try:
            check(token, values, cache, secret)
        except Unauthenticated:
            refused.append(name)
    assert refused == list(forged)


def test_skew_is_allowed_each_way(idp: JwksServer) -> None:
    at = int(NOW.timestamp())
    late = claims_at(NOW, exp=at - TOKEN_SKEW_S + 1)
    early = claims_at(NOW, nbf=at + TOKEN_SKEW_S - 1)
    longest = claims_at(NOW, exp=at + MAX_JWT_LIFETIME_S)
    for claims in (late, early, longest):
        assert check(mint(claims, idp.keys[0]), jwks_settings(idp), JwksCache())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_a_tampered_payload_never_verifies(idp: JwksServer, position: int, flip: int) -> None:
    token = mint(claims_at(NOW), idp.keys[0])
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[position % len(raw)] ^= flip
    changed = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(Unauthenticated):
        check(f"{header}.{changed}.{signature}", jwks_settings(idp), CACHE)


CACHE = JwksCache()


def test_a_rotation_is_picked_up_on_an_unknown_kid(idp: JwksServer) -> None:
    ticks = Ticks()
    cache = JwksCache(monotonic=ticks)
    values = jwks_settings(idp)
    assert check(mint(claims_at(NOW), idp.keys[0]), values, cache)
    assert cache.fetches == 1
    new = idp.new_key("k2")
    ticks.now += JWKS_MIN_REFRESH_S
    assert check(mint(claims_at(NOW, sub="after"), new), values, cache)["sub"] == "after"
    assert cache.fetches == 2


def test_unknown_kids_fetch_at_most_once_per_interval(idp: JwksServer) -> None:
    ticks = Ticks()
    cache = JwksCache(monotonic=ticks)
    values = jwks_settings(idp)
    check(mint(claims_at(NOW), idp.keys[0]), values, cache)
    for n in range(50):
        stranger = RSAKey.generate_key(2048, parameters={"kid": f"x{n % 3}"}) if n < 3 else None
        token = mint(claims_at(NOW), stranger or RSAKey.generate_key(2048, parameters={"kid": "x"}))
        with pytest.raises(Unauthenticated):
            check(token, values, cache)
    assert (cache.fetches, idp.requests) == (1, 1)
    ticks.now += JWKS_MIN_REFRESH_S
    with pytest.raises(Unauthenticated):
        check(
            mint(claims_at(NOW), RSAKey.generate_key(2048, parameters={"kid": "y"})), values, cache
        )
    assert (cache.fetches, idp.requests) == (2, 2)


def test_kept_keys_serve_while_the_idp_is_down(idp: JwksServer) -> None:
    ticks = Ticks()
    cache = JwksCache(monotonic=ticks)
    values = jwks_settings(idp)
    token = mint(claims_at(NOW), idp.keys[0])
    check(token, values, cache)
    idp.close()
    ticks.now += 10 * JWKS_MIN_REFRESH_S
    with pytest.raises(Unauthenticated):
        check(
            mint(claims_at(NOW), RSAKey.generate_key(2048, parameters={"kid": "z"})), values, cache
        )
    assert check(token, values, cache)["sub"] == "user_1"


def test_a_live_project_never_fetches_from_a_private_address(idp: JwksServer) -> None:
    cache = JwksCache()
    token = mint(claims_at(NOW), idp.keys[0])
    with pytest.raises(IdentityProviderUnavailable):
        verify_jwt(token, jwks_settings(idp), now=NOW, shared_secret=None, jwks=cache, owner=OWNER)
    assert idp.requests == 0


def test_kept_keys_answer_while_another_request_fetches(idp: JwksServer) -> None:
    ticks = Ticks()
    cache = JwksCache(monotonic=ticks)
    values = jwks_settings(idp)
    token = mint(claims_at(NOW), idp.keys[0])
    check(token, values, cache)
    # Another request holds the URL's lock (a slow fetch in flight).
    lock = cache._kept[(OWNER, idp.url)].lock
    lock.acquire()
    try:
        ticks.now += 10 * JWKS_MIN_REFRESH_S
        assert check(token, values, cache)["sub"] == "user_1"
    finally:
        lock.release()
    assert cache.fetches == 1

"""Checks an identity provider's JWT (issue 14), with ``joserfc``, never by hand.

``JwksCache`` fetches a JWKS URL with httpx and keeps it: a token whose ``kid`` the kept
keys do not hold makes it fetch again (the provider rotated its keys), but at most once
every ``JWKS_MIN_REFRESH_S`` per URL, so a flood of tokens naming unknown kids costs the
provider one request per interval; kept keys older than ``JWKS_MAX_AGE_S`` are fetched
again on the next token. One lock per URL: a slow provider holds up only the requests
that need its keys.

``verify_jwt`` refuses (``Unauthenticated``, one message for every failure so that the
answer tells an attacker nothing) anything but a compact JWS signed with an allowed
algorithm by an allowed key, with the expected ``iss`` and ``aud``, an ``exp`` in the
future and an ``nbf``/``iat`` not in the future (``TOKEN_SKEW_S`` of skew each way).
The algorithm families are tied to the key: a shared secret verifies only HS*, a JWKS
only asymmetric algorithms, and symmetric (``oct``) keys in a JWKS are dropped, so a
token cannot get a public key used as an HMAC secret.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey
from joserfc.jws import JWSRegistry, extract_compact

from adapters.webhook_transport import refused_address
from domain.errors import IdentityProviderUnavailable, Unauthenticated
from domain.limits import (
    JWKS_MAX_AGE_S,
    JWKS_MIN_REFRESH_S,
    JWKS_TIMEOUT_S,
    MAX_JWKS_BYTES,
    MAX_JWKS_KEYS,
    TOKEN_SKEW_S,
)

log = logging.getLogger("tally.customer_tokens")

REFUSAL = "a valid customer token is required (Authorization: Bearer <token>)"


@dataclass
class _Kept:
    keys: KeySet | None = None
    kids: frozenset[str] = frozenset()
    fetched_at: float = float("-inf")  # when the kept keys were fetched (monotonic)
    tried_at: float = float("-inf")  # when a fetch was last tried, whatever came of it


class JwksCache:
    """JWKS documents by URL (see the module's docstring). ``monotonic`` is the clock
    the refresh intervals are measured on (tests pass their own)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._kept: dict[str, _Kept] = {}
        self._locks: dict[str, threading.Lock] = {}
        self.fetches = 0  # fetches made, to check the refresh bounds

    def keys_for(self, url: str, kid: str | None, *, allow_private: bool = False) -> KeySet:
        """The keys to check a token naming ``kid`` with (fetched again if needed). A
        host that resolves to a non-public address is fetched from only when
        ``allow_private`` (a test-mode project)."""
        with self._lock:
            kept = self._kept.setdefault(url, _Kept())
            url_lock = self._locks.setdefault(url, threading.Lock())
        # While another request fetches, the kept keys answer at once: a slow provider
        # holds up only requests that have nothing to check with yet.
        if not url_lock.acquire(blocking=kept.keys is None):
            return self._kept_or_refuse(kept)
        try:
            now = self._monotonic()
            if self._should_fetch(kept, kid, now):
                kept.tried_at = now
                self._fetch_into(url, kept, now, allow_private)
            return self._kept_or_refuse(kept)
        finally:
            url_lock.release()

    @staticmethod
    def _kept_or_refuse(kept: _Kept) -> KeySet:
        if kept.keys is None:
            raise IdentityProviderUnavailable(
                "the identity provider's keys (its JWKS) cannot be fetched; retry shortly"
            )
        return kept.keys

    @staticmethod
    def _should_fetch(kept: _Kept, kid: str | None, now: float) -> bool:
        if now - kept.tried_at < JWKS_MIN_REFRESH_S:
            return False
        stale = now - kept.fetched_at >= JWKS_MAX_AGE_S
        unknown = kid is not None and kid not in kept.kids
        return kept.keys is None or stale or unknown

    def _fetch_into(self, url: str, kept: _Kept, now: float, allow_private: bool) -> None:
        self.fetches += 1
        refused = "" if allow_private else refused_address(url)
        if refused:
            # Never a request to an internal address on a live project's behalf. The
            # name is resolved again to connect (DNS rebinding is not covered, as for
            # webhooks: adapters/webhook_transport.py).
            log.warning("JWKS fetch from %s refused: %s", url, refused)
            return
        try:
            document = _fetch(url)
            keys = _public_keys(document)
        except (httpx.HTTPError, ValueError, JoseError) as error:
            # Kept keys go on serving (a provider's outage does not log everyone out).
            log.warning("JWKS fetch from %s failed: %s", url, type(error).__name__)
            return
        kept.keys = keys
        kept.kids = frozenset(str(k.kid) for k in keys.keys if k.kid)
        kept.fetched_at = now


def _fetch(url: str) -> dict[str, Any]:
    with (
        httpx.Client(timeout=JWKS_TIMEOUT_S, follow_redirects=False) as client,
        client.stream("GET", url, headers={"Accept": "application/json"}) as response,
    ):
        response.raise_for_status()
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    return document


def _public_keys(document: dict[str, Any]) -> KeySet:
    # Symmetric keys have no place in a public JWKS: dropped, so no token can have its
    # HMAC checked with a key published for anyone to read.
    keys = [k for k in document["keys"] if isinstance(k, dict) and k.get("kty") != "oct"]
    if len(keys) > MAX_JWKS_KEYS:
        raise ValueError(f"JWKS holds more than {MAX_JWKS_KEYS} keys")
    return KeySet.import_key_set({"keys": keys})


def verify_jwt(
    token: str,
    settings: dict[str, Any],
    *,
    now: datetime,
    shared_secret: str | None,
    jwks: JwksCache,
    allow_private: bool = False,
) -> dict[str, Any]:
    """The claims of ``token`` if it passes every check of ``settings`` (an identity
    provider's: kind, jwks_url, issuer, audience, algorithms), else ``Unauthenticated``."""
    algorithms: Sequence[str] = list(settings["algorithms"])
    if token.count(".") != 2:
        raise Unauthenticated(REFUSAL)  # a JWE (five parts) or not a JWT at all
    try:
        header = extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError):
        raise Unauthenticated(REFUSAL) from None
    if header.get("alg") not in algorithms:
        raise Unauthenticated(REFUSAL)  # "none" is never in the list
    key: OctKey | KeySet
    if settings["kind"] == "shared_secret":
        if shared_secret is None:
            raise Unauthenticated(REFUSAL)
        key = OctKey.import_key(shared_secret)
    else:
        kid = header.get("kid")
        kid_named = str(kid) if kid is not None else None
        key = jwks.keys_for(str(settings["jwks_url"]), kid_named, allow_private=allow_private)
    try:
        registry = JWSRegistry(algorithms=algorithms)
        decoded = jwt.decode(token, key, algorithms=algorithms, registry=registry)
        claims = dict(decoded.claims)
        _claims_registry(settings, now).validate(claims)
    except (JoseError, ValueError, TypeError, KeyError):
        raise Unauthenticated(REFUSAL) from None
    return claims


def _claims_registry(settings: dict[str, Any], now: datetime) -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(
        now=int(now.timestamp()),
        leeway=TOKEN_SKEW_S,
        iss={"essential": True, "value": settings["issuer"]},
        aud={"essential": True, "value": settings["audience"]},
        exp={"essential": True},
    )

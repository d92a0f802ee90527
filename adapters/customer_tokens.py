"""Checks an identity provider's JWT (issue 14), with ``joserfc``, never by hand.

``JwksCache`` fetches a JWKS URL (``adapters.pinned_get``: public addresses only, the
checked address connected to, the whole fetch under a ``JWKS_TIMEOUT_S`` deadline) and
keeps it per project and URL: a token whose ``kid`` the kept keys do not hold makes it
fetch again (the provider rotated its keys), but at most once every
``JWKS_MIN_REFRESH_S`` per project and URL, so a flood of tokens naming unknown kids
costs the provider one request per interval; kept keys older than ``JWKS_MAX_AGE_S``
are fetched again on the next token. One lock per project and URL: a slow provider holds
up only the requests that need its keys, each at most the deadline.

``verify_jwt`` refuses (``Unauthenticated``, one message for every failure so that the
answer tells an attacker nothing) anything but a compact JWS signed with an allowed
algorithm by an allowed key, with the expected ``iss`` and ``aud``, an ``exp`` in the
future, an ``iat`` and an ``nbf`` not in the future (``TOKEN_SKEW_S`` of skew each way),
and a lifetime ``exp - iat`` of at most ``MAX_JWT_LIFETIME_S``.
The algorithm families are tied to the key: a shared secret verifies only HS*, a JWKS
only asymmetric algorithms, and symmetric (``oct``) keys in a JWKS are dropped, so a
token cannot get a public key used as an HMAC secret.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPException
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey
from joserfc.jws import JWSRegistry, extract_compact

from adapters.pinned_get import RefusedAddress, checked_address, get
from domain.errors import IdentityProviderUnavailable, Unauthenticated
from domain.limits import (
    JWKS_MAX_AGE_S,
    JWKS_MIN_REFRESH_S,
    JWKS_TIMEOUT_S,
    MAX_JWKS_BYTES,
    MAX_JWKS_KEPT,
    MAX_JWKS_KEYS,
    MAX_JWT_LIFETIME_S,
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
    lock: threading.Lock = field(default_factory=threading.Lock)


class JwksCache:
    """JWKS documents by project and URL (see the module's docstring), at most
    ``MAX_JWKS_KEPT`` of them. ``monotonic`` is the clock the refresh intervals are
    measured on and ``timeout_s`` the fetch deadline (tests pass their own)."""

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, timeout_s: float = JWKS_TIMEOUT_S
    ) -> None:
        self._monotonic = monotonic
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()
        self.fetches = 0  # fetches made, to check the refresh bounds

    def keys_for(
        self, owner: str, url: str, kid: str | None, *, allow_loopback: bool = False
    ) -> KeySet:
        """The keys to check a token naming ``kid`` with, for the project ``owner``
        (fetched again if needed). Keys are kept per project and URL: a project never
        gets keys fetched on another's behalf, under another's address rules. A host is
        fetched from only if it resolves to public addresses (or loopback ones when
        ``allow_loopback``: a test-mode project)."""
        kept = self._entry((owner, url))
        # While another request fetches, the kept keys answer at once: a slow provider
        # holds up only requests that have nothing to check with yet, and those at most
        # the fetch deadline (then 503), so they cannot pile up on the shared threads.
        if kept.keys is not None:
            acquired = kept.lock.acquire(blocking=False)
        else:
            acquired = kept.lock.acquire(timeout=self._timeout_s)
        if not acquired:
            return self._kept_or_refuse(kept)
        try:
            now = self._monotonic()
            if self._should_fetch(kept, kid, now):
                kept.tried_at = now
                self._fetch_into(url, kept, now, allow_loopback)
            return self._kept_or_refuse(kept)
        finally:
            kept.lock.release()

    def __len__(self) -> int:
        return len(self._kept)

    def _entry(self, key: tuple[str, str]) -> _Kept:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                kept = self._kept[key] = _Kept()
                if len(self._kept) > MAX_JWKS_KEPT:
                    self._kept.popitem(last=False)
            self._kept.move_to_end(key)
            return kept

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

    def _fetch_into(self, url: str, kept: _Kept, now: float, allow_loopback: bool) -> None:
        self.fetches += 1
        try:
            # Never a request to an internal address; the request goes to the address
            # checked here, so the name cannot be made to resolve elsewhere in between.
            address = checked_address(url, allow_loopback=allow_loopback)
        except RefusedAddress as refused:
            log.warning("JWKS fetch from %s refused: %s", url, refused)
            return
        try:
            document = _document(
                get(url, address, timeout_s=self._timeout_s, max_bytes=MAX_JWKS_BYTES)
            )
            keys = _public_keys(document)
        except (OSError, HTTPException, ValueError, JoseError) as error:
            # Kept keys go on serving (a provider's outage does not log everyone out).
            log.warning("JWKS fetch from %s failed: %s", url, type(error).__name__)
            return
        kept.keys = keys
        kept.kids = frozenset(str(k.kid) for k in keys.keys if k.kid)
        kept.fetched_at = now


def _document(body: bytes) -> dict[str, Any]:
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
    owner: str,
    allow_loopback: bool = False,
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
        url = str(settings["jwks_url"])
        key = jwks.keys_for(owner, url, kid_named, allow_loopback=allow_loopback)
    try:
        registry = JWSRegistry(algorithms=algorithms)
        decoded = jwt.decode(token, key, algorithms=algorithms, registry=registry)
        claims = dict(decoded.claims)
        _claims_registry(settings, now).validate(claims)
        _short_lived(claims)
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
        iat={"essential": True},
    )


def _short_lived(claims: dict[str, Any]) -> None:
    """A token living longer than ``MAX_JWT_LIFETIME_S`` is refused: a stolen one must
    stop working soon (the registry has checked that exp and iat are numbers)."""
    if float(claims["exp"]) - float(claims["iat"]) > MAX_JWT_LIFETIME_S:
        raise ValueError("the token lives too long")

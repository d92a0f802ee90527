"""Encryption of the provider credentials a project stores (``TALLY_SECRETS_KEY``).

A project may hand Tally a secret (a provider API key, a webhook signing secret) instead
of the name of an environment variable. The secret is encrypted with Fernet (AES-128-CBC
plus HMAC-SHA256, from the ``cryptography`` package) before any event is recorded, so
the event log, its backups and the read models hold only ciphertext. What is recorded
for a secret is a *sealed* value: ``{"token": <Fernet token>, "key_id": <fingerprint of
the key that encrypted it>}``.

``TALLY_SECRETS_KEY`` holds one or more Fernet keys, comma separated, newest first.
The newest encrypts; every key decrypts (``MultiFernet``), so a key can be rotated
without losing what older keys sealed: put the new key first, re-seal, then drop the
old one. The key id lets an error say *which* key a token needs without showing
anything secret (it is a hash of the key, useless for decrypting).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# A domain separator, so that the key id cannot be mistaken for any other hash of the key.
_KEY_ID_LABEL = b"tally secrets key id\x00"
# The label of the key that digests requests for idempotency (see ``digest``).
_DIGEST_LABEL = b"tally request digest\x00"
MAX_KEYS = 10


class SecretsKeyInvalid(ValueError):
    """``TALLY_SECRETS_KEY`` is not a comma-separated list of Fernet keys. The message
    names the position of the bad key, never a key."""


class SecretUnreadable(ValueError):
    """A sealed value cannot be decrypted with the keys at hand. The message names the
    key id it needs and the ids there are, never a token or a key."""


def parse_keys(value: str) -> list[bytes]:
    """The Fernet keys in ``value`` (comma separated, newest first), each checked."""
    parts = [part.strip() for part in value.split(",")]
    if not any(parts):
        raise SecretsKeyInvalid("is empty; unset it or give a Fernet key")
    if len(parts) > MAX_KEYS:
        raise SecretsKeyInvalid(f"holds {len(parts)} keys; at most {MAX_KEYS}")
    keys: list[bytes] = []
    for position, part in enumerate(parts, start=1):
        try:
            Fernet(part.encode())
        except (ValueError, TypeError):
            # Never quote the value: it is (or was meant to be) a secret.
            raise SecretsKeyInvalid(
                f"key {position} of {len(parts)} is not a Fernet key (32 url-safe "
                "base64-encoded bytes, as Fernet.generate_key() makes)"
            ) from None
        keys.append(part.encode())
    if len(set(keys)) != len(keys):
        raise SecretsKeyInvalid("holds the same key twice")
    return keys


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key: 16 hex digits of a labelled SHA-256."""
    return hashlib.sha256(_KEY_ID_LABEL + key).hexdigest()[:16]


class SecretBox:
    """Seals and opens secrets with the configured keys (the first one seals)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise SecretsKeyInvalid("no key given")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self._primary_id = key_id(keys[0])
        self.key_ids: tuple[str, ...] = tuple(key_id(key) for key in keys)
        # Derived rather than the key itself, so a digest can never be used to decrypt.
        self._digest_key = hmac.new(keys[0], _DIGEST_LABEL, hashlib.sha256).digest()

    @classmethod
    def from_setting(cls, value: str | None) -> SecretBox | None:
        """The box for ``TALLY_SECRETS_KEY``; None when it is unset (secrets can then
        only be named by environment variable)."""
        if value is None or not value.strip():
            return None
        return cls(parse_keys(value))

    @property
    def primary_key_id(self) -> str:
        return self._primary_id

    def seal(self, plaintext: str) -> dict[str, str]:
        token = self._fernet.encrypt(plaintext.encode()).decode()
        return {"token": token, "key_id": self._primary_id}

    def open(self, sealed: Mapping[str, str]) -> str:
        try:
            return self._fernet.decrypt(sealed["token"].encode()).decode()
        except (InvalidToken, KeyError, UnicodeError):
            raise SecretUnreadable(self._unreadable(sealed)) from None

    def reseal(self, sealed: Mapping[str, str]) -> dict[str, str]:
        """The same secret sealed with the newest key (``MultiFernet.rotate``); a value
        already sealed with it is returned as it is."""
        if sealed.get("key_id") == self._primary_id:
            return dict(sealed)
        try:
            token = self._fernet.rotate(sealed["token"].encode()).decode()
        except (InvalidToken, KeyError):
            raise SecretUnreadable(self._unreadable(sealed)) from None
        return {"token": token, "key_id": self._primary_id}

    def digest(self, secrets: Mapping[str, str]) -> str:
        """A keyed digest of ``secrets`` (purpose -> plaintext) for idempotency checks.

        The bus tells a retried request from another one by a hash of the command, and
        that hash is recorded. An unkeyed hash of a secret could be brute-forced from the
        log when the secret is weak; keyed with (a key derived from) the newest key it
        tells no more than the ciphertext does.
        """
        canonical = json.dumps(sorted(secrets.items()), separators=(",", ":"))
        return hmac.new(self._digest_key, canonical.encode(), hashlib.sha256).hexdigest()

    def _unreadable(self, sealed: Mapping[str, str]) -> str:
        wanted = str(sealed.get("key_id") or "unknown")
        if wanted in self.key_ids:
            return f"the token does not decrypt with key {wanted} (it was altered)"
        return (
            f"it was encrypted with key {wanted}, which TALLY_SECRETS_KEY does not hold "
            f"(it holds {', '.join(self.key_ids)})"
        )

"""Signed checkpoints of the hash chain (docs/audit.md): the head's position and hash,
signed with Ed25519 (the ``cryptography`` package), written as a small JSON file that can
be published or handed to an auditor.

A checkpoint is what an unkeyed chain cannot give by itself: someone who can write the
event table can rewrite every hash after the event they changed, and the chain alone
would verify. A checkpoint kept outside the database pins the hash at its position, so
``tally audit verify --checkpoint FILE`` finds any rewrite of the log up to there.

The private key is 32 bytes (an Ed25519 seed), written and read as base64; the public
key likewise. The signature covers every other field of the file, as compact JSON with
sorted keys.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "tally.audit.checkpoint.v1"


class CheckpointInvalid(Exception):
    """A checkpoint file that cannot be read, or whose signature does not verify."""


class KeyInvalid(Exception):
    """A signing or public key that is not 32 bytes of base64."""


def new_signing_key() -> str:
    """A fresh private key, as the base64 text the settings take."""
    return _b64(Ed25519PrivateKey.generate().private_bytes_raw())


def signing_key(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_key_bytes(text, "signing key"))


def public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_key_bytes(text, "public key"))


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _b64(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def _key_bytes(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyInvalid(f"the {what} is not base64") from None
    if len(raw) != 32:
        raise KeyInvalid(f"the {what} is {len(raw)} bytes, not 32")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Checkpoint:
    """The signed head of one schema's log."""

    schema: str
    position: int
    hash: str  # hex
    created: str  # RFC 3339 UTC
    public_key: str  # base64
    signature: str = ""  # base64, over every other field
    format: str = FORMAT

    def signed_bytes(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    @property
    def hash_bytes(self) -> bytes:
        return bytes.fromhex(self.hash)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sign(key: Ed25519PrivateKey, schema: str, position: int, head_hash: bytes) -> Checkpoint:
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    unsigned = Checkpoint(schema, position, head_hash.hex(), created, public_text(key))
    signature = _b64(key.sign(unsigned.signed_bytes()))
    return Checkpoint(**{**asdict(unsigned), "signature": signature})


def read_checkpoint(path: Path, trusted: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint in ``path``, once its signature verifies with ``trusted`` (the key
    the auditor holds, never the one the file names)."""
    try:
        data = json.loads(path.read_text())
        checkpoint = Checkpoint(**data)
        signature = base64.b64decode(checkpoint.signature, validate=True)
        bytes.fromhex(checkpoint.hash)
    except (OSError, ValueError, TypeError, binascii.Error) as exc:
        raise CheckpointInvalid(f"{path}: not a checkpoint file ({exc})") from None
    if checkpoint.format != FORMAT:
        raise CheckpointInvalid(f"{path}: format {checkpoint.format!r}, expected {FORMAT!r}")
    try:
        trusted.verify(signature, checkpoint.signed_bytes())
    except InvalidSignature:
        raise CheckpointInvalid(
            f"{path}: the signature does not verify with the given public key"
        ) from None
    return checkpoint

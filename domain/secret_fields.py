"""The fields of stored events that hold a secret's hash or its ciphertext, and their
redaction (docs/audit.md, "Through the API").

The log keeps them: authentication needs an API key's hash, and the provider directory and
webhook deliveries open the sealed secrets. But a project's key holder who exports its
events must not get them: a key hash can be attacked offline, and ciphertext is only as
safe as ``TALLY_SECRETS_KEY``. So the API's export replaces each of these fields with
null and names it on the line; the operator's ``tally export events`` keeps everything.

A field is a path into the event's stored JSON state: ``("response", "sealed_secret")``
is an idempotency record's stored answer to a keyed webhook-endpoint creation or
rotation, which carries the new secret sealed. tests/unit/test_secret_fields.py checks
that every event field whose name speaks of a secret, a seal, a hash, a token, a password
or a credential is listed here or named there as harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Path = tuple[str, ...]

SECRET_FIELDS: Mapping[str, tuple[Path, ...]] = {
    "tally:Project.KeyIssued": (("key_hash",),),
    # Issue 14: no project exports the operator's events; listed all the same.
    "tally:Operator.KeyIssued": (("key_hash",),),
    "tally:ProviderSettings.Configured": (("sealed",),),
    "tally:WebhookEndpoint.Registered": (("secret",),),
    "tally:WebhookEndpoint.SecretRotated": (("secret",),),
    "tally:IdempotencyRecord.Recorded": (("response", "sealed_secret"),),
    "tally:IdentityProvider.Configured": (("sealed_secret",),),
    "tally:CustomerSession.Started": (("token_hash",),),
}


def redact(topic: str, state: dict[str, Any]) -> list[str]:
    """Set ``state``'s secret fields (those of ``topic`` it holds with a value: an empty
    ``sealed`` hides nothing) to null, in place; their dotted names, in table order ([]:
    nothing was redacted, and the line stays verifiable)."""
    redacted: list[str] = []
    for path in SECRET_FIELDS.get(topic, ()):
        holder: Any = state
        for name in path[:-1]:
            holder = holder.get(name) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and holder.get(path[-1]):
            holder[path[-1]] = None
            redacted.append(".".join(path))
    return redacted

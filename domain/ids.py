"""Name-based ids (``uuid5``) without the standard library's detour.

``uuid.uuid5`` hashes, then builds the ``UUID`` through its general constructor, which
checks and converts its arguments in Python; a keyed deposit derives two such ids (its
transaction's and its idempotency record's). This builds the same value from the same
SHA-1 in a third of the time: the test suite compares the two. ``uuid_text`` below keeps
the text of ids named again and again.
"""

from __future__ import annotations

from hashlib import sha1
from uuid import UUID, SafeUUID

# RFC 4122: version 5 in the top four bits of time_hi, the variant in clock_seq's top two.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (5 << 76) | (0x8000 << 48)


def uuid5(namespace: UUID, name: str) -> UUID:
    """The same as ``uuid.uuid5(namespace, name)``."""
    digest = sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()
    value = object.__new__(UUID)
    object.__setattr__(value, "int", int.from_bytes(digest[:16]) & _CLEAR | _SET)
    object.__setattr__(value, "is_safe", SafeUUID.unknown)
    return value


# How many texts uuid_text keeps before it starts again (about 8 MB at most).
MAX_TEXTS = 65_536
_TEXTS: dict[int, str] = {}


def uuid_text(value: UUID) -> str:
    """``str(value)``, kept for the ids a process names again and again (an account in
    its wallet reference and its summary, a project in idempotency record ids):
    ``UUID.__str__`` formats in Python, several times the cost of a dictionary look-up.
    Keyed by ``value.int``, which hashes in C (``UUID.__hash__`` is Python). Bounded:
    once full, it is emptied and fills again with the ids in use."""
    key = value.int
    text = _TEXTS.get(key)
    if text is None:
        if len(_TEXTS) >= MAX_TEXTS:
            _TEXTS.clear()
        text = _TEXTS[key] = str(value)
    return text

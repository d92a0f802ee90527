"""Turn notifications into domain events, several times faster than the library mapper.

The library's transcoder decodes with a Python ``object_hook`` called for every JSON
object; measured on this box it was about two thirds of the projection worker's
Python time. ``FastDecoder`` parses the state with orjson (the standard library's C
parser if orjson is missing) and no hook, then
converts the typed values (``{"_type_": ..., "_data_": ...}``) it finds at the top
level with the application's own transcodings, and builds the event exactly as
``Mapper.to_domain_event`` does (``object.__new__`` plus the state as ``__dict__``).

It falls back to the library mapper for anything it is not sure of: a cipher or
compressor, an event class with upcasting (``class_version`` above 1), a document
orjson refuses, or a typed value nested below the top level (detected by counting
``"_type_"`` in the raw bytes). So the
events are the same objects either way; the test suite compares them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import partial
from hashlib import sha1
from typing import Any
from uuid import UUID, SafeUUID

from eventsourcing.application import Application
from eventsourcing.persistence import DatetimeAsISO, Notification, StoredEvent, UUIDAsHex
from eventsourcing.utils import resolve_topic

_parse: Callable[[bytes], Any]
try:
    # orjson parses these small documents about twice as fast as the standard library.
    from orjson import loads as _parse
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps it optional
    _decode = json.JSONDecoder().decode

    def _parse_with_json(raw: bytes) -> Any:
        return _decode(raw.decode())

    _parse = _parse_with_json


_UNKNOWN = SafeUUID.unknown
UUID_CACHE_SIZE = 100_000  # ids kept for reuse; the cache starts over when full
_TYPED = b'"_type_"'
# orjson reads an integer beyond 64 bits as a float, without a word (10**21 becomes
# 1e+21, -2**63 - 1 becomes -9.223372036854776e+18), and a float in an amount failed the
# journal projection ('float' object cannot be interpreted as an integer). Such an
# integer has 19 digits or more (below -2**63 it has 19), so a document with a run of
# 19 digits goes to the library, whose parser keeps every integer an int (a run inside
# a string, or a 19-digit integer orjson would have read right, only costs that
# document the slower path). The run is found by mapping each digit to "0" and every
# other byte to a space, then one substring search, both in C: about 0.5 us a document,
# where a regular expression took 2 to 3 us. (20 digits, until the hypothesis property
# over every event class found an integer just below -2**63 read as a float.)
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 19


def uuid_from_hex(data: str) -> UUID:
    """``UUID(data)`` for the 32-digit hex the library writes, without its string
    clean-up; the same object, built in a third of the time."""
    if len(data) != 32:
        return UUID(data)
    value = object.__new__(UUID)
    object.__setattr__(value, "int", int(data, 16))
    object.__setattr__(value, "is_safe", _UNKNOWN)
    return value


# ``uuid.UUID(bytes=..., version=5)`` clears the variant and version bits and sets them
# to RFC 4122's variant and version 5.
_V5_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V5_SET = (5 << 76) | (0x8000 << 48)


def uuid5_of(namespace: bytes, name: str) -> UUID:
    """``uuid.uuid5`` for a namespace given as its 16 bytes: the same UUID (the same
    SHA-1 and bit settings), built in half the time, because the projections compute one
    per journal entry."""
    digest = sha1(namespace + name.encode(), usedforsecurity=False).digest()
    value = object.__new__(UUID)
    object.__setattr__(value, "int", int.from_bytes(digest[:16], "big") & _V5_CLEAR | _V5_SET)
    object.__setattr__(value, "is_safe", _UNKNOWN)
    return value


def _cached_uuid(cache: dict[str, UUID], data: str) -> UUID:
    value = cache.get(data)
    if value is None:
        if len(cache) >= UUID_CACHE_SIZE:
            cache.clear()
        value = cache[data] = uuid_from_hex(data)
    return value


class FastDecoder:
    def __init__(self, store: Application[Any]) -> None:
        mapper: Any = store.mapper
        self._fallback: Callable[[StoredEvent], Any] = mapper.to_domain_event
        transcoder = mapper.transcoder
        self._enabled = (
            mapper.cipher is None and mapper.compressor is None and hasattr(transcoder, "names")
        )
        self._decoders: dict[str, Callable[[Any], Any]] = (
            {name: t.decode for name, t in transcoder.names.items()} if self._enabled else {}
        )
        # The same ids come back again and again (an event's project, the transaction
        # that both legs of a transfer name): one UUID object each, not one per mention.
        self._uuids: dict[str, UUID] = {}
        if self._enabled and type(transcoder.names.get(UUIDAsHex.name)) is UUIDAsHex:
            # A function of the cache, not a method: a bound method kept in the
            # decoder's own dict made a reference cycle, so a decoder that was done with
            # (replay's) was freed only by the collector, whose pass over its 30,000
            # cached ids took 0.08 to 0.18 s at the end of a 100k-event rebuild.
            self._decoders[UUIDAsHex.name] = partial(_cached_uuid, self._uuids)
        if self._enabled and type(transcoder.names.get(DatetimeAsISO.name)) is DatetimeAsISO:
            # What ``DatetimeAsISO.decode`` returns, without its Python wrapper.
            self._decoders[DatetimeAsISO.name] = datetime.fromisoformat
        self._classes: dict[str, type | None] = {}
        # Per topic, the top-level keys its documents held typed values under.
        self._typed_keys: dict[str, tuple[str, ...]] = {}

    def _class(self, topic: str) -> type | None:
        """The event class for a topic, or None when it needs the library (upcasting)."""
        try:
            return self._classes[topic]
        except KeyError:
            cls: type = resolve_topic(topic)
            usable = getattr(cls, "class_version", 1) == 1
            self._classes[topic] = cls if usable else None
            return self._classes[topic]

    def __call__(self, n: Notification) -> Any:
        event = self.fast(n.originator_id, n.originator_version, n.topic, n.state)
        return self._fallback(n) if event is None else event

    def row(self, originator_id: Any, version: int, topic: str, state: bytes) -> Any:
        """The event of one stored row, without a ``Notification`` made for it first (the
        library's mapper gets a ``StoredEvent`` when the fast way declines)."""
        event = self.fast(originator_id, version, topic, state)
        if event is None:
            return self._fallback(StoredEvent(originator_id, version, topic, state))
        return event

    def fast(self, originator_id: Any, version: int, topic: str, raw: bytes) -> Any:
        """The event, built as the mapper builds it, or None where the mapper must."""
        cls = self._classes.get(topic) or self._class(topic) if self._enabled else None
        if cls is None or type(originator_id) is not UUID:
            return None
        if _LONG_RUN in raw.translate(_DIGITS_ONLY):
            return None
        try:
            state: dict[str, Any] = _parse(raw)
        except ValueError:  # e.g. NaN: the library copes
            return None
        typed = raw.count(_TYPED)
        if typed and not self._typed_values(topic, state, typed):
            return None
        if "class_version" in state:
            return None
        state["originator_id"] = originator_id
        state["originator_version"] = version
        event: Any = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _typed_values(self, topic: str, state: dict[str, Any], typed: int) -> bool:
        """Convert the top-level typed values (``{"_type_": ..., "_data_": ...}``) in
        place; False when the mapper must decode the document (an unknown type, or
        ``"_type_"`` found elsewhere in it: nested, where only the mapper looks).

        The keys that held typed values in a topic's earlier documents are looked at
        first (an event's timestamp, its project); only when they do not account for
        every ``"_type_"`` in the document are its other keys looked at too, and the
        ones found there are remembered. Each converted value holds one ``"_type_"``
        key, so when the remembered keys account for them all there is no other."""
        keys = self._typed_keys.get(topic, ())
        found = 0
        for key in keys:
            value = state.get(key)
            if type(value) is dict and len(value) == 2 and "_type_" in value:
                if not self._convert(state, key, value):
                    return False
                found += 1
        if found == typed:
            return True
        learned = []
        for key, value in state.items():
            if type(value) is dict and len(value) == 2 and "_type_" in value:
                if not self._convert(state, key, value):
                    return False
                found += 1
                learned.append(key)
        if found != typed:
            return False
        self._typed_keys[topic] = (*keys, *learned)
        return True

    def _convert(self, state: dict[str, Any], key: str, value: dict[str, Any]) -> bool:
        kind = value["_type_"]
        decode = self._decoders.get(kind) if type(kind) is str else None
        if decode is None or "_data_" not in value:
            return False
        state[key] = decode(value["_data_"])
        return True

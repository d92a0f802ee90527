"""Turn notifications into domain events, several times faster than the library mapper.

The library's transcoder decodes with a Python ``object_hook`` called for every JSON
object; measured on this box it was about two thirds of the projection worker's
Python time. ``FastDecoder`` parses the state with orjson (the standard library's C
parser if orjson is missing) and no hook, then converts the typed values
(``{"_type_": ..., "_data_": ...}``) it finds at the top level with the application's
own transcodings, runs an older version's upcasts, and builds the event exactly as
``Mapper.to_domain_event`` does (``object.__new__`` plus the state as ``__dict__``).

Per topic it keeps a plan (``_Plan``): the event class and the keys that held typed
values in the topic's earlier documents, which are looked at first. ``rows`` decodes
a batch's fetched rows in one loop (no Python call per row for the row itself).

It falls back to the library mapper for anything it is not sure of: a cipher or
compressor, a document orjson reads differently or refuses, a typed value nested below
the top level (detected by counting ``"_type_"`` in the raw bytes), anything that fails
(the mapper then raises its own error). So the events are the same objects either way;
``tests/unit/test_decoding_every_event.py`` holds that for every event class a read
model consumes, older versions included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha1
from typing import Any
from uuid import UUID, SafeUUID

from eventsourcing.application import Application
from eventsourcing.persistence import DatetimeAsISO, Notification, StoredEvent, UUIDAsHex
from eventsourcing.utils import resolve_topic

from projections.base import Tracked
from projections.reading import SKIPPED_TOPIC_PREFIX, Row

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
# A UUID's two slots, set through their descriptors: what ``object.__setattr__(value,
# "int", ...)`` ends in (UUID's own ``__setattr__`` refuses), without finding the slot by
# its name first. A third less time per id built.
_SET_INT = vars(UUID)["int"].__set__
_SET_SAFE = vars(UUID)["is_safe"].__set__
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
    _SET_INT(value, int(data, 16))
    _SET_SAFE(value, _UNKNOWN)
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
    _SET_INT(value, int.from_bytes(digest[:16], "big") & _V5_CLEAR | _V5_SET)
    _SET_SAFE(value, _UNKNOWN)
    return value


def new_uuid(data: str) -> UUID:
    """``UUIDAsHex.decode``: ``uuid_from_hex``, except for text with a minus sign, which
    ``int(data, 16)`` would read as a negative number where ``UUID()`` raises. Every
    other character ``UUID()`` takes out before its own ``int()`` (braces, ``urn:``)
    makes that ``int()`` raise too; ``str.isalnum`` said the same at 1,400 instructions
    an id."""
    return uuid_from_hex(data) if "-" not in data else UUID(data)


@dataclass(slots=True)
class _Plan:
    """How a topic's documents decode: its event class and version (older documents'
    upcasts run as the mapper runs them), and the (key, type name, decode) of each
    top-level typed value its earlier documents held, looked at first; ``decode`` None
    is an id, looked up in the decoder's id cache."""

    cls: type
    class_version: int
    typed: tuple[tuple[str, str, Callable[[Any], Any] | None], ...] = ()


class FastDecoder:
    def __init__(self, store: Application[Any]) -> None:
        mapper: Any = store.mapper
        self._fallback: Callable[[StoredEvent], Any] = mapper.to_domain_event
        transcoder = mapper.transcoder
        self._enabled = (
            mapper.cipher is None and mapper.compressor is None and hasattr(transcoder, "names")
        )
        self._decoders: dict[str, Callable[[Any], Any] | None] = (
            {name: t.decode for name, t in transcoder.names.items()} if self._enabled else {}
        )
        if self._enabled and type(transcoder.names.get(UUIDAsHex.name)) is UUIDAsHex:
            self._decoders[UUIDAsHex.name] = None  # the id cache, below
        if self._enabled and type(transcoder.names.get(DatetimeAsISO.name)) is DatetimeAsISO:
            # What ``DatetimeAsISO.decode`` returns, without its Python wrapper.
            self._decoders[DatetimeAsISO.name] = datetime.fromisoformat
        # The same ids come back again and again (an event's project, the transaction
        # that both legs of a transfer name): one UUID object each, not one per mention.
        # Nothing here refers back to the decoder: one that is done with (replay's) is
        # freed at once with its cached ids, not by the collector's next pass (a bound
        # method in this dict once made that a cycle, and the pass over a 100k-event
        # rebuild's 30,000 ids took 0.08 to 0.18 s).
        self._uuids: dict[str, UUID] = {}
        self._plans: dict[str, _Plan] = {}

    def _plan(self, topic: str) -> _Plan:
        plan = self._plans.get(topic)
        if plan is None:
            cls: type = resolve_topic(topic)
            plan = self._plans[topic] = _Plan(cls, getattr(cls, "class_version", 1))
        return plan

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

    def rows(self, rows: Iterable[Row]) -> list[Tracked]:
        """``(event, notification id)`` for each row of a batch that is not skipped
        (``SKIPPED_TOPIC_PREFIX``): ``row`` without a Python call per row."""
        plans, state_of, new, enabled = self._plans, self._state, object.__new__, self._enabled
        decoded: list[Tracked] = []
        for position, originator_id, version, topic, raw in rows:
            if topic.startswith(SKIPPED_TOPIC_PREFIX):
                continue
            plan = plans.get(topic) or self._plan(topic)
            state = None
            if enabled and type(originator_id) is UUID:
                state = state_of(plan, originator_id, version, raw or b"")
            if state is None:
                event = self._fallback(StoredEvent(originator_id, version, topic, raw or b""))
            else:
                event = new(plan.cls)
                object.__setattr__(event, "__dict__", state)
            decoded.append((event, position))
        return decoded

    def fast(self, originator_id: Any, version: int, topic: str, raw: bytes) -> Any:
        """The event, built as the mapper builds it, or None where the mapper must."""
        if not self._enabled or type(originator_id) is not UUID:
            return None
        plan = self._plans.get(topic) or self._plan(topic)
        state = self._state(plan, originator_id, version, raw)
        if state is None:
            return None
        event: Any = object.__new__(plan.cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _state(
        self, plan: _Plan, originator_id: UUID, version: int, raw: bytes
    ) -> dict[str, Any] | None:
        """An event's ``__dict__`` as the mapper makes it, or None where the mapper must
        decode the document: what orjson reads differently from the library's parser (a
        number beyond 64 bits, a NaN), a typed value the top level does not account for,
        anything that fails (the mapper then raises its own error)."""
        if _LONG_RUN in raw.translate(_DIGITS_ONLY):
            return None
        try:
            state: dict[str, Any] = _parse(raw)
            typed = raw.count(_TYPED)
            if typed and not self._typed_values(plan, state, typed):
                return None
            state["originator_id"] = originator_id
            state["originator_version"] = version
            if plan.class_version != 1 or "class_version" in state:
                _upcast(plan, state)
        except Exception:  # the mapper decodes it again, and raises its own error
            return None
        return state

    def _typed_values(self, plan: _Plan, state: dict[str, Any], typed: int) -> bool:
        """Convert the top-level typed values (``{"_type_": ..., "_data_": ...}``) in
        place; False when the mapper must decode the document (an unknown type, or
        ``"_type_"`` found elsewhere in it: nested, where only the mapper looks).

        The keys that held typed values in a topic's earlier documents are looked at
        first (an event's timestamp, its project); only when they do not account for
        every ``"_type_"`` in the document are its other keys looked at too, and the
        ones found there are remembered. Each converted value holds one ``"_type_"``
        key, so when the remembered keys account for them all there is no other."""
        uuids = self._uuids
        found = 0
        for key, kind, decode in plan.typed:
            value = state.get(key)
            if type(value) is dict and len(value) == 2 and value.get("_type_") == kind:
                data = value["_data_"]
                if decode is not None:
                    state[key] = decode(data)
                elif (cached := uuids.get(data)) is not None:
                    state[key] = cached
                else:
                    state[key] = self._new_uuid(data)
                found += 1
        return found == typed or self._learn(plan, state, typed - found)

    def _learn(self, plan: _Plan, state: dict[str, Any], left: int) -> bool:
        """``_typed_values`` for the keys the plan does not name yet: converted, counted
        and added to the plan."""
        learned = []
        for key, value in state.items():
            if type(value) is dict and len(value) == 2 and "_type_" in value:
                kind = value["_type_"]
                if type(kind) is not str or kind not in self._decoders:
                    return False
                decode = self._decoders[kind]
                state[key] = (
                    self._new_uuid(value["_data_"]) if decode is None else decode(value["_data_"])
                )
                learned.append((key, kind, decode))
        if len(learned) != left:
            return False
        plan.typed = (*plan.typed, *learned)
        return True

    def _new_uuid(self, data: str) -> UUID:
        if len(self._uuids) >= UUID_CACHE_SIZE:
            self._uuids.clear()
        value = self._uuids[data] = new_uuid(data)
        return value


def _upcast(plan: _Plan, state: dict[str, Any]) -> None:
    """What ``Mapper.to_domain_event`` does with an older version's state."""
    from_version = state.pop("class_version", 1)
    while from_version < plan.class_version:
        getattr(plan.cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1

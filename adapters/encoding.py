"""Event state encoded with orjson, byte for byte what the library's transcoder writes.

The library's ``JSONTranscoder`` encodes with the standard library's encoder and a
Python ``default`` hook for every UUID and datetime; measured on this box it was about
a fifth of the command bus's Python time per deposit. ``FastJSONTranscoder`` first turns
the state into plain JSON values itself (each value of a registered type becomes the
same ``{"_type_": name, "_data_": ...}`` object the hook makes, in the same place), then
lets orjson write it. A dictionary's values are looked at by type in C; where some need
converting, a plan kept per shape (the tuple of its values' types: one per event class,
in practice) says which, so the fields of an event are not walked one by one in Python.
Given the same plain values, orjson writes the same bytes as
``json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)``: keys in insertion
order, the same string escapes, no spaces.

Where the two could differ, it does not guess and hands the whole state to the library:
a float (the two format some floats differently, and orjson writes NaN as null), a
dictionary key that is not a ``str``, a subclass of a built-in type (an enum, say), a
type without a transcoding, or anything orjson refuses (an integer beyond 64 bits, a
lone surrogate). Decoding is the library's, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoding, UUIDAsHex

# Values JSON writes as they are: exactly these types, never subclasses of them.
_LEAVES = frozenset({str, int, bool, type(None)})
_STR = frozenset({str})


# How many dictionary shapes the transcoder keeps a plan for (see ``_plan``).
MAX_PLANS = 4096

_Plan = tuple[tuple[int, Callable[[Any], Any]], ...]


class _Unsure(Exception):
    """The fast path cannot promise the library's bytes for this value."""


class FastJSONTranscoder(JSONTranscoder):
    def __init__(self) -> None:
        super().__init__()
        # Types whose registered transcoding is one of the library's own, known to give a
        # string: converted in one step, without going through ``_plain`` again.
        self._direct: dict[type, Callable[[Any], dict[str, str]]] = {}
        # Per shape of a dictionary (its values' types in order), what converts where.
        self._plans: dict[tuple[type, ...], _Plan] = {}

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._direct.pop(transcoding.type, None)
        self._plans.clear()  # they may hold the converter this replaces
        name = transcoding.name
        if type(transcoding) is UUIDAsHex:
            # What UUID.hex gives, without the property's call.
            self._direct[UUID] = lambda value: {"_type_": name, "_data_": f"{value.int:032x}"}
        elif type(transcoding) is DatetimeAsISO:
            self._direct[datetime] = lambda value: {
                "_type_": name,
                # orjson writes a UTC datetime as isoformat() does (the same text, byte
                # for byte), in C: isoformat() formats through a slow general path. Every
                # event has a UTC timestamp. Any other zone keeps isoformat().
                "_data_": value if value.tzinfo is UTC else value.isoformat(),
            }

    def encode(self, obj: Any) -> bytes:
        try:
            plain = self._plain_dict(obj) if type(obj) is dict else self._plain(obj)
            return orjson.dumps(plain)
        except (_Unsure, orjson.JSONEncodeError, RecursionError):
            return super().encode(obj)

    def _plain(self, value: Any) -> Any:
        kind = type(value)
        if kind in _LEAVES:
            return value
        if kind is dict:
            return self._plain_dict(value)
        if kind is list or kind is tuple:
            return self._plain_sequence(value)
        convert = self._direct.get(kind)
        if convert is not None:
            return convert(value)
        transcoding = self.types.get(kind)
        if transcoding is None:
            raise _Unsure
        return {"_type_": transcoding.name, "_data_": self._plain(transcoding.encode(value))}

    def _plain_dict(self, value: dict[Any, Any]) -> dict[str, Any]:
        # The keys and the values' types are checked in C (map, issuperset and tuple run
        # no bytecode per item): nested containers of plain values, such as a response
        # body, are most of them.
        if not _STR.issuperset(map(type, value)):
            raise _Unsure
        kinds = tuple(map(type, value.values()))
        if _LEAVES.issuperset(kinds):
            return value
        # Dictionaries of one shape (the state of one event class, a summary in a
        # response) take the same plan: only the places that need converting are
        # visited in Python, and the copy is made in C with the keys in their order.
        plan = self._plans.get(kinds)
        if plan is None:
            plan = self._plan(kinds)
        items = list(value.values())
        for place, convert in plan:
            items[place] = convert(items[place])
        return dict(zip(value, items, strict=True))  # the caller's dict stays as it was

    def _plain_sequence(self, value: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
        if _LEAVES.issuperset(map(type, value)):
            return value
        return [v if type(v) in _LEAVES else self._plain(v) for v in value]

    def _plan(self, kinds: tuple[type, ...]) -> _Plan:
        """Where a dictionary whose values have these types needs converting, and how."""
        plan = tuple(
            (place, self._converter(kind))
            for place, kind in enumerate(kinds)
            if kind not in _LEAVES
        )
        if len(self._plans) < MAX_PLANS:  # shapes are few; arbitrary data must not grow this
            self._plans[kinds] = plan
        return plan

    def _converter(self, kind: type) -> Callable[[Any], Any]:
        if kind is dict:
            return self._plain_dict
        if kind is list or kind is tuple:
            return self._plain_sequence
        return self._direct.get(kind) or self._plain

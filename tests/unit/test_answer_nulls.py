"""The one rule for nulls in a write's answer (``api.routes.common.answer``): left out,
unless the model declares the field ``ShownNull`` (or ``AsRecorded``) and the command
answered it."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from api.routes.common import answer
from api.schemas.nulls import AsRecorded, ShownNull


class Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: str | None = None
    note: str | None = None


class Thing(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    ended_at: ShownNull[str] = None
    updated_at: str | None = None
    count: int = 0
    parts: AsRecorded[list[Part]] = []
    inner: Part | None = None


class Plain(BaseModel):
    name: str
    updated_at: str | None = None
    inner: Part | None = None


def _answered(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    answered: dict[str, Any] = orjson.loads(answer(model.model_validate(body)))
    return answered


def test_a_shown_null_the_command_answered_is_answered_and_other_nulls_are_left_out() -> None:
    got = _answered(Thing, {"name": "a", "ended_at": None, "updated_at": None, "x": None})
    assert got == {"name": "a", "ended_at": None, "count": 0, "parts": []}


def test_a_shown_null_the_command_did_not_answer_is_left_out() -> None:
    assert _answered(Thing, {"name": "a"}) == {"name": "a", "count": 0, "parts": []}


def test_a_part_as_recorded_keeps_its_answered_nulls_and_leaves_out_the_rest() -> None:
    got = _answered(Thing, {"name": "a", "parts": [{"at": None, "ref": None}, {"note": "n"}]})
    assert got["parts"] == [{"at": None, "ref": None}, {"note": "n"}]


def test_a_nested_model_follows_its_own_marks() -> None:
    got = _answered(Thing, {"name": "a", "inner": {"at": None, "note": "n", "ref": None}})
    assert got["inner"] == {"note": "n"}


def test_a_model_without_marks_answers_as_exclude_none() -> None:
    body = {"name": "a", "updated_at": None, "inner": {"at": None, "note": "n"}}
    expected = Plain.model_validate(body).model_dump_json(exclude_none=True).encode()
    assert answer(Plain.model_validate(body)) == expected
    assert orjson.loads(expected) == {"name": "a", "inner": {"note": "n"}}

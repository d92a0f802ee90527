"""FastAPI's per-parameter sequence question, answered from a memo (api/param_analysis.py),
answers what FastAPI's own function answers, for every parameter of the app's routes and
for annotations it cannot keep."""

from __future__ import annotations

from typing import Annotated, Any

import fastapi.dependencies.utils as dependency_utils
from fastapi import FastAPI, Header, Query
from fastapi._compat import field_annotation_is_sequence
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient

from api.app import create_app
from api.param_analysis import Memo
from api.settings import Settings

APP = create_app(settings=Settings())


def every_parameter_annotation() -> list[Any]:
    annotations = []
    for top in APP.router.routes:
        if not isinstance(top, _IncludedRouter):
            continue
        for context in top.effective_route_contexts():
            for field in get_flat_params(context.dependant):
                annotations.append(field.field_info.annotation)
    return annotations


def test_the_app_solves_its_dependencies_through_the_memo() -> None:
    assert isinstance(dependency_utils.field_annotation_is_sequence, Memo)


def test_the_memo_answers_what_fastapi_answers_for_every_parameter_of_the_app() -> None:
    memo = Memo(field_annotation_is_sequence)
    annotations = every_parameter_annotation()
    assert len(annotations) > 300
    for annotation in annotations * 2:  # the second time from the memo
        assert memo(annotation) is field_annotation_is_sequence(annotation), annotation


def test_an_annotation_that_cannot_be_kept_is_asked_each_time() -> None:
    asked = []

    def analysis(annotation: object) -> bool:
        asked.append(annotation)
        return field_annotation_is_sequence(annotation)

    memo = Memo(analysis)
    unhashable = Annotated[list[str], {"not": "hashable"}]
    assert memo(unhashable) is True
    assert memo(unhashable) is True
    assert memo(list[int]) is True
    assert memo(list[int]) is True
    assert memo(str | None) is False
    assert len(asked) == 4  # the unhashable one twice, each of the others once
    assert list(memo.answers) == [list[int], str | None]


def test_a_list_parameter_still_reads_every_value_of_a_repeated_key() -> None:
    app = FastAPI()

    @app.get("/echo")
    def echo(
        q: Annotated[list[str], Query()],
        x_tag: Annotated[list[str] | None, Header()] = None,
        one: str | None = None,
    ) -> dict[str, Any]:
        return {"q": q, "tags": x_tag, "one": one}

    with TestClient(app) as http:
        got = http.get("/echo?q=a&q=b&one=1&one=2", headers=[("x-tag", "s"), ("x-tag", "t")]).json()
    assert isinstance(dependency_utils.field_annotation_is_sequence, Memo)
    assert got == {"q": ["a", "b"], "tags": ["s", "t"], "one": "2"}

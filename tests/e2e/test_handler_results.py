"""Handlers say what happened in the domain's words (issue 17); only the API turns that
into an HTTP status, in one table."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_type_hints

from api.bootstrap import Tally
from api.routes.common import STATUS_BY_HAPPENED
from commands.bus import Happened, Result

COMMANDS = Path(__file__).resolve().parents[2] / "commands"


def test_every_handler_of_the_bus_answers_a_domain_result(app_tally: Tally) -> None:
    handlers = app_tally.bus.handlers
    assert len(handlers) > 70  # the whole table as the composition root wires it
    for command, handler in handlers.items():
        answers = get_type_hints(handler).get("return")
        assert answers is Result, f"{command.__name__}: {handler.__qualname__} -> {answers}"


def _status_returns(source: str) -> list[int]:
    """Lines of ``source`` that return a tuple starting with an int (``return 201, ...``)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Return)
        and isinstance(node.value, ast.Tuple)
        and node.value.elts
        and isinstance(first := node.value.elts[0], ast.Constant)
        and type(first.value) is int
    ]


def test_the_check_finds_a_returned_status() -> None:
    assert _status_returns("def f():\n    return 201, {'a': 1}\n") == [2]
    assert _status_returns("def f():\n    return Result.created({'a': 1})\n") == []


def test_no_module_of_commands_returns_an_http_status() -> None:
    found = {
        str(path.relative_to(COMMANDS)): lines
        for path in sorted(COMMANDS.rglob("*.py"))
        if (lines := _status_returns(path.read_text(encoding="utf-8")))
    }
    assert found == {}
    mentions = [p.name for p in COMMANDS.rglob("*.py") if "status_code" in p.read_text()]
    assert mentions == []


def test_the_api_has_a_status_for_everything_that_can_happen() -> None:
    assert set(STATUS_BY_HAPPENED) == set(Happened)
    # A create answers 201 and a request the provider has yet to act on 202; the rest,
    # what existed, changed or needed nothing, 200 (as the documented responses say).
    assert STATUS_BY_HAPPENED[Happened.CREATED] == 201
    assert STATUS_BY_HAPPENED[Happened.ACCEPTED] == 202
    others = set(Happened) - {Happened.CREATED, Happened.ACCEPTED}
    assert {STATUS_BY_HAPPENED[h] for h in others} == {200}

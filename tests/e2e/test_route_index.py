"""The route index (api/route_index.py) chooses the route FastAPI's own scan chooses.

For every route of the app, and for paths generated around them (valid ones, near
misses, other methods, trailing and doubled slashes, percent-encoded characters, a root
path), the index's choice is compared with what FastAPI's router does: its routes tried
in order with their own ``matches``, then the chosen included router's ``_match``. Where
FastAPI's first full match is a route of an included router, the index must answer that
router, that route and the same child scope (endpoint, path parameters, route); anywhere
else (a top-level route, a 405, a 404) it must leave the request to FastAPI's dispatch.
No database is needed: the app is built and never started.
"""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import quote, unquote
from uuid import UUID

from fastapi import APIRouter, FastAPI
from fastapi.routing import (
    _FASTAPI_INCLUDED_ROUTER_KEY,
    _get_fastapi_scope,
    _IncludedRouter,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Match

from api.app import create_app
from api.route_index import RouteIndex, index_of, install
from api.settings import Settings

APP: FastAPI = create_app(settings=Settings())
INDEX: RouteIndex = index_of(APP)
TEMPLATES = sorted(
    {
        context.path_format
        for top in APP.router.routes
        if isinstance(top, _IncludedRouter)
        for context in top.effective_route_contexts()
    }
    | {"/openapi.json", "/docs", "/redoc", "/asyncapi.json", "/docs/assets/{path}"}
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def http_scope(method: str, raw: str, root_path: str = "") -> dict[str, Any]:
    """A scope as uvicorn makes it: ``path`` is the percent-decoded ``raw_path``."""
    return {
        "type": "http",
        "method": method,
        "path": root_path + unquote(raw),
        "raw_path": (root_path + raw).encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [],
    }


def fastapi_choice(scope: dict[str, Any], app: FastAPI = APP) -> tuple[Any, ...] | None:
    """What FastAPI's router chooses: (included router, route context, child scope) for
    a route of an included router matched in full first; ("top", route) for a top-level
    route matched first; None for no full match (FastAPI's 405, 404 or redirect)."""
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match != Match.FULL:
            continue
        if not isinstance(route, _IncludedRouter):
            return ("top", route)
        # As _IncludedRouter.handle and _handle_selected do.
        _get_fastapi_scope(scope)[_FASTAPI_INCLUDED_ROUTER_KEY] = route
        selected, child, _, context = route._match(scope)
        assert selected == Match.FULL
        return (route, context, child)
    return None


def assert_same_choice(
    method: str, raw: str, root_path: str = "", app: FastAPI = APP
) -> tuple[Any, ...] | None:
    expected = fastapi_choice(http_scope(method, raw, root_path), app)
    found = index_of(app).find(http_scope(method, raw, root_path))
    if expected is None or expected[0] == "top":
        assert found is None, (method, raw, found)
        return expected
    assert found is not None, (method, raw, expected)
    top, context, child = found
    assert (top, context) == expected[:2], (method, raw)
    assert child == expected[2], (method, raw)
    assert child["endpoint"] is expected[2]["endpoint"]
    assert child["route"] is expected[2]["route"]
    return expected


def test_every_route_of_the_app_is_found_as_fastapi_finds_it() -> None:
    chosen = set()
    for template in TEMPLATES:
        raw = fill(template.replace("{path}", "a/b.js"), ["x1"])
        for method in METHODS:
            expected = assert_same_choice(method, raw)
            if expected is not None and expected[0] != "top":
                chosen.add(id(expected[1].original_route))
    api_routes = {
        id(context.original_route)
        for top in APP.router.routes
        if isinstance(top, _IncludedRouter)
        for context in top.effective_route_contexts()
    }
    # Every route of an included router was reached through the index at least once.
    assert chosen == api_routes
    assert len(api_routes) > 150


def segment_values() -> st.SearchStrategy[str]:
    """A path segment's raw (percent-encoded) text."""
    plain = st.text(alphabet=string.ascii_letters + string.digits + "-_.:~", max_size=12)
    encoded = st.text(max_size=6).map(lambda text: quote(text, safe=""))
    return st.one_of(
        st.uuids().map(str),
        st.uuids().map(lambda u: str(u).upper()),
        plain,
        encoded,
        st.sampled_from(["", "%2F", "a%2Fb", "%20", "..", "%25", "%00"]),
    )


def fill(template: str, values: list[str]) -> str:
    """``template`` with each ``{name}`` replaced by the next value."""
    parts = template.split("{")
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        out.append(values[i % len(values)] + part.split("}", 1)[1])
    return "".join(out)


@st.composite
def near_paths(draw: st.DrawFn) -> str:
    """A path made from a route's template: filled in, then perhaps changed a little."""
    template = draw(st.sampled_from(TEMPLATES))
    raw = fill(template, draw(st.lists(segment_values(), min_size=1, max_size=3)))
    change = draw(
        st.sampled_from(["none", "trailing", "double", "extra", "drop", "literal", "case"])
    )
    segments = raw.split("/")
    if change == "trailing":
        raw = raw.rstrip("/") if raw.endswith("/") else raw + "/"
    elif change == "double":
        at = draw(st.integers(1, len(segments) - 1))
        raw = "/".join([*segments[:at], "", *segments[at:]])
    elif change == "extra":
        raw = raw + "/" + draw(segment_values())
    elif change == "drop" and len(segments) > 2:
        raw = "/".join(segments[:-1])
    elif change == "literal":
        at = draw(st.integers(1, len(segments) - 1))
        segments[at] = segments[at][:-1] or "x"
        raw = "/".join(segments)
    elif change == "case":
        raw = raw.upper()
    return raw


@settings(max_examples=1000, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    raw=near_paths(),
    root_path=st.sampled_from(["", "", "", "/api"]),
)
def test_a_generated_request_finds_what_fastapi_finds(
    method: str, raw: str, root_path: str
) -> None:
    assert_same_choice(method, raw, root_path)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(METHODS), raw=st.text(max_size=40).map(lambda t: "/" + t))
def test_any_path_finds_what_fastapi_finds(method: str, raw: str) -> None:
    assert_same_choice(method, quote(raw, safe="/"))


def test_a_path_parameter_is_handed_on_decoded_and_as_written() -> None:
    account = UUID(int=7)
    raw = f"/v1/accounts/{str(account).upper()}/deposits"
    found = INDEX.find(http_scope("POST", raw))
    assert found is not None
    assert found[2]["path_params"] == {"account_id": str(account).upper()}
    assert found[2]["endpoint"].__name__ == "deposit"
    # Another method on the same path is FastAPI's 405, not a route of the index.
    assert INDEX.find(http_scope("GET", raw)) is None


def overlapping_app() -> FastAPI:
    """An app whose routes overlap as Tally's do not (yet): a parameter before a literal
    and after one, the same path in two routers, ``int`` and ``path`` parameters, a
    top-level route between included ones."""
    app = FastAPI()
    first, second, third = APIRouter(prefix="/things"), APIRouter(prefix="/things"), APIRouter()

    def endpoint() -> None:  # never called: only the choice is compared
        return None

    first.add_api_route("/{thing_id}", endpoint, methods=["GET"])
    first.add_api_route("/special", endpoint, methods=["GET", "POST"])  # GET: shadowed
    first.add_api_route("/{thing_id}/parts", endpoint, methods=["DELETE"])
    second.add_api_route("/special/{x}", endpoint, methods=["GET"])
    second.add_api_route("/{thing_id}/parts", endpoint, methods=["GET"])
    second.add_api_route("/{n:int}/parts/{m:int}", endpoint, methods=["GET"])
    third.add_api_route("/files/{rest:path}", endpoint, methods=["GET"])
    third.add_api_route("/files/readme", endpoint, methods=["GET", "PUT"])
    app.include_router(first)
    app.add_api_route("/things/top/{x}", endpoint, methods=["PUT"])
    app.include_router(second)
    app.include_router(third)
    install(app)
    return app


OVERLAPPING = overlapping_app()
OVERLAPPING_TEMPLATES = [
    "/things/{a}",
    "/things/special",
    "/things/{a}/parts",
    "/things/special/{a}",
    "/things/{a}/parts/{b}",
    "/things/top/{a}",
    "/files/{a}",
    "/files/readme",
    "/files/{a}/{b}",
]


@settings(max_examples=800, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    template=st.sampled_from(OVERLAPPING_TEMPLATES),
    values=st.lists(
        st.one_of(segment_values(), st.sampled_from(["special", "parts", "top", "readme", "7"])),
        min_size=1,
        max_size=3,
    ),
    trailing=st.booleans(),
)
def test_overlapping_routes_are_chosen_in_fastapis_order(
    method: str, template: str, values: list[str], trailing: bool
) -> None:
    raw = fill(template, values) + ("/" if trailing else "")
    assert_same_choice(method, raw, app=OVERLAPPING)


def test_the_first_route_in_fastapis_order_wins_over_a_literal_one() -> None:
    found = index_of(OVERLAPPING).find(http_scope("GET", "/things/special"))
    assert found is not None
    assert found[2]["path_params"] == {"thing_id": "special"}
    parts = index_of(OVERLAPPING).find(http_scope("GET", "/things/3/parts/4"))
    assert parts is not None
    assert parts[2]["path_params"] == {"n": 3, "m": 4}
    # A later router's route for a method the first router's route refuses.
    later = index_of(OVERLAPPING).find(http_scope("GET", "/things/3/parts"))
    assert later is not None
    assert later[1].methods == {"GET"}

"""Finding a request's route through a table built once, not FastAPI's scan of every route.

FastAPI (0.16x) tries the app's routes in order: the five top-level ones (the OpenAPI
document, the docs), then each included router, whose ``_match`` tries its routes in
turn, every try a regular expression and a save and restore of a scope key; the chosen
router then runs its ``_match`` again to handle the request. A deposit, the fifth route
of the first router, cost about 2,400 bytecodes of routing; a route of the last router
is tried after all 191 others.

``RouteIndex`` takes the place of the app router's dispatch (``Router.middleware_stack``,
which is the router's own ``app`` otherwise) and keeps FastAPI's rule: the first route,
in FastAPI's order, that matches the path and the method. A tree of the routes' path
segments (a literal segment, or any one segment where the template has a parameter)
gives the few routes whose expression can match the path; those are tried in order with
each route's own expression and convertors, as FastAPI tries them. When the first match
is a route of an included router, it is handled the way FastAPI's ``_handle_selected``
handles it (the same scope keys, in the same order). Everything else goes to FastAPI's
own dispatch unchanged: a top-level route matched first (the docs, the OpenAPI
document), a path no route matches in full (404, 405, the trailing-slash redirect), and
anything but HTTP.

The table is made at the first request, when every route is in place, and made again
if the number of the app's top-level routes changes (Tally adds none after startup).
tests/e2e/test_route_index.py compares its choice with FastAPI's for every route of the
app and generated paths around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _EffectiveRouteContext,
    _get_fastapi_scope,
    _IncludedRouter,
    _update_scope,
)
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.convertors import (
    FloatConvertor,
    IntegerConvertor,
    StringConvertor,
    UUIDConvertor,
)
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

# Convertors whose expression never matches a "/": a parameter of theirs lies within one
# segment of the path. A route with any other (``path``) is tried for every path that
# begins with its literal segments.
ONE_SEGMENT = (StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor)


@dataclass(frozen=True)
class Entry:
    """One route in FastAPI's order: ``context`` is set for a route of an included router
    (handled here), None for a top-level route (left to FastAPI)."""

    order: int
    top: BaseRoute
    context: _EffectiveRouteContext | None


@dataclass
class Node:
    """The routes whose path has these segments so far."""

    literal: dict[str, Node] = field(default_factory=dict)
    wild: Node | None = None
    ends: list[Entry] = field(default_factory=list)  # routes with no more segments
    below: list[Entry] = field(default_factory=list)  # routes taking any rest (``path``)


Found = tuple[_IncludedRouter, _EffectiveRouteContext, Scope]


class RouteIndex:
    """The app router's dispatch, through the table (see the module's docstring)."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.fallback = router.app
        self.root = Node()
        self.routes_seen = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.find(scope) if scope["type"] == "http" else None
        if found is None:
            await self.fallback(scope, receive, send)
            return
        top, context, child_scope = found
        # What FastAPI does once it has chosen the route (APIRouter.app, then
        # _IncludedRouter.handle and _handle_selected), in the same order.
        _apply_router_form_limits(scope, self.router.form_limits)
        if "router" not in scope:
            scope["router"] = self.router
        fastapi_scope = _get_fastapi_scope(scope)
        _apply_router_form_limits(scope, top.include_context.form_limits)
        fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = top
        _update_scope(scope, child_scope)
        _route_selected(scope=scope, path=context.path_format, mount=False)
        fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
        route = context.original_route
        scope["route"] = route
        await route.handle(scope, receive, send)

    def find(self, scope: Scope) -> Found | None:
        """The included router, route and child scope FastAPI would choose for this HTTP
        request when its first full match is a route of an included router; None when
        FastAPI must decide (see the module's docstring)."""
        if len(self.router.routes) != self.routes_seen:
            self.build()
        path = get_route_path(scope)
        method = scope["method"]
        for entry in self.candidates(path):
            context = entry.context
            if context is None:
                if entry.top.matches(scope)[0] == Match.FULL:
                    return None  # a top-level route: FastAPI's own dispatch
                continue
            matched = context.path_regex.match(path)
            if matched is None:
                continue
            methods = context.methods
            if methods and method not in methods:
                continue  # a partial match: a later full one wins, else FastAPI's 405
            # As _EffectiveRouteContext.matches and APIRoute.matches build it.
            params = matched.groupdict()
            convertors = context.param_convertors
            for key, value in params.items():
                params[key] = convertors[key].convert(value)
            path_params = dict(scope.get("path_params", {}))
            path_params.update(params)
            child = {"endpoint": context.endpoint, "path_params": path_params}
            child["route"] = context.original_route
            assert isinstance(entry.top, _IncludedRouter)
            return entry.top, context, child
        return None

    def candidates(self, path: str) -> list[Entry]:
        """Every route whose expression may match ``path`` (and maybe a few whose does
        not), in FastAPI's order."""
        lists: list[list[Entry]] = []
        nodes = [self.root]
        for segment in path.split("/"):
            following: list[Node] = []
            for node in nodes:
                if node.below:
                    lists.append(node.below)
                step = node.literal.get(segment)
                if step is not None:
                    following.append(step)
                if node.wild is not None:
                    following.append(node.wild)
            nodes = following
            if not nodes:
                break
        for node in nodes:
            if node.below:
                lists.append(node.below)
            if node.ends:
                lists.append(node.ends)
        if len(lists) == 1:
            return lists[0]  # one list is in order already
        return sorted((entry for entries in lists for entry in entries), key=_order)

    def build(self) -> None:
        """The tree of every route of the app, in FastAPI's order."""
        self.root = Node()
        self.routes_seen = len(self.router.routes)
        order = 0
        for top in self.router.routes:
            if isinstance(top, _IncludedRouter):
                contexts = _api_route_contexts(top)
                if contexts is None:
                    # A branch this table cannot mirror: its routes, and every later
                    # one, are left to FastAPI.
                    self.add(Entry(order, top, None), "", anywhere=True)
                    return
                for context in contexts:
                    self.add(Entry(order, top, context), context.path_format)
                    order += 1
            else:
                template = getattr(top, "path_format", None)
                self.add(Entry(order, top, None), template or "", anywhere=template is None)
                order += 1

    def add(self, entry: Entry, template: str, *, anywhere: bool = False) -> None:
        node = self.root
        if anywhere:
            node.below.append(entry)
            return
        convertors = (
            entry.context.param_convertors
            if entry.context is not None
            else getattr(entry.top, "param_convertors", {})
        )
        takes_rest = not all(isinstance(c, ONE_SEGMENT) for c in convertors.values())
        for segment in template.split("/"):
            if "{" in segment:
                if takes_rest:
                    node.below.append(entry)
                    return
                node.wild = node.wild or Node()
                node = node.wild
            else:
                node = node.literal.setdefault(segment, Node())
        if takes_rest:  # a template whose parameter the convertor check did not place
            node.below.append(entry)
        else:
            node.ends.append(entry)


def _order(entry: Entry) -> int:
    return entry.order


def _api_route_contexts(top: _IncludedRouter) -> list[_EffectiveRouteContext] | None:
    """The routes of an included router, in its order, when every one is a FastAPI route
    (no nested router, no mount); None otherwise."""
    contexts: list[_EffectiveRouteContext] = []
    for candidate in top.effective_candidates():
        if isinstance(candidate, _IncludedRouter):
            return None
        if not isinstance(candidate.original_route, APIRoute):
            return None
        contexts.append(candidate)
    return contexts


def install(app: FastAPI) -> None:
    """Route ``app``'s requests through a ``RouteIndex``."""
    router = app.router
    # Router middleware would sit between the router and its dispatch: there is none.
    assert router.middleware_stack == router.app, "the app's router has middleware"
    router.middleware_stack = RouteIndex(router)


def index_of(app: FastAPI) -> RouteIndex:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    return index

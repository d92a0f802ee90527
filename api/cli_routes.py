"""Running an API route as the CLI: the everyday writes and reads of ``tally customers``,
``accounts``, ``holds``, ``transactions``, ``subscriptions``, ``test-clocks`` and
``invoices``.

Most verbs call the function behind their route (the same command message, the same
name resolution and provider calls, the same answer): every verb of ``customers``,
``subscriptions``, ``test-clocks`` and ``invoices``, and the reads of ``accounts``,
``holds`` and ``transactions``. The wallet writes (``accounts
open|deposit|withdraw|transfer|freeze|unfreeze|close|low-balance-threshold``, ``holds
place|capture|void``, ``transactions confirm|fail|reverse``) cannot: their routes are
``async`` and take their caller and the bus as the server's dependencies give them. For
those the CLI validates the route's request model and parameters, builds the command, and
runs the route's other line, the command and its answer (``executing``). Seven build
it with the function the route itself calls (``api.routes.accounts.depositing`` and the
like: open, deposit, withdraw, transfer, place, capture, void); the other seven (freeze,
unfreeze, close, low-balance-threshold, confirm, fail, reverse) build it here as their
route builds it in its own body, since those routes have no such function yet, so their
commands are written twice (``api/cli_accounts.py``, ``api/cli_transactions.py``) and
can drift apart: a change to one must be made to the other. The answer's model (and for
a create, the object's key) is named twice for all fourteen, here and in the route.

The caller is the project (``--project``), checked to exist first as the operator API
does (404 ``not_found``), with ``cli`` as the actor on its events; every id the command
line gives is then read or changed only within that project, as a key of it would be.
``--json`` prints the route's answer as the API's body; the text is one line per object.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, get_type_hints
from uuid import UUID

from pydantic import BaseModel, create_model
from starlette.responses import Response

from api.auth import Caller
from api.cli_session import ACTOR, EXIT_OK, emit, opened, sync_read_models, write_key
from api.routes.common import POSITION_HEADER, REPLAYED_HEADER
from api.tally import Tally
from commands.messages import Command

Route = Callable[[Tally, Caller, str], Response]


def cli_caller(tally: Tally, project_id: UUID) -> Caller:
    """The project as the caller of a route, once it is known to exist (else 404
    ``not_found``, before anything is read or written)."""
    from api.customer_auth import load_aggregate
    from domain.errors import NotFound
    from domain.projects import Project

    project = load_aggregate(tally, project_id, Project)
    if project is None:
        raise NotFound(f"project {project_id} not found", id=str(project_id))
    return Caller(project_id, ACTOR, str(project.mode))


@contextmanager
def projecting(tally: Tally) -> Iterator[None]:
    """The read models follow the log in a thread of this process while a route runs:
    routes that name prices, read a customer or answer from the read models after a
    provider call wait for them (``api.routes.common.caught_up``), and a CLI has no
    server's worker beside it. A worker of ``tally projections run`` holding the
    projections' lock does the work instead; this one then waits on standby."""
    from projections.runner import ProjectionWorker

    worker = ProjectionWorker(
        tally.store,
        tally.views,
        tally.schema,
        tally.settings.projection_batch,
        poll_interval_s=0.05,
        standby_interval_s=0.2,
        log_stalls=False,  # sync_read_models reports them, in one line
    )
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def write(
    args: argparse.Namespace, route: Route, needs: Sequence[str] = ()
) -> tuple[dict[str, Any], bool]:
    """Run a write route for ``--project`` under the verb's idempotency key
    (``--idempotency-key``, else one made now and printed if it fails), bring the read
    models ``needs`` names up to it, and answer its body and whether it was replayed."""
    with write_key(args) as key, opened() as tally:
        caller = cli_caller(tally, args.project)
        with projecting(tally):
            response = route(tally, caller, key)
        position = response.headers.get(POSITION_HEADER)
        sync_read_models(tally, int(position) if position else None, needs)
    body: dict[str, Any] = json.loads(bytes(response.body))
    return body, response.headers.get(REPLAYED_HEADER) == "true"


def executing(command: Command, model: type[BaseModel], created: str = "", **beside: str) -> Route:
    """The body of a write route that runs one command and answers ``model``: the
    accounts', holds' and transfers' routes, which are ``async`` and take their caller
    as the server's dependencies give it, so the CLI runs their two lines rather than
    the functions (``created``: a create, answering the object as
    ``api.routes.common.created_object`` does, with the ``beside`` fields)."""
    from api.routes.common import created_object, respond

    def route(tally: Tally, caller: Caller, key: str) -> Response:
        outcome = tally.execute(command, caller.context(key))
        if created:
            outcome = created_object(outcome, created, **beside)
        return respond(outcome, model)

    return route


def read(
    args: argparse.Namespace, query: Callable[[Tally, Caller], BaseModel], needs: Sequence[str]
) -> Any:
    """Run a read route for ``--project`` once the read models hold every write so far;
    its answer as the API serializes it (``response_model``, by alias)."""
    with opened() as tally:
        caller = cli_caller(tally, args.project)
        sync_read_models(tally, None, needs)
        found = query(tally, caller)
    return found.model_dump(mode="json", by_alias=True)


def show(
    args: argparse.Namespace,
    route: Callable[..., BaseModel],
    line: Callable[[dict[str, Any]], str],
    needs: Sequence[str],
    **ids: Any,
) -> int:
    """``tally X show``: the read route of one object run for ``--project`` with ``ids``
    checked by its own parameter types (an ``as_of`` it takes left out: now), printed as
    the API's body (``--json``) or as ``line``."""
    checked = params(route, **ids)
    now = {"as_of": None} if "as_of" in inspect.signature(route).parameters else {}
    found = read(
        args, lambda tally, caller: route(**checked, **now, tally=tally, caller=caller), needs
    )
    emit(args, found, [line(found)])
    return EXIT_OK


def params(route: Callable[..., Any], **values: Any) -> dict[str, Any]:
    """Path and query parameters of ``route`` checked against its own annotations, as
    FastAPI checks them (the same types and limits): a bad one is ``validation_error``
    naming it."""
    hints = get_type_hints(route, include_extras=True)
    fields: dict[str, Any] = {name: (hints[name], ...) for name in values}
    model = create_model(f"{route.__name__}_parameters", **fields)
    found: dict[str, Any] = dict(model.model_validate(values))
    return found


def paging(args: argparse.Namespace, route: Callable[..., Any]) -> dict[str, Any]:
    """``--limit`` and ``--starting-after`` as the list ``route`` takes them."""
    return params(route, limit=args.limit, starting_after=args.starting_after)


def add_paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=20, help="page size, 1 to 100 (default 20)")
    parser.add_argument(
        "--starting-after", default=None, metavar="ID", help="the last id of the previous page"
    )


def page_lines(page: dict[str, Any], line: Callable[[dict[str, Any]], str], none: str) -> list[str]:
    """A page's text: one line per object, and how to ask for the next page."""
    lines = [line(item) for item in page["data"]] or [none]
    if page["has_more"]:
        lines.append(f"more after {page['data'][-1]['id']} (--starting-after)")
    return lines


def metadata(raw: list[str]) -> dict[str, str] | None:
    """``--metadata key=value`` (repeatable) as a body's metadata; none given: None."""
    from api.cli_session import CannotStart

    if not raw:
        return None
    found: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CannotStart(f"--metadata takes key=value, not {item!r}")
        found[key] = value
    return found


def body_of(**fields: Any) -> dict[str, Any]:
    """A request body of the options given: one left out (None) is left out of the body,
    so the request model's default applies as it does for the API."""
    return {name: value for name, value in fields.items() if value is not None}


def add_project(*parsers: argparse.ArgumentParser) -> None:
    for parser in parsers:
        parser.add_argument("--project", type=UUID, required=True, help="the project's id")


def replayed_note(replayed: bool) -> list[str]:
    """The text answer's last line for a write answered again under its key."""
    return ["(answered again: this idempotency key's first result, nothing new written)"] * (
        1 if replayed else 0
    )

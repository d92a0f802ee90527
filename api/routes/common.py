"""What every router shares: idempotency keys, write responses, read waits, pagination,
and the OpenAPI description of the errors a route can answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.as_of import AS_OF_HEADERS
from api.auth import Caller, CallerDep, TallyDep, Writer
from api.errors import PROBLEM_JSON, STATUS_BY_CODE, PositionNotIssued, ReadModelBehind
from api.schemas.common import Page, Problem
from api.schemas.nulls import nulls_left_out, shows_null_within
from api.tally import Tally
from commands.bus import Happened, Outcome, Reply
from commands.messages import Command
from commands.provider_messages import REFERENCE_PATTERN
from domain.errors import DomainError, NotFound, Unauthenticated
from domain.limits import (
    CODE_PATTERN,
    ID_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_CODE_CHARS,
    MAX_ID_CHARS,
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_REF_CHARS,
    PLAN_CODE_PATTERN,
    TEXT_PATTERN,
)

POSITION_HEADER = "Tally-Position"
REPLAYED_HEADER = "Idempotency-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_CHARS,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Same key and same body: the first response again, with "
        "`Idempotency-Replayed: true`. Same key, other body: 409 idempotency_key_reused.",
    ),
]

Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100")]
StartingAfter = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=TEXT_PATTERN,
        description="Id of the last item of the previous page",
    ),
]

# Path parameters that are not UUIDs (those are typed ``UUID``): each route states the
# id's format, so a malformed one is a 422 and a well-formed unknown one a 404, never a
# 500 from a command message refusing it after the route has accepted it.
IdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ID_CHARS,
        pattern=ID_PATTERN,
        description="Letters, digits and _ . : -",
    ),
]
RefPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_REF_CHARS,
        pattern=TEXT_PATTERN,
        description="Your id; no control characters",
    ),
]
PlanCodePath = Annotated[
    str, Path(min_length=1, max_length=MAX_CODE_CHARS, pattern=PLAN_CODE_PATTERN)
]
CodePath = Annotated[str, Path(min_length=1, max_length=MAX_CODE_CHARS, pattern=CODE_PATTERN)]
PaymentMethodPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_REF_CHARS,
        pattern=REFERENCE_PATTERN,
        description="The provider's reference: printable ASCII, no spaces",
    ),
]

StartingAfterId = Annotated[
    UUID | None, Query(description="Id of the last item of the previous page")
]

WRITE_HEADERS: dict[str, Any] = {
    POSITION_HEADER: {
        "description": "Event-log position of this write; pass it as `wait_for_position` "
        "to a query to read your own write.",
        "schema": {"type": "integer"},
    },
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


# Longest an ``async`` route waits for the bus's answer (``CommandBus.execute``'s default).
BUS_ANSWER_TIMEOUT_S = 30.0


def execute(tally: Tally, caller: Caller, command: Command, key: str | None) -> Outcome:
    return tally.execute(command, caller.context(key))


async def run(writer: Writer, command: Command, key: str | None) -> Outcome:
    """``execute`` for ``async`` routes, with no thread of their own: the command runs
    into the bus's batch from the event loop when the bus's mutex is free (as a caller's
    thread would run it; when it is held, a thread of the default executor waits for it
    instead of the loop), and the committer wakes the loop when the batch holding
    it has committed (``call_soon_threadsafe``). Waiting in a thread of a pool instead
    (``run_in_executor``) cost two thread hand-offs per request, about a tenth of the
    server's CPU per deposit (bench/README.md, issue 16). The route's one dependency
    (``WriterDep``) gives both the caller and the app's Tally.

    A caller authenticated from the key cache is answered only once its key is
    confirmed: by the append that committed its command (``Outcome.key_checked``), or
    else by a fresh lookup (``Writer.confirm``, 401 if the key no longer holds), for an
    answer that wrote nothing (a replay, a refusal, a command that changed nothing)."""
    tally = writer.tally
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Outcome] = loop.create_future()

    def on_done(reply: Reply) -> None:
        loop.call_soon_threadsafe(_settle_answer, answer, reply)

    context = writer.context(key)
    if tally.try_submit(command, context, on_done) is None:
        # The bus is busy (the committer may hold its mutex for a synchronous retry, with
        # database round trips): a thread waits for it, never the loop, which serves
        # every other request of this worker meanwhile.
        await loop.run_in_executor(None, tally.submit, command, context, on_done)
    # The answer's future times itself out: ``asyncio.timeout`` around the await cost
    # about 130 bytecodes more per request (issue 16).
    timer = loop.call_later(BUS_ANSWER_TIMEOUT_S, _time_out, answer)
    try:
        outcome = await answer
    except DomainError as refusal:
        # Not caught: a refusal is answered as it is, once the key is confirmed (a 401
        # from the key's own check needs none).
        if isinstance(refusal, Unauthenticated):
            writer.refused()
        else:
            await writer.confirm()
        raise
    finally:
        timer.cancel()
    if not outcome.key_checked:
        await writer.confirm()
    return outcome


def _time_out(answer: asyncio.Future[Outcome]) -> None:
    """No answer from the bus within ``BUS_ANSWER_TIMEOUT_S``: the request fails as
    ``asyncio.timeout`` failed it; the command may still commit (its idempotency key
    answers it again)."""
    if not answer.done():
        answer.set_exception(TimeoutError("no answer from the command bus in time"))


def _settle_answer(answer: asyncio.Future[Outcome], reply: Reply) -> None:
    if answer.done():  # the request was cancelled (its client went away)
        return
    try:
        answer.set_result(reply.result(timeout=0))
    except Exception as exc:
        answer.set_exception(exc)


# What a write answers for what its command did: the one place a command's result becomes
# an HTTP status. A replay answers from the same table (idempotency records keep what
# happened, not a status), so a row here is part of the API's contract: changing one
# changes the replays of earlier requests too, as changing an answer's shape would.
STATUS_BY_HAPPENED: dict[Happened, int] = {
    Happened.CREATED: 201,
    Happened.EXISTED: 200,
    Happened.CHANGED: 200,
    Happened.UNCHANGED: 200,
    Happened.ACCEPTED: 202,
}


def status_of(outcome: Outcome) -> int:
    """The HTTP status of a write's answer (``STATUS_BY_HAPPENED``)."""
    return STATUS_BY_HAPPENED[outcome.happened]


class JsonBytes(JSONResponse):
    """A JSON response whose body is already serialized."""

    def render(self, content: Any) -> bytes:
        assert isinstance(content, bytes)
        return content


def respond(
    outcome: Outcome, model: type[BaseModel], *, headers_of: Outcome | None = None
) -> JSONResponse:
    """The write's response, checked against its documented model, with its position
    (that of ``headers_of`` when the route made calls after the command, else the
    command's). Nulls follow the one rule of ``answer``."""
    checked = model.model_validate(outcome.body)
    return JsonBytes(
        answer(checked),
        status_code=status_of(outcome),
        headers=write_headers(headers_of or outcome),
    )


def answer(checked: BaseModel) -> bytes:
    """A write's answer as JSON: a null is left out (a command result knows no read-model
    timestamps, and a field it has nothing for is not answered), unless the model says
    the field shows null (``ShownNull``) and the command answered it, as the GET of the
    same object shows it. The same rule at every depth of the answer."""
    # pydantic writes the JSON itself: the same bytes as dumping to a dict and encoding
    # that, in less than half the time (15 against 37 µs for a deposit). A model with no
    # ShownNull field anywhere in it leaves out every null: exclude_none says just that.
    if not shows_null_within(type(checked)):
        return checked.model_dump_json(by_alias=True, exclude_none=True).encode()
    return checked.model_dump_json(by_alias=True, exclude=nulls_left_out(checked)).encode()


def created_object(outcome: Outcome, key: str, **beside: str) -> Outcome:
    """A create's outcome answering the object itself (docs/api.md), not the command's
    ``{key: object, ...}``: ``beside`` keeps other fields of the result on the object
    (new name = name in the result), and a result's ``created: bool`` (a register or
    define that may find one already there) becomes ``existed``. Replays read the stored
    result the same way."""
    result = outcome.body
    body = dict(result[key])
    for field, source in beside.items():
        if source in result:
            body[field] = result[source]
    if isinstance(result.get("created"), bool):
        body["existed"] = not result["created"]
    return replace(outcome, body=body)


def write_headers(outcome: Outcome) -> dict[str, str]:
    """The headers of a write's response: its event-log position and whether it was replayed."""
    headers: dict[str, str] = {}
    if outcome.position is not None:
        headers[POSITION_HEADER] = str(outcome.position)
    if outcome.replayed:
        headers[REPLAYED_HEADER] = "true"
    return headers


async def read_after(
    tally: TallyDep,
    caller: CallerDep,
    wait_for_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="Wait (bounded by the server's read_wait_max_ms) until the read "
            "models hold this event-log position, e.g. a write's Tally-Position. A "
            "position no write has answered yet (beyond the log's head) is refused at "
            "once with 422 `position_not_issued`.",
        ),
    ] = None,
) -> Caller:
    """Dependency of every query: authenticates, then waits for the position if asked.
    It is ``async`` so that a query without a wait costs no trip through the threadpool;
    a wait (which polls Postgres) runs there."""
    if wait_for_position is not None:
        timeout_s = tally.settings.read_wait_max_ms / 1000
        reached = await run_in_threadpool(_wait, tally, wait_for_position, timeout_s)
        if reached is None:
            raise PositionNotIssued(
                f"no write has answered position {wait_for_position} yet; pass a "
                "Tally-Position this server answered",
                position=wait_for_position,
            )
        if not reached:
            raise behind(tally, wait_for_position)
    return caller


Reader = Annotated[Caller, Depends(read_after)]


def _wait(tally: Tally, position: int, timeout_s: float) -> bool | None:
    """True once the read models hold ``position``, False after ``timeout_s``, None at
    once when the log has not reached it (the head is read only when the read models are
    behind, so a query that needs no wait costs nothing more)."""
    from projections.runner import wait_for_position

    if wait_for_position(tally.views, tally.schema, position, 0):
        return True
    if position > int(tally.store.recorder.max_notification_id() or 0):
        return None
    return wait_for_position(tally.views, tally.schema, position, timeout_s)


def caught_up(tally: Tally, position: int | None = None) -> None:
    """Wait, bounded like a read's ``wait_for_position``, until the read models hold
    ``position`` (None: every event written so far): for what a route reads after its
    write (a payment's outcome) or to resolve a name (a price published just before is
    found). 503 ``read_model_behind`` if they do not; a write stands (the same request
    with its idempotency key answers again)."""
    from projections.runner import wait_for_position

    if position is None:
        position = tally.store.recorder.max_notification_id()
    timeout_s = tally.settings.read_wait_max_ms / 1000
    if position and not wait_for_position(tally.views, tally.schema, position, timeout_s):
        raise behind(tally, position)


def behind(tally: Tally, position: int) -> ReadModelBehind:
    return ReadModelBehind(
        f"the read models have not reached position {position} within "
        f"{tally.settings.read_wait_max_ms} ms; retry shortly",
        headers={"Retry-After": "1"},
        position=position,
    )


M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
Row = Mapping[str, Any]


def found_or_404(row: R | None, what: str, key: UUID) -> R:
    """The row a query found, or 404 ``"<what> <key> not found"`` when it found none
    (which is also the answer for another project's id)."""
    if row is None:
        raise NotFound(f"{what} {key} not found", id=str(key))
    return row


def one_or_404(model: type[M], row: Row | None, what: str, key: UUID) -> M:
    """The row as ``model``, or 404 (see ``found_or_404``)."""
    return model.model_validate(found_or_404(row, what, key))


def fetch_one(
    model: type[M],
    query: Callable[..., Row | None],
    tally: Tally,
    caller: Caller,
    key: UUID,
    what: str,
) -> M:
    """``query(views, schema, project_id, key)`` as ``model``, or 404 (see ``one_or_404``)."""
    return one_or_404(model, query(tally.views, tally.schema, caller.project_id, key), what, key)


def page(model: type[M], rows: Sequence[Row], has_more: bool) -> Page[M]:
    """One page of a list, each row checked against ``model``."""
    page_type: type[Page[M]] = Page[model]  # type: ignore[valid-type]
    return page_type(data=[model.model_validate(r) for r in rows], has_more=has_more)


def fetch_page(
    model: type[M],
    query: Callable[..., tuple[Sequence[Row], bool]],
    tally: Tally,
    caller: Caller,
    *keys: Any,
    **filters: Any,
) -> Page[M]:
    """``query(views, schema, project_id, *keys, **filters)`` (a list query answering its
    rows and whether more follow) as a page of ``model``."""
    rows, has_more = query(tally.views, tally.schema, caller.project_id, *keys, **filters)
    return page(model, rows, has_more)


def require_account(tally: Tally, caller: Caller, account_id: UUID) -> None:
    """404 unless the account exists in the caller's project (lists under an account
    must not answer an empty page for another project's account)."""
    from projections.balances import get_account

    account = get_account(tally.views, tally.schema, caller.project_id, account_id)
    found_or_404(account, "account", account_id)


def problems(*codes: str, body: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem codes a route can answer, grouped by status.

    Every route can answer 401, 429 (its caller's rate limit, docs/access.md) and 422 (a
    path, query or header parameter is invalid);
    every route with a body also 400 (malformed JSON) and 413 (too large)."""
    every = ["unauthenticated", "validation_error", "rate_limited"]
    if body:
        every += ["malformed_json", "payload_too_large"]
    if "invalid_amount" in codes:
        # Its case of a product, a sum or a resulting balance past MAX_AMOUNT_MINOR.
        codes = (*codes, "amount_too_large")
    by_status: dict[int, list[str]] = {}
    for code in [*every, *codes]:
        status = STATUS_BY_CODE[code]
        if code not in by_status.setdefault(status, []):
            by_status[status].append(code)
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": "Problem codes: " + ", ".join(f"`{c}`" for c in sorted(found)),
        }
        for status, found in sorted(by_status.items())
    }


def read_problems(*codes: str) -> dict[int | str, dict[str, Any]]:
    return problems("read_model_behind", "position_not_issued", *codes, body=False)


def as_of_problems(*codes: str) -> dict[int | str, Any]:
    """``read_problems`` of a read that takes ``as_of`` (``api/as_of.py``), with the
    headers its answer names its position in."""
    responses = read_problems(*codes)
    responses[200] = {"headers": AS_OF_HEADERS}
    return responses


def write_responses(status: int, *codes: str, body: bool = True) -> dict[int | str, Any]:
    responses = problems("idempotency_key_reused", "concurrent_update", *codes, body=body)
    responses[status] = {"headers": WRITE_HEADERS}
    return responses


def create_responses(model: type[BaseModel], existed: str, *codes: str) -> dict[int | str, Any]:
    """``write_responses`` of a create that answers 200 (described by ``existed``) when
    what it creates already exists."""
    responses = write_responses(201, *codes)
    responses[200] = {"description": existed, "model": model, "headers": WRITE_HEADERS}
    return responses

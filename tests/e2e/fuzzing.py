"""Schemathesis over the ASGI app: the run's configuration and its findings, for test_fuzz.

The engine is the one ``schemathesis run`` drives (examples, coverage and fuzzing
phases), given the app itself, so every request goes through the real routes, the real
command bus and the real projection worker, without a network. Its findings come back as
``Finding`` rows (operation, check, status, detail) so a failing test prints them as a
table a person can act on.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from schemathesis import check
from schemathesis.checks import CheckContext
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.engine import events, from_schema
from schemathesis.generation.case import Case
from schemathesis.openapi import from_asgi
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case
from starlette.types import ASGIApp, Receive, Scope, Send

from api.bootstrap import Tally

# Fixed, so that CI explores the same cases on every run: a failure seen once is seen again.
SEED = 20_261_204

# Examples per operation, phase and mode (schema-valid, schema-breaking): 111 operations
# make about 8,400 cases (the coverage phase's boundary cases, then up to 25 generated of
# each mode), 60 to 90 s on the two-core CI box (README). Positive cases alone at 50
# examples found one more rule than at 25 in a trial.
MAX_EXAMPLES = 25

CHECKS = (
    "not_a_server_error",
    "negative_data_rejection",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "refusals_are_stated",
)

# Answers to schema-valid data that name a state, not a rule (as schemathesis's own
# positive_data_acceptance allows them): unknown key, another project's or a missing id,
# a state or another request in the way.
STATE_STATUSES = frozenset({401, 403, 404, 409})

# The codes of a request that breaks its schema: a schema-valid request must never get
# one, whatever the operation documents.
SCHEMA_CODES = frozenset({"validation_error", "malformed_json", "bad_request"})


class UnstatedRefusal(RejectedPositiveData):
    """A schema-valid request refused by a rule the OpenAPI document does not state.

    One finding per (status, problem code) of an operation, where schemathesis's own
    failure keeps one per status: two rules refused with 422 are two findings."""

    def __init__(self, *, operation: str, status_code: int, code: str, detail: str) -> None:
        super().__init__(
            operation=operation,
            message=f"{status_code} {code}: {detail}",
            status_code=status_code,
            allowed_statuses=["2xx", "3xx", "401", "403", "404", "409", "documented codes"],
            title="Schema-valid request refused by an unstated rule",
        )
        self.problem_code = code

    @property
    def _unique_key(self) -> str:
        return f"{self.status_code}:{self.problem_code}"


@check
def refusals_are_stated(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """schemathesis's positive_data_acceptance, as this API states its rules.

    A schema-valid request may still be refused by a rule the schema cannot express (a
    balance, a product of two fields, a state): the API states those as problem codes
    listed on the operation's response for that status ("Problem codes: `...`"). So a
    refusal passes when its code is listed there, and is not one of the codes for a
    request that breaks its schema; any other 4xx, or 400/422 with another code, fails.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if is_unexpected_http_status_case(case):
        return None
    status = response.status_code
    if not 400 <= status < 500 or status in STATE_STATUSES:
        return None
    try:
        problem = dict(response.json())
    except (ValueError, TypeError):
        problem = {"detail": response.text[:200]}
    code, detail = str(problem.get("code", "")), str(problem.get("detail", ""))
    if code in documented_codes(case, status) and code not in SCHEMA_CODES:
        return None
    if code == "validation_error" and integers_written_as_floats(problem, case):
        return None
    raise UnstatedRefusal(
        operation=case.operation.label, status_code=status, code=code, detail=detail
    )


def integers_written_as_floats(problem: dict[str, Any], case: Case) -> bool:
    """Whether the refusal is the API's stated rule (its description) that integers are
    written as integers: JSON Schema counts ``1250.0`` as an integer, so schemathesis
    sends some that way, and the API refuses them (a ledger takes no float)."""
    errors = problem.get("errors") or []
    return bool(errors) and all(
        error.get("type") == "int_type"
        and error.get("location") == "body"
        and isinstance(_at(case.body, str(error.get("field", ""))), float)
        for error in errors
    )


def _at(document: Any, dotted: str) -> Any:
    """The value at ``lines.0.quantity`` in a JSON document (None if there is none)."""
    for part in dotted.split("."):
        if isinstance(document, dict):
            document = document.get(part)
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
    return document


def documented_codes(case: Case, status: int) -> set[str]:
    responses = case.operation.definition.raw.get("responses", {})
    description = str(responses.get(str(status), {}).get("description", ""))
    return set(re.findall(r"`([a-z_]+)`", description))


@dataclass(frozen=True)
class Finding:
    operation: str
    check: str
    status: int | None
    detail: str


@dataclass
class Report:
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Operations that answered 2xx at least once: their caller's credentials were taken.
    succeeded: set[str] = field(default_factory=set)

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((f.operation, f.check) for f in self.findings)

    def table(self) -> str:
        lines = [f"{n:4d}  {op}  {check}" for (op, check), n in sorted(self.counts().items())]
        first = {(f.operation, f.check): f for f in reversed(self.findings)}
        lines += ["", "first of each:"]
        lines += [
            f"{op}  {check}  [{f.status}]  {f.detail}" for (op, check), f in sorted(first.items())
        ]
        return "\n".join(lines + self.errors)


def config(
    key: str, parameters: dict[str, str], operations: list[dict[str, Any]]
) -> SchemathesisConfig:
    """The run's configuration: ``key`` authenticates every request, ``parameters`` are
    the values of path parameters by name (ids of seeded resources), ``operations`` the
    per-operation overrides (schemathesis's ``[[operations]]``)."""
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {key}"},
            "parameters": {f"path.{name}": value for name, value in parameters.items()},
            "operations": [
                {**o, "parameters": {f"path.{k}": v for k, v in o.get("parameters", {}).items()}}
                for o in operations
            ],
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # Schema-valid and schema-breaking requests both: the latter must be
                # refused (negative_data_rejection), as `period_to=0.5` once was not.
                "mode": "all",
            },
            # The document has no links, and the stateful phase's own inference added 130
            # cases in a trial (3 %), so its time goes to the other phases instead.
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                "enabled": False,
                **{name: {"enabled": True} for name in CHECKS},
            },
        }
    )


class KeepServing:
    """What a server does when the app re-raises an exception after answering 500 (as
    Starlette does, so that servers can log it): the client keeps its 500 and the run goes
    on, where the engine would otherwise record an error without the operation's answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            if scope["type"] != "http":
                raise


def run(app: FastAPI, settings: SchemathesisConfig) -> Report:
    """Every operation of the app's OpenAPI document, through the engine."""
    schema = from_asgi("/openapi.json", KeepServing(app), config=settings)
    report = Report()
    for event in from_schema(schema).execute():
        _record(report, event)
    return report


def stop_apps() -> None:
    """The engine starts an app's lifespan (projection worker, sweeper, scheduler) on its
    first request and keeps it for the process: the test stops it once it is done."""
    asgi.shutdown_lifespans()


def _record(report: Report, event: events.EngineEvent) -> None:
    if isinstance(event, events.NonFatalError):
        report.errors.append(f"engine error in {event.label}: {event.value!r}"[:300])
        return
    if isinstance(event, events.FatalError):
        report.errors.append(f"engine stopped: {event.exception!r}")
        return
    if not isinstance(event, events.ScenarioFinished):
        return
    recorder = event.recorder
    if recorder.cases:
        report.operations.add(recorder.label)
    report.cases += len(recorder.cases)
    for case_id, checks in recorder.checks.items():
        response = recorder.find_response(case_id=case_id)
        if response is not None and 200 <= response.status_code < 300:
            report.succeeded.add(recorder.label)
        for node in checks:
            if node.failure_info is None:
                continue
            failure = node.failure_info.failure
            sent = recorder.cases[case_id].value
            request = f"{sent.method} {sent.formatted_path} query={sent.query} body={sent.body!r}"
            detail = f"{failure.title}: {failure.message}; sent {request}"
            report.findings.append(
                Finding(
                    recorder.label,
                    node.name,
                    response.status_code if response else None,
                    detail.replace("\n", " | ")[:700],
                )
            )


def lagging(tally: Tally, timeout_s: float = 30.0) -> list[str]:
    """What keeps the read models from the log's head, once the worker has had
    ``timeout_s`` to get there: each stalled read model's line, and each other one still
    behind (an empty list: every read model holds every event)."""
    from projections.runner import status

    head = int(tally.store.recorder.max_notification_id() or 0)
    deadline = time.monotonic() + timeout_s
    while True:
        models = status(tally.views, tally.schema)
        behind = [m for m in models if m.stall is not None or m.position < head]
        if not behind or any(m.stall for m in behind) or time.monotonic() > deadline:
            return [
                m.stall.line() if m.stall else f"read model {m.name} at {m.position} of {head}"
                for m in behind
            ]
        time.sleep(0.1)

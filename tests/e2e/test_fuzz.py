"""Schemathesis fuzzes every operation of the API over the ASGI app, with a project key.

It fails on any 5xx, on a response that its operation does not document (status,
content type, headers, body schema), on a schema-valid request refused with 400 or 422
(a rule the OpenAPI document does not state), and, after the run, on any read model that
has not caught up with the log's head: a request that a read model cannot apply stalls
the projections of every tenant.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest

from adapters.clock import FixedClock
from api.app import create_app
from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context
from tests.e2e import fuzzing


@pytest.fixture
def fuzz_tally(settings: Settings) -> Iterator[Tally]:
    tally = build(settings, clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))
    yield tally
    tally.close()


def _test_project(tally: Tally) -> tuple[UUID, str]:
    """A test-mode project (so test clocks are open to the fuzzer) and its key."""
    created = tally.execute(m.CreateProject(name="fuzz", mode="test"), Context(NO_PROJECT, "cli"))
    project_id = UUID(created.body["project"]["id"])
    key = tally.execute(m.IssueApiKey(project_id=project_id), Context(project_id, "cli"))
    return project_id, str(key.body["secret"])


def test_fuzzing_every_operation_finds_no_error_and_the_read_models_keep_up(
    fuzz_tally: Tally,
) -> None:
    _, key = _test_project(fuzz_tally)
    app = create_app(fuzz_tally)
    started = time.monotonic()
    try:
        report = fuzzing.run(app, fuzzing.config(key))
        elapsed_s = time.monotonic() - started
        # Checked while the app's projection worker still runs: it must reach the head.
        behind = fuzzing.lagging(fuzz_tally)
    finally:
        fuzzing.stop_apps()
    print(
        f"fuzzed {len(report.operations)} operations, {report.cases} cases, "
        f"{len(report.findings)} findings in {elapsed_s:.0f} s\n{report.table()}"
    )
    documented = {
        f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops
    }
    assert documented - report.operations == set(), "operations the run never called"
    assert report.findings == [], report.table()
    assert report.errors == [], report.table()
    assert behind == []

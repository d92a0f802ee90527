"""The ``tally`` command line on the database and schema of a test's served app
(``app_tally``): what one writes the other reads, and how a verb's answer or refusal is
read. Shared by the tests of the CLI's everyday verbs (customers, accounts, holds,
subscriptions, test clocks, invoices): ``tally_cli`` runs a verb in this process, or in
a process of its own in the one test of each family marked ``cli_process``
(``tests/e2e/cli_run.py`` says why)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from tests.e2e.cli_run import cli, cli_process, env
from tests.e2e.conftest import Client

__all__ = ["Cli", "answer", "env", "refusal", "refused", "tally_cli"]

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def tally_cli(env: dict[str, str], request: pytest.FixtureRequest) -> Cli:
    """``tally ARGS`` on the test's schema, the one the served app (``app_tally``) uses
    too: in this process, or under ``@pytest.mark.cli_process`` in a process of its own
    (``tests/e2e/cli_run.py``)."""
    real = request.node.get_closest_marker("cli_process") is not None
    return partial(cli_process if real else cli, env)


def answer(tally_cli: Cli, api: Client, *args: str) -> Any:
    """The verb's ``--json`` answer, run for ``api``'s project."""
    done = tally_cli(*args, "--project", str(api.project_id), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def refusal(done: subprocess.CompletedProcess[str]) -> str:
    """The first line a refused verb prints on stderr (exit 1, nothing on stdout): the
    API's error code and detail."""
    assert (done.returncode, done.stdout) == (1, ""), (done.returncode, done.stdout, done.stderr)
    return done.stderr.splitlines()[0]


def refused(tally_cli: Cli, api: Client, *args: str) -> str:
    return refusal(tally_cli(*args, "--project", str(api.project_id)))

"""The ``tally`` command line in a process of its own, on the database and schema of a
test's served app (``app_tally``): what one writes the other reads. Shared by the tests
of the CLI's everyday verbs (customers, accounts, holds, subscriptions, test clocks,
invoices)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from api.bootstrap import Tally
from tests.e2e.conftest import Client

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def tally_cli(app_tally: Tally, pg_url: str) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env |= {"TALLY_DATABASE_URL": pg_url, "TALLY_DB_SCHEMA": app_tally.schema}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    return run


def answer(cli: Cli, api: Client, *args: str) -> Any:
    """The verb's ``--json`` answer, run for ``api``'s project."""
    done = cli(*args, "--project", str(api.project_id), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def refusal(done: subprocess.CompletedProcess[str]) -> str:
    """The first line a refused verb prints on stderr (exit 1, nothing on stdout): the
    API's error code and detail."""
    assert (done.returncode, done.stdout) == (1, ""), (done.returncode, done.stdout, done.stderr)
    return done.stderr.splitlines()[0]


def refused(cli: Cli, api: Client, *args: str) -> str:
    return refusal(cli(*args, "--project", str(api.project_id)))

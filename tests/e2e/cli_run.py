"""The ``tally`` command run as a process, as an operator runs it, on the test's schema:
``CLI`` (the command line), the ``env`` fixture (this environment without the
developer's own ``TALLY_*`` settings, pointed at the test's database and schema) and
``cli`` (one run, its exit code and output). Imported by name into the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "api.cli"]


@pytest.fixture
def env(pg_url: str, schema: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    return {**clean, "TALLY_DATABASE_URL": pg_url, "TALLY_DB_SCHEMA": schema}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )

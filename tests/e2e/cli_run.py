"""The ``tally`` command run as a process, as an operator runs it, on the test's schema:
``CLI`` (the command line), the ``env`` fixture (this environment without the
developer's own ``TALLY_*`` settings, pointed at the test's database and schema) and
``cli`` (one run, its exit code and output); and for a ``tally serve`` process, waiting
until it is ready (``wait_until_ready``) and stopping it (``stop``). Imported by name
into the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
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


def wait_until_ready(process: subprocess.Popen[str], base: str, timeout_s: float = 120) -> None:
    """Until ``base``'s /readyz answers 200; fails with what the process wrote if it
    stops first, or once ``timeout_s`` passed (a busy machine starts slowly)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            written = process.stdout.read() if process.stdout else ""
            raise AssertionError(written or "tally serve stopped")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "tally serve did not become ready"
        time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> None:
    """Terminate the process, and kill it if it has not ended 20 s later."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

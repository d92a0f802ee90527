"""The ``tally`` command line and a real ``tally serve`` process spoken to over HTTP. The
program runs in a process of its own (its settings from the environment, its exit codes),
but for the projects', keys' and replay's answers, which run in the test's process (the
first test makes a project and revokes a key through the program)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.objects import INSTANT_PATTERN
from tests.e2e.cli_run import CLI, Run, cli, cli_process, env, stop, wait_until_ready

__all__ = ["env"]  # the fixture, used by name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tally_json(env: dict[str, str], *args: str, run: Run = cli_process) -> Any:
    done = run(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    yield from serve(env, workers=2)


@pytest.fixture
def one_worker_server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    yield from serve(env, workers=1)


def serve(env: dict[str, str], workers: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env={**env, "TALLY_SWEEP_INTERVAL_S": "0.2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, base)
        yield base, process
    finally:
        stop(process)


def test_serve_answers_over_http_with_a_key_from_the_cli(
    env: dict[str, str], server: tuple[str, subprocess.Popen[str]]
) -> None:
    base, process = server
    created = tally_json(env, "projects", "create", "acme", "--mode", "test")
    key = created["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
        opened = http.post("/v1/accounts", json={"owner_ref": "a", "currency": "EUR"})
        assert opened.status_code == 201, opened.text
        account_id = opened.json()["id"]
        deposit = http.post(
            f"/v1/accounts/{account_id}/deposits",
            json={"amount": 900, "currency": "EUR"},
            headers={"Idempotency-Key": "d-1"},
        )
        assert deposit.status_code == 201
        replay = http.post(
            f"/v1/accounts/{account_id}/deposits",
            json={"amount": 900, "currency": "EUR"},
            headers={"Idempotency-Key": "d-1"},
        )
        assert replay.headers["Idempotency-Replayed"] == "true"
        position = deposit.headers["Tally-Position"]
        account = http.get(f"/v1/accounts/{account_id}", params={"wait_for_position": position})
        assert account.json()["ledger_balance"] == 900
        refused = http.post(
            f"/v1/accounts/{account_id}/withdrawals", json={"amount": 901, "currency": "EUR"}
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert http.get("/v1/accounts", headers={"Authorization": "Bearer nope"}).status_code == 401

    # A revoked key stops working against the running server at once.
    revoked = cli_process(env, "keys", "revoke", "--project", created["id"], created["key_id"])
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{base}/v1/accounts", headers=auth).status_code == 401

    process.terminate()
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert key not in output
    # The key is tly_<key id>_<secret>, and the secret itself may hold or begin with "_":
    # split only twice, or one key in 64 would check an empty string.
    assert key.split("_", 2)[2] not in output
    assert "POST /v1/accounts" in output  # the access log is there, without secrets


def test_cli_manages_projects_and_keys(env: dict[str, str]) -> None:
    created = tally_json(env, "projects", "create", "globex", run=cli)
    projects = tally_json(env, "projects", "list", run=cli)
    assert [p["id"] for p in projects] == [created["id"]]
    second = tally_json(env, "keys", "create", "--project", created["id"], "--label", "ci", run=cli)
    assert second["api_key"].startswith(f"tly_{second['key_id']}_")
    keys = tally_json(env, "keys", "list", "--project", created["id"], run=cli)
    assert {k["key_id"] for k in keys} == {created["key_id"], second["key_id"]}
    assert all("key_hash" not in k and "api_key" not in k for k in keys)
    tally_json(env, "keys", "revoke", "--project", created["id"], second["key_id"], run=cli)
    keys = tally_json(env, "keys", "list", "--project", created["id"], run=cli)
    assert {k["key_id"]: k["revoked"] for k in keys} == {
        created["key_id"]: False,
        second["key_id"]: True,
    }
    again = cli(env, "keys", "revoke", "--project", created["id"], second["key_id"])
    assert again.returncode == 1
    # Revoking a revoked key is a state conflict (the operator API, issue 14, made it one).
    assert again.stderr.startswith("tally: invalid_transition:")


def test_cli_json_uses_the_apis_shapes(env: dict[str, str]) -> None:
    # Issue 11: --json printed created_at as Python's str() of a datetime, with a space.
    created = tally_json(env, "projects", "create", "globex", run=cli)
    [listed] = tally_json(env, "projects", "list", run=cli)
    [key] = tally_json(env, "keys", "list", "--project", created["id"], run=cli)
    for found, kind in ((created, "project"), (listed, "project"), (key, "api_key")):
        assert found["object"] == kind
        assert re.match(INSTANT_PATTERN, found["created"]), found
    assert listed["created"] == created["created"]
    assert re.match(INSTANT_PATTERN, key["updated_at"])


def test_replay_reports_matching_read_models(env: dict[str, str]) -> None:
    tally_json(env, "projects", "create", "initech", run=cli)
    done = cli(env, "replay", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: the read models match the event log" in done.stdout


def test_replay_json_is_the_report_as_json(env: dict[str, str]) -> None:
    # Issue 11, bug 3: --json printed the human table.
    tally_json(env, "projects", "create", "initech", run=cli)
    report = tally_json(env, "replay", run=cli)
    assert report["ok"] is True
    assert report["error"] is None
    assert report["events"] > 0
    assert report["position"] == report["head_position"] > 0
    tables = {table["table"]: table for table in report["tables"]}
    assert tables["api_keys"]["live_rows"] == tables["api_keys"]["replayed_rows"] == 1
    assert all(table["differences"] == 0 for table in tables.values())


@pytest.mark.parametrize("command", [["projects", "list"], ["serve"], ["replay"]])
def test_unreachable_database_is_one_clear_line_and_exit_2(
    env: dict[str, str], command: list[str]
) -> None:
    port = free_port()  # bound and released: nothing listens there now
    url = f"postgresql://ledger_user:s3cret-pw@127.0.0.1:{port}/ledger"
    done = cli_process({**env, "TALLY_DATABASE_URL": url}, *command)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"host=127.0.0.1 port={port} database=ledger" in lines[0]
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_invalid_settings_are_one_clear_line_and_exit_2(env: dict[str, str]) -> None:
    done = cli_process({**env, "TALLY_DB_SCHEMA": "Bad-Schema!"}, "projects", "list")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tally: invalid settings: TALLY_DB_SCHEMA")


def children_running(pid: int, module: str) -> list[int]:
    """The child processes of ``pid`` whose command line runs ``module``."""
    found = []
    for stat in os.scandir("/proc"):
        if not stat.name.isdigit():
            continue
        try:
            with open(f"/proc/{stat.name}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{stat.name}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            continue
        if parent == pid and module.encode() in cmdline:
            found.append(int(stat.name))
    return found


def test_serve_projects_in_a_process_of_its_own_and_starts_it_again_if_it_dies(
    env: dict[str, str], one_worker_server: tuple[str, subprocess.Popen[str]]
) -> None:
    base, process = one_worker_server
    workers = children_running(process.pid, "api.projection_process")
    assert len(workers) == 1
    created = tally_json(env, "projects", "create", "acme")
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    os.kill(workers[0], 9)
    with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
        opened = http.post("/v1/accounts", json={"owner_ref": "a", "currency": "EUR"})
        assert opened.status_code == 201, opened.text
        deposit = http.post(
            f"/v1/accounts/{opened.json()['id']}/deposits", json={"amount": 7, "currency": "EUR"}
        )
        # Applied by the projection process serve starts again in the dead one's place
        # (until it has, the read answers 503 read_model_behind).
        deadline = time.monotonic() + 90
        while True:
            account = http.get(
                f"/v1/accounts/{opened.json()['id']}",
                params={"wait_for_position": deposit.headers["Tally-Position"]},
            )
            if account.status_code != 503 or time.monotonic() > deadline:
                break
        assert account.status_code == 200, account.text
        assert account.json()["ledger_balance"] == 7
    again = children_running(process.pid, "api.projection_process")
    assert len(again) == 1
    assert again != workers
    process.terminate()
    process.wait(timeout=30)
    assert children_running(process.pid, "api.projection_process") == []


def test_a_projection_process_whose_serve_is_gone_stops_at_once(env: dict[str, str]) -> None:
    # Started with a pid that is not its parent's, as when serve died while it started.
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "api.projection_process", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30

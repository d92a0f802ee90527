"""``tally webhooks`` (docs/events.md), end to end: the CLI (in the test's process, and
through the program in a process of its own in the first test), on the same database as
a test-mode project served through the API, against a real local
receiver that verifies every signature. The CLI's verbs run the routes' commands and
reads: what one writes the other reads, in the same shapes, with the same errors."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Tally
from tests.e2e.billing import customer
from tests.e2e.cli_run import cli as in_process
from tests.e2e.cli_run import cli_process
from tests.e2e.conftest import Client, make_client
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.webhook_sandbox import deposits, endpoint, hooks_http, hooks_tally, sandbox

__all__ = ["hooks_http", "hooks_tally", "sandbox"]  # the fixtures, used by name

TIMES = ("secret", "created_at", "updated_at")
Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(hooks_tally: Tally, pg_url: str, request: pytest.FixtureRequest) -> Cli:
    """``tally webhooks ARGS`` on the sandbox's database, with the server's secrets key
    (``secrets_key=False``: without one): in this process, or under
    ``@pytest.mark.cli_process`` in a process of its own (``tests/e2e/cli_run.py``)."""
    key = hooks_tally.settings.secrets_key
    assert key is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env |= {"TALLY_DATABASE_URL": pg_url, "TALLY_DB_SCHEMA": hooks_tally.schema}
    real = request.node.get_closest_marker("cli_process") is not None

    def run(*args: str, secrets_key: bool = True) -> subprocess.CompletedProcess[str]:
        extra = {"TALLY_SECRETS_KEY": key.get_secret_value()} if secrets_key else {}
        return (cli_process if real else in_process)(env | extra, "webhooks", *args)

    return run


def answer(cli: Cli, *args: str) -> Any:
    done = cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def same(written: dict[str, Any], read: dict[str, Any]) -> bool:
    """The same endpoint but for the secret and the read model's own times."""
    return {k: v for k, v in written.items() if k not in TIMES} == {
        k: v for k, v in read.items() if k not in TIMES
    }


def refusal(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command prints (exit code 1, nothing on stdout)."""
    assert (done.returncode, done.stdout) == (1, ""), (done.returncode, done.stdout)
    return done.stderr.strip()


@pytest.mark.cli_process  # the family's one test through the program
def test_the_cli_lists_attempts_and_redelivers(
    cli: Cli, sandbox: Client, receiver: Receiver
) -> None:
    endpoint(sandbox, receiver)
    customer(sandbox, "ada")
    sandbox.tally.webhooks.drain()
    at = ("--project", str(sandbox.project_id))
    listed = answer(cli, "deliveries", *at)
    assert listed == sandbox.ok(sandbox.get("/v1/webhook_deliveries"))["data"]
    assert [a["event_id"] for a in listed] == receiver.ids()
    again = answer(cli, "redeliver", listed[0]["id"], *at)
    assert again["redelivery"] is True
    assert receiver.ids() == [listed[0]["event_id"]] * 2


def test_the_cli_creates_updates_rotates_and_deletes_as_the_api_does(
    cli: Cli, sandbox: Client, receiver: Receiver
) -> None:
    at = ("--project", str(sandbox.project_id))
    events = "billing.wallet.deposited,billing.customer.created"
    made = answer(cli, "create", *at, "--url", receiver.url, "--enabled-events", events,
                  "--description", "billing service")  # fmt: skip
    assert made["secret"].startswith("whsec_")
    path = f"/v1/webhook_endpoints/{made['id']}"
    shown = sandbox.ok(sandbox.get(path))
    # The API's shape; a write answers what its command knows, as the API's own create
    # does: the read model's created_at and updated_at are null there.
    assert set(made) == {*shown, "secret"}
    assert same(made, shown)
    assert shown["enabled_events"] == sorted(events.split(","))
    assert answer(cli, "show", made["id"], *at) == shown  # never the secret
    receiver.secret = made["secret"]  # the secret printed is the one that signs
    deposits(sandbox, 1)
    sandbox.tally.webhooks.drain()
    assert [e["type"] for e in receiver.received] == ["billing.wallet.deposited"]

    off = answer(cli, "update", made["id"], *at, "--status", "disabled", "--description", "x")
    assert (off["status"], off["description"]) == ("disabled", "x")
    assert same(sandbox.ok(sandbox.get(path)), off)
    on = answer(cli, "update", made["id"], *at, "--status", "enabled", "--enabled-events", "*")
    assert (on["status"], on["enabled_events"], on["description"]) == ("enabled", ["*"], "x")

    rotated = cli("rotate-secret", made["id"], *at, "--previous-expires-in-s", "3600")
    assert rotated.returncode == 0, rotated.stderr
    new_secret = rotated.stdout.split("secret  ")[1].split()[0]
    assert new_secret.startswith("whsec_")
    assert new_secret != made["secret"]
    assert rotated.stdout.count(new_secret) == 1
    assert new_secret not in rotated.stderr
    assert "the previous secret signs too until" in rotated.stdout
    receiver.secret = new_secret
    deposits(sandbox, 1)
    sandbox.tally.webhooks.drain()
    assert len(receiver.headers[-1]["webhook-signature"].split(" ")) == 2  # both secrets

    gone = answer(cli, "delete", made["id"], *at)
    assert gone["status"] == "deleted"
    assert answer(cli, "endpoints", *at) == []
    assert sandbox.ok(sandbox.get("/v1/webhook_endpoints"))["data"] == []


def test_the_cli_refuses_what_the_api_refuses_with_the_same_codes(
    cli: Cli, sandbox: Client, receiver: Receiver, hooks_http: TestClient
) -> None:
    at = ("--project", str(sandbox.project_id))
    unknown = str(uuid4())
    missing = refusal(cli("update", unknown, *at, "--status", "disabled"))
    assert missing.startswith("tally: not_found: ")
    assert unknown in missing
    assert "not_found" in refusal(cli("show", unknown, *at))
    assert "not_found" in refusal(cli("deliveries", *at, "--endpoint-id", unknown))
    assert "not_found" in refusal(cli("redeliver", unknown, *at))
    assert "not_found" in refusal(cli("create", "--project", unknown, "--url", receiver.url))
    bad_type = cli("create", *at, "--url", receiver.url, "--enabled-events", "billing.nope.x")
    assert "validation_error" in refusal(bad_type)
    assert "validation_error" in refusal(cli("create", *at, "--url", "ftp://example.com"))
    no_key = cli("create", *at, "--url", receiver.url, secrets_key=False)
    assert "secret_storage_disabled" in refusal(no_key)
    live = make_client(hooks_http, sandbox.tally, "live")
    private = cli("create", "--project", str(live.project_id), "--url", receiver.url)
    assert "webhook_url_not_allowed" in refusal(private)
    assert answer(cli, "endpoints", *at) == []  # nothing was written

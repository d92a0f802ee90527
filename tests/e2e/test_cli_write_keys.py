"""The CLI's writes take an idempotency key as the routes take ``Idempotency-Key``, and
``tally webhooks`` answers a missing project's not_found first (review1 finding 11): a
``webhooks create`` retried with the key printed by the attempt makes one endpoint and one
secret, and every verb on an unknown project says so instead of answering an empty list."""

from __future__ import annotations

import json
import re
from uuid import UUID

import pytest
from cryptography.fernet import Fernet

from tests.e2e.conftest import Client
from tests.e2e.test_catalog_load import cli, env, project
from tests.e2e.test_webhooks_cli import Cli, answer, refusal
from tests.e2e.test_webhooks_cli import cli as webhooks_cli
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.webhook_sandbox import hooks_http, hooks_tally, sandbox

__all__ = ["env", "hooks_http", "hooks_tally", "project", "sandbox", "webhooks_cli"]
KEY_HINT = re.compile(r"--idempotency-key (cli-[0-9a-f-]{36})")


def test_every_webhooks_verb_answers_a_missing_projects_not_found(
    webhooks_cli: Cli, sandbox: Client
) -> None:
    unknown = ("--project", str(UUID(int=7)))
    endpoint = str(UUID(int=8))
    for verb in (("endpoints",), ("show", endpoint), ("deliveries",), ("redeliver", endpoint),
                 ("delete", endpoint), ("rotate-secret", endpoint)):  # fmt: skip
        line = refusal(webhooks_cli(*verb, *unknown)).splitlines()[0]
        assert line.startswith(f"tally: not_found: project {UUID(int=7)}"), (verb, line)


@pytest.mark.cli_process  # the family's one test through the program
def test_a_webhooks_create_retried_under_its_key_makes_one_endpoint(
    webhooks_cli: Cli, sandbox: Client, receiver: Receiver
) -> None:
    at = ("--project", str(sandbox.project_id), "--url", receiver.url)
    failed = webhooks_cli("create", *at, secrets_key=False)
    assert failed.returncode == 1
    hint = KEY_HINT.search(failed.stderr)
    assert hint is not None, failed.stderr
    assert failed.stderr.index("secret_storage_disabled") < hint.start()  # the error first
    first = answer(webhooks_cli, "create", *at, "--idempotency-key", hint.group(1))
    again = answer(webhooks_cli, "create", *at, "--idempotency-key", hint.group(1))
    assert (again["id"], again["secret"]) == (first["id"], first["secret"])
    assert [e["id"] for e in answer(webhooks_cli, "endpoints", *at[:2])] == [first["id"]]
    other = webhooks_cli("create", *at, "--description", "x", "--idempotency-key", hint.group(1))
    assert "idempotency_key_reused" in refusal(other).splitlines()[0]


def test_a_payment_provider_set_under_a_key_is_written_once(
    env: dict[str, str], project: str
) -> None:
    sealed = {**env, "TALLY_SECRETS_KEY": Fernet.generate_key().decode(), "HOOK": "w" * 40}
    args = (
        "payment-provider", "set", "--project", project, "--provider", "stub",
        "--credentials-from-env", "webhook_secret=HOOK", "--idempotency-key", "k-1",
    )  # fmt: skip
    done = [cli(sealed, *args, "--json") for _ in range(2)]
    assert [d.returncode for d in done] == [0, 0], done[1].stderr
    assert json.loads(done[0].stdout) == json.loads(done[1].stdout)
    other = cli(sealed, *args, "--api-base", "https://example.com")  # the key, another body
    assert "idempotency_key_reused" in other.stderr.splitlines()[0]
    unknown = cli(sealed, *args[:2], "--project", str(UUID(int=9)), *args[4:])
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("tally: not_found: project ")
    assert "--idempotency-key k-1" in unknown.stderr  # the key to retry with

"""``tally payment-provider set|show`` (docs/providers.md): the same command, checks and
answer as ``/v1/payment_provider``; a stored secret is read from the command's
environment, never from its arguments, and never printed."""

from __future__ import annotations

import json
from uuid import UUID

from cryptography.fernet import Fernet

from tests.e2e.test_catalog_load import cli, cli_process, env, project

__all__ = ["env", "project"]  # fixtures used by name below


def test_set_and_show_a_provider_with_a_stored_secret(env: dict[str, str], project: str) -> None:
    at = ("--project", project)
    before = cli_process(env, "payment-provider", "show", *at, "--json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["project_specific"] is False
    secret = "whsec_" + "s" * 32
    sealed = {**env, "TALLY_SECRETS_KEY": Fernet.generate_key().decode(), "HOOK": secret}
    done = cli_process(sealed, "payment-provider", "set", *at, "--provider", "stub",
               "--credentials-from-env", "webhook_secret=HOOK", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["provider"], shown["project_specific"]) == ("stub", True)
    assert shown["credentials"] == {"webhook_secret": "encrypted"}
    again = cli_process(sealed, "payment-provider", "show", *at)
    assert again.returncode == 0, again.stderr
    assert "webhook_secret" in again.stdout
    assert secret not in done.stdout + done.stderr + again.stdout + again.stderr


def test_refusals_are_the_routes(env: dict[str, str], project: str) -> None:
    at = ("--project", project)
    no_key = cli({**env, "HOOK": "x" * 40}, "payment-provider", "set", *at,
                 "--provider", "stub", "--credentials-from-env", "webhook_secret=HOOK")  # fmt: skip
    assert no_key.returncode == 1
    assert "secret_storage_disabled" in no_key.stderr
    unset = cli(env, "payment-provider", "set", *at, "--provider", "stripe",
                "--credential-env", "api_key=TALLY_TEST_UNSET_VARIABLE")  # fmt: skip
    assert unset.returncode != 0
    assert "TALLY_TEST_UNSET_VARIABLE" in unset.stderr
    unknown = cli(env, "payment-provider", "show", "--project", str(UUID(int=9)))
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("tally: not_found: project ")
    shown = cli(env, "payment-provider", "show", *at, "--json")
    assert json.loads(shown.stdout)["project_specific"] is False  # nothing was recorded

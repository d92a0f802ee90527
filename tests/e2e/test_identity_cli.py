"""``tally identity-provider set|show`` (issue 14): the same command as
``PUT /v1/identity_provider``, the shared secret read from an environment variable and
never printed."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet

from tests.e2e.test_catalog_load import cli, cli_process, env, project

__all__ = ["env", "project"]  # fixtures used by name below


def test_set_and_show_a_jwks_provider(env: dict[str, str], project: str) -> None:
    unset = cli(env, "identity-provider", "show", "--project", project)
    assert (unset.returncode, unset.stdout) == (1, "")  # as the route's 404, nothing shown
    assert unset.stderr.startswith(f"tally: not_found: identity provider of project {project}")
    done = cli(
        env, "identity-provider", "set", "--project", project,
        "--jwks-url", "https://idp.example.com/.well-known/jwks.json",
        "--issuer", "https://idp.example.com/", "--audience", "billing",
        "--algorithms", "RS256,ES256", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["algorithms"] == ["ES256", "RS256"]
    shown = cli(env, "identity-provider", "show", "--project", project, "--json")
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert (found["kind"], found["audience"]) == ("jwks", "billing")


def test_a_shared_secret_comes_from_the_environment_and_is_never_shown(
    env: dict[str, str], project: str
) -> None:
    secret = "x" * 40
    sealed = {**env, "TALLY_SECRETS_KEY": Fernet.generate_key().decode(), "IDP_SECRET": secret}
    args = ("--issuer", "me", "--audience", "tally", "--algorithms", "HS256", "--json")
    done = cli_process(
        sealed, "identity-provider", "set", "--project", project,
        "--shared-secret-env", "IDP_SECRET", *args,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["shared_secret_set"] is True
    shown = cli_process(sealed, "identity-provider", "show", "--project", project, "--json")
    assert secret not in done.stdout + shown.stdout + done.stderr + shown.stderr
    # An HMAC secret with an RSA algorithm is refused, nothing recorded.
    wrong = cli_process(
        sealed, "identity-provider", "set", "--project", project,
        "--shared-secret-env", "IDP_SECRET", "--issuer", "me", "--audience", "tally",
        "--algorithms", "RS256",
    )  # fmt: skip
    assert wrong.returncode == 1
    assert "accepts only" in wrong.stdout + wrong.stderr

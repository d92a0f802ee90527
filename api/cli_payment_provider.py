"""``tally payment-provider set|show``: a project's payment provider (docs/providers.md),
the same command, checks and answer as ``POST``/``GET /v1/payment_provider`` (and the
operator API's ``/v1/projects/{id}/payment_provider``).

``--credential-env PURPOSE=NAME`` is the body's ``credential_env``: the server reads the
variable NAME when it builds the provider. ``--credentials-from-env PURPOSE=NAME`` is
its ``credentials``: the secret is the value of NAME in this command's own environment,
stored encrypted with TALLY_SECRETS_KEY; it is never taken from the command line, where
``ps`` would show it, and never printed. As the route does, the provider is built from
the settings before anything is recorded, here with this command's environment.

Both verbs answer the project's not_found first for a project that does not exist, and
``set`` takes ``--idempotency-key`` as the route takes ``Idempotency-Key`` (without one, a
key made per invocation, printed if the write fails)."""

from __future__ import annotations

import argparse
import os
from typing import Any, get_args
from uuid import UUID

from adapters.providers.config import ProviderName
from api.cli_session import (
    EXIT_OK,
    CannotStart,
    add_idempotency_key,
    emit,
    opened,
    run,
    sync_read_models,
    write_key,
)


def _pairs(raw: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in raw:
        purpose, sep, name = item.partition("=")
        if not sep or not purpose or not name:
            raise CannotStart(f"{option} takes PURPOSE=NAME (e.g. api_key=ACME_KEY), not {item!r}")
        pairs[purpose] = name
    return pairs


def _secrets(raw: list[str]) -> dict[str, str]:
    """Each PURPOSE=NAME as PURPOSE: the value of NAME here (never echoed)."""
    found: dict[str, str] = {}
    for purpose, name in _pairs(raw, "--credentials-from-env").items():
        value = os.environ.get(name)
        if not value:
            raise CannotStart(f"the environment variable {name} is not set")
        found[purpose] = value
    return found


def _lines(shown: dict[str, Any]) -> list[str]:
    own = "this project's" if shown["project_specific"] else "the server's default"
    return [f"{shown['provider']}  ({own})"] + [
        f"  {purpose:<15} {source}" for purpose, source in sorted(shown["credentials"].items())
    ]


def cmd_provider_set(args: argparse.Namespace) -> int:
    from api.routes.payment_provider import configure_command, shown_settings
    from api.routes.projects import require_project
    from api.schemas.payment_provider import ProviderSettingsRequest

    body = ProviderSettingsRequest.model_validate(
        {
            "provider": args.provider,
            "credential_env": _pairs(args.credential_env, "--credential-env"),
            "credentials": _secrets(args.credentials_from_env),
            "api_base": args.api_base,
        }
    )
    with write_key(args) as key, opened() as tally:
        require_project(tally, args.project)
        outcome = run(tally, configure_command(tally, body), args.project, key)
        sync_read_models(tally, outcome.position, ("payments",))
        shown = shown_settings(tally, args.project).payment_provider
    emit(args, shown, _lines(shown))
    return EXIT_OK


def cmd_provider_show(args: argparse.Namespace) -> int:
    from api.routes.payment_provider import shown_settings
    from api.routes.projects import require_project

    with opened() as tally:
        require_project(tally, args.project)  # as the operator API: 404 before reading
        sync_read_models(tally, None, ("payments",))
        shown = shown_settings(tally, args.project).payment_provider
    emit(args, shown, _lines(shown))
    return EXIT_OK


def add_payment_provider_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser(
        "payment-provider", help="the payment provider a project's payments go through"
    ).add_subparsers(dest="action", required=True)
    set_ = group.add_parser("set", help="choose it (replaces the whole setting)", parents=[common])
    set_.add_argument(
        "--provider", required=True, choices=sorted(get_args(ProviderName)),
        help="the provider",
    )  # fmt: skip
    set_.add_argument(
        "--credential-env", action="append", default=[], metavar="PURPOSE=NAME",
        help="a credential the server reads from its variable NAME (repeatable)",
    )  # fmt: skip
    set_.add_argument(
        "--credentials-from-env", action="append", default=[], metavar="PURPOSE=NAME",
        help="a credential stored encrypted: the value of NAME here (repeatable)",
    )  # fmt: skip
    set_.add_argument("--api-base", default="", help="another API address (a provider's test)")
    add_idempotency_key(set_)
    set_.set_defaults(func=cmd_provider_set)
    show = group.add_parser("show", help="show it (never a secret)", parents=[common])
    show.set_defaults(func=cmd_provider_show)
    for action in (set_, show):
        action.add_argument("--project", type=UUID, required=True, help="the project's id")

"""``tally identity-provider set|show``: a project's identity provider for customer tokens
(docs/access.md), the same command as ``PUT /v1/identity_provider``. A shared secret is
read from an environment variable, never from the command line (where ``ps`` shows it)."""

from __future__ import annotations

import argparse
import os
from typing import Any
from uuid import UUID

from pydantic import SecretStr

from commands import identity_messages as im
from commands.bus import Context
from commands.provider_config import NO_SECRETS_KEY
from domain.provider_settings import SecretStorageDisabled


def cmd_identity_set(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, CannotStart, emit, opened

    secret = None
    if args.shared_secret_env:
        secret = os.environ.get(args.shared_secret_env)
        if not secret:
            raise CannotStart(f"the environment variable {args.shared_secret_env} is not set")
    with opened() as tally:
        digest = ""
        if secret is not None:
            box = tally.providers.secrets
            if box is None:
                raise SecretStorageDisabled(NO_SECRETS_KEY)
            digest = box.digest({"shared_secret": secret})
        command = im.ConfigureIdentityProvider(
            kind="shared_secret" if secret is not None else "jwks",
            jwks_url=args.jwks_url,
            shared_secret=None if secret is None else SecretStr(secret),
            shared_secret_digest=digest,
            issuer=args.issuer,
            audience=args.audience,
            algorithms=args.algorithms.split(","),
            customer_claim=args.claim,
            unknown_customer=args.unknown_customer,
            register_currency=args.register_currency,
        )
        outcome = tally.execute(command, Context(args.project, "cli"))
    shown = outcome.body["identity_provider"]
    emit(args, shown, [_line(shown)])
    return EXIT_OK


def cmd_identity_show(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
    from domain.errors import NotFound
    from projections.identity_providers import get_identity_provider

    with opened() as tally:
        sync_read_models(tally)
        row = get_identity_provider(tally.views, tally.schema, args.project)
    if row is None:  # the route's refusal: 404 before one is set
        what = f"identity provider of project {args.project}"
        raise NotFound(f"{what} not found", id=str(args.project))
    emit(args, row, [_line(row)])
    return EXIT_OK


def _line(shown: dict[str, Any]) -> str:
    source = shown.get("jwks_url") or "shared secret (stored encrypted)"
    return (
        f"{shown['kind']}  {source}  iss={shown['issuer']}  aud={shown['audience']}  "
        f"alg={','.join(shown['algorithms'])}  claim={shown['customer_claim']}  "
        f"unknown_customer={shown['unknown_customer']}"
    )


def add_identity_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser(
        "identity-provider", help="the identity provider that signs a project's customer tokens"
    ).add_subparsers(dest="action", required=True)
    set_ = group.add_parser("set", help="set (replace) it", parents=[common])
    source = set_.add_mutually_exclusive_group(required=True)
    source.add_argument("--jwks-url", default=None, help="its JWKS URL (https)")
    source.add_argument(
        "--shared-secret-env", default=None, metavar="NAME", help="the variable holding its secret"
    )
    set_.add_argument("--issuer", required=True, help="the iss tokens carry")
    set_.add_argument("--audience", required=True, help="a value their aud holds")
    set_.add_argument("--algorithms", required=True, help="comma separated, e.g. RS256")
    set_.add_argument("--claim", default="sub", help="the claim naming the external id")
    set_.add_argument(
        "--unknown-customer",
        choices=("refuse", "register"),
        default="refuse",
        help="a token naming an unknown customer: refused (401) or registered",
    )
    set_.add_argument("--register-currency", default=None, help="with --unknown-customer register")
    set_.set_defaults(func=cmd_identity_set)
    show = group.add_parser("show", help="show it (never the secret)", parents=[common])
    show.set_defaults(func=cmd_identity_show)
    for action in (set_, show):
        action.add_argument("--project", type=UUID, required=True, help="the project's id")

"""``tally secrets new-key|reseal``: make a Fernet key for ``TALLY_SECRETS_KEY``, and
re-encrypt every project's stored provider credentials with the newest key after a
rotation, so the older keys can be dropped (docs/operations.md)."""

from __future__ import annotations

import argparse
from typing import Any

from cryptography.fernet import Fernet


def cmd_secrets_new_key(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit

    key = Fernet.generate_key().decode()
    emit(args, {"key": key}, [key])
    return EXIT_OK


def cmd_secrets_reseal(args: argparse.Namespace) -> int:
    from adapters.secrets import SecretBox
    from api.cli_session import (
        EXIT_OK,
        EXIT_REFUSED,
        CannotStart,
        emit,
        load_settings,
        opened,
        run,
        sync_read_models,
    )
    from commands.provider_config import ResealProviderCredentials
    from projections.api_keys import list_projects

    settings = load_settings()
    if settings.secrets_key is None:
        raise CannotStart("TALLY_SECRETS_KEY is not set: there is no key to reseal with")
    box = SecretBox.from_setting(settings.secrets_key.get_secret_value())
    assert box is not None
    projects: list[dict[str, Any]] = []
    with opened(settings) as tally:
        sync_read_models(tally)
        for project in list_projects(tally.views, tally.schema):
            outcome = run(tally, ResealProviderCredentials(), project["id"])
            projects.append({"project_id": str(project["id"]), **outcome.body})
    touched = [p for p in projects if p["resealed"] or p["unreadable"] or p["kept"]]
    lines = [f"newest key {box.primary_key_id}"]
    for p in touched:
        lines.append(
            f"{p['project_id']}  resealed {', '.join(p['resealed']) or '-'}; "
            f"already under the newest key: {p['kept']}"
        )
        lines += [f"  {purpose}: {why}" for purpose, why in p["unreadable"].items()]
    failed = sum(len(p["unreadable"]) for p in projects)
    resealed = sum(len(p["resealed"]) for p in projects)
    lines.append(f"{resealed} secrets resealed, {failed} could not be decrypted")
    data = {"key_id": box.primary_key_id, "projects": touched, "unreadable": failed}
    emit(args, data, lines)
    # An unreadable secret needs an older key back (or the project to send it again):
    # dropping keys now would break that project, so say so in the exit code.
    return EXIT_REFUSED if failed else EXIT_OK


def add_secrets_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    secrets = sub.add_parser(
        "secrets", help="the keys that encrypt stored provider credentials"
    ).add_subparsers(dest="action", required=True)
    new_key = secrets.add_parser(
        "new-key", help="print a new Fernet key for TALLY_SECRETS_KEY", parents=[common]
    )
    new_key.set_defaults(func=cmd_secrets_new_key)
    reseal = secrets.add_parser(
        "reseal",
        help="re-encrypt every project's stored credentials with the newest key",
        parents=[common],
    )
    reseal.set_defaults(func=cmd_secrets_reseal)

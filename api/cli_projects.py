"""``tally projects`` and ``tally keys``: create and list projects, issue, list and revoke
their API keys."""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID

from api.cli_session import EXIT_OK, emit, opened, run, sync_read_models
from api.cli_shapes import as_object
from commands import messages as m

KEY_MODELS = ("api_keys",)  # the read model of projects and keys


def cmd_projects_create(args: argparse.Namespace) -> int:
    with opened() as tally:
        project = run(tally, m.CreateProject(name=args.name, mode=args.mode))
        project_id = UUID(project.body["project"]["id"])
        key = run(tally, m.IssueApiKey(project_id=project_id, label=args.label), project_id)
        sync_read_models(tally, key.position, KEY_MODELS)
    data = {
        **as_object(project.body["project"], "project"),
        "key_id": key.body["key_id"],
        "api_key": key.body["secret"],
    }
    emit(
        args,
        data,
        [
            f"project_id  {data['id']}",
            f"name        {data['name']}",
            f"mode        {data['mode']}",
            f"key_id      {data['key_id']}",
            f"api_key     {data['api_key']}",
            "Store the API key now: Tally keeps only its hash and cannot show it again.",
        ],
    )
    return EXIT_OK


def cmd_projects_list(args: argparse.Namespace) -> int:
    from projections.api_keys import list_projects

    with opened() as tally:
        sync_read_models(tally, needs=KEY_MODELS)
        rows = [as_object(row, "project") for row in list_projects(tally.views, tally.schema)]
    emit(args, rows, [f"{r['id']}  {r['mode']:<4}  {r['name']}" for r in rows])
    return EXIT_OK


def cmd_keys_list(args: argparse.Namespace) -> int:
    from projections.api_keys import list_keys

    with opened() as tally:
        sync_read_models(tally, needs=KEY_MODELS)
        found = list_keys(tally.views, tally.schema, args.project)
    rows = [as_object(row, "api_key") for row in found]
    lines = [
        f"{r['key_id']}  {r['prefix']}...  {'revoked' if r['revoked'] else 'active ':<7}  "
        f"{r['label']}"
        for r in rows
    ]
    emit(args, rows, lines)
    return EXIT_OK


def cmd_keys_create(args: argparse.Namespace) -> int:
    with opened() as tally:
        key = run(tally, m.IssueApiKey(project_id=args.project, label=args.label), args.project)
        sync_read_models(tally, key.position, KEY_MODELS)
    data = {"object": "api_key", "project_id": str(args.project), "key_id": key.body["key_id"]}
    data["api_key"] = key.body["secret"]
    emit(
        args,
        data,
        [
            f"key_id   {data['key_id']}",
            f"api_key  {data['api_key']}",
            "Store the API key now: Tally keeps only its hash and cannot show it again.",
        ],
    )
    return EXIT_OK


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    with opened() as tally:
        out = run(tally, m.RevokeApiKey(project_id=args.project, key_id=args.key_id), args.project)
        # A revocation counts from its commit (projections/api_keys.py), stalled or not.
        sync_read_models(tally, out.position)
    emit(args, out.body, [f"revoked {args.key_id}"])
    return EXIT_OK


def add_project_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    projects = sub.add_parser("projects", help="projects (tenants)").add_subparsers(
        dest="action", required=True
    )
    create = projects.add_parser(
        "create", help="create a project and its first API key", parents=[common]
    )
    create.add_argument("name", help="the project's name (at most 100 characters)")
    create.add_argument(
        "--mode",
        choices=["live", "test"],
        default="live",
        help="test allows test clocks and test cards (default: live)",
    )
    create.add_argument("--label", default="default", help="label of the first key")
    create.set_defaults(func=cmd_projects_create)
    listing = projects.add_parser("list", help="list projects", parents=[common])
    listing.set_defaults(func=cmd_projects_list)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    for name, func, helptext in (
        ("list", cmd_keys_list, "list a project's keys (never their secrets)"),
        ("create", cmd_keys_create, "issue a new key; its secret is shown once"),
        ("revoke", cmd_keys_revoke, "revoke a key at once"),
    ):
        action = keys.add_parser(name, help=helptext, parents=[common])
        action.add_argument("--project", type=UUID, required=True, help="the project's id")
        if name == "create":
            action.add_argument("--label", default="", help="a name for the key (optional)")
        if name == "revoke":
            action.add_argument("key_id", help="the key's id (tally keys list)")
        action.set_defaults(func=func)

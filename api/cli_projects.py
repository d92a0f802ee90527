"""``tally projects`` and ``tally keys``: create, list, show and update projects and their
rate limits; issue, list, rotate and revoke their API keys. The operator API
(``/v1/projects``) runs the same commands."""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID

from api.cli_operator import add_operator_commands
from api.cli_session import EXIT_OK, emit, opened, run, sync_read_models
from api.cli_shapes import as_object
from commands import messages as m
from commands import operator_messages as om
from domain.errors import NotFound

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


def _project_lines(data: dict[str, Any]) -> list[str]:
    limits = data.get("rate_limits") or {}
    return [
        f"project_id        {data['id']}",
        f"name              {data['name']}",
        f"mode              {data['mode']}",
        f"default_currency  {data.get('default_currency') or '-'}",
        *(f"rate_limit        {k} {v['requests']}/{v['window_s']}s" for k, v in limits.items()),
    ]


def cmd_projects_show(args: argparse.Namespace) -> int:
    from projections.api_keys import get_project

    with opened() as tally:
        sync_read_models(tally, needs=KEY_MODELS)
        row = get_project(tally.views, tally.schema, args.project)
    if row is None:
        raise NotFound(f"project {args.project} not found", id=str(args.project))
    data = as_object(row, "project")
    emit(args, data, _project_lines(data))
    return EXIT_OK


def cmd_projects_update(args: argparse.Namespace) -> int:
    command = om.UpdateProject(
        project_id=args.project, name=args.name, mode=args.mode, default_currency=args.currency
    )
    with opened() as tally:
        out = run(tally, command, args.project)
    data = as_object(out.body["project"], "project")
    emit(args, data, _project_lines(data))
    return EXIT_OK


def rate_policy(text: str) -> dict[str, int] | None:
    """``REQUESTS/WINDOW_S`` (``100/1``; ``100`` is per second), or ``default`` (None)."""
    if text == "default":
        return None
    requests, _, window = text.partition("/")
    if not requests.isdigit() or not (window or "1").isdigit():
        raise argparse.ArgumentTypeError("REQUESTS/WINDOW_S (e.g. 100/1) or default")
    return {"requests": int(requests), "window_s": int(window or "1")}


def cmd_projects_limits(args: argparse.Namespace) -> int:
    named: dict[str, Any] = {
        kind: getattr(args, kind)
        for kind in ("api_key", "customer", "webhook")
        if hasattr(args, kind)
    }
    command = om.SetRateLimits.model_validate({"project_id": args.project, "rate_limits": named})
    with opened() as tally:
        out = run(tally, command, args.project)
    data = as_object(out.body["project"], "project")
    emit(args, data, _project_lines(data))
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


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    command = om.RotateApiKey(
        project_id=args.project, key_id=args.key_id, overlap_s=args.overlap, label=args.label
    )
    with opened() as tally:
        key = run(tally, command, args.project)
        sync_read_models(tally, key.position, KEY_MODELS)
    rotated = key.body["rotated"]
    data = {"object": "api_key", "project_id": str(args.project), "key_id": key.body["key_id"]}
    data["api_key"] = key.body["secret"]
    data["rotated"] = {"key_id": rotated["key_id"], "expires_at": rotated["expires_at"]}
    emit(
        args,
        data,
        [
            f"key_id   {data['key_id']}",
            f"api_key  {data['api_key']}",
            f"{rotated['key_id']} is refused from {rotated['expires_at'].isoformat()}",
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
    _add_project_changes(projects, common)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    for name, func, helptext in (
        ("list", cmd_keys_list, "list a project's keys (never their secrets)"),
        ("create", cmd_keys_create, "issue a new key; its secret is shown once"),
        ("revoke", cmd_keys_revoke, "revoke a key at once"),
        ("rotate", cmd_keys_rotate, "issue a new key; the old one works until --overlap ends"),
    ):
        action = keys.add_parser(name, help=helptext, parents=[common])
        action.add_argument("--project", type=UUID, required=True, help="the project's id")
        if name == "create":
            action.add_argument("--label", default="", help="a name for the key (optional)")
        if name in ("revoke", "rotate"):
            action.add_argument("key_id", help="the key's id (tally keys list)")
        if name == "rotate":
            action.add_argument(
                "--overlap", type=int, default=86_400, help="seconds the old key keeps working"
            )
            action.add_argument("--label", default="", help="the new key's label")
        action.set_defaults(func=func)
    add_operator_commands(sub, common)


def _add_project_changes(projects: Any, common: argparse.ArgumentParser) -> None:
    show = projects.add_parser("show", help="one project", parents=[common])
    show.add_argument("project", type=UUID, help="the project's id")
    show.set_defaults(func=cmd_projects_show)
    update = projects.add_parser(
        "update", help="change a project's name, mode or default currency", parents=[common]
    )
    update.add_argument("project", type=UUID, help="the project's id")
    update.add_argument("--name", help="the new name")
    update.add_argument("--mode", choices=["live", "test"], help="the new mode")
    update.add_argument("--currency", help="the default currency (ISO 4217)")
    update.set_defaults(func=cmd_projects_update)
    limits = projects.add_parser(
        "limits",
        help="set a project's rate limits: REQUESTS/WINDOW_S per kind, or 'default'",
        parents=[common],
    )
    limits.add_argument("project", type=UUID, help="the project's id")
    for kind in ("api_key", "customer", "webhook"):
        limits.add_argument(
            f"--{kind.replace('_', '-')}",
            dest=kind,
            type=rate_policy,
            default=argparse.SUPPRESS,  # left out: the kind keeps what it has
            help="REQUESTS/WINDOW_S, e.g. 100/1, or default",
        )
    limits.set_defaults(func=cmd_projects_limits)

"""``tally operator keys create|list|revoke``: the operator's keys (issue 14), which call the
operator API (``/v1/projects``) and nothing else."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli_session import EXIT_OK, emit, opened, run
from api.operator_auth import operator_keys
from commands import operator_messages as om
from domain.operators import OPERATOR_ID


def cmd_operator_keys_create(args: argparse.Namespace) -> int:
    with opened() as tally:
        key = run(tally, om.IssueOperatorKey(label=args.label), OPERATOR_ID)
    data = {"object": "operator_key", "key_id": key.body["key_id"], "label": args.label}
    data["operator_key"] = key.body["secret"]
    emit(
        args,
        data,
        [
            f"key_id        {data['key_id']}",
            f"operator_key  {data['operator_key']}",
            "Store the operator key now: Tally keeps only its hash and cannot show it again.",
        ],
    )
    return EXIT_OK


def cmd_operator_keys_list(args: argparse.Namespace) -> int:
    with opened() as tally:
        keys = operator_keys(tally)
    rows = [
        {
            "object": "operator_key",
            "key_id": key_id,
            "prefix": info.prefix,
            "label": info.label,
            "revoked": info.revoked,
        }
        for key_id, info in keys.items()
    ]
    lines = [
        f"{r['key_id']}  {r['prefix']}...  {'revoked' if r['revoked'] else 'active ':<7}  "
        f"{r['label']}"
        for r in rows
    ]
    emit(args, rows, lines)
    return EXIT_OK


def cmd_operator_keys_revoke(args: argparse.Namespace) -> int:
    with opened() as tally:
        out = run(tally, om.RevokeOperatorKey(key_id=args.key_id), OPERATOR_ID)
    emit(args, out.body, [f"revoked {args.key_id}"])
    return EXIT_OK


def add_operator_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    operator = sub.add_parser("operator", help="the operator's keys (operator API)")
    keys = operator.add_subparsers(dest="area", required=True).add_parser(
        "keys", help="operator keys: they call /v1/projects and nothing else"
    )
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", help="issue an operator key; its secret is shown once", parents=[common]
    )
    create.add_argument("--label", default="", help="a name for the key (optional)")
    create.set_defaults(func=cmd_operator_keys_create)
    listing = actions.add_parser(
        "list", help="list operator keys (never their secrets)", parents=[common]
    )
    listing.set_defaults(func=cmd_operator_keys_list)
    revoke = actions.add_parser("revoke", help="revoke an operator key at once", parents=[common])
    revoke.add_argument("key_id", help="the key's id (tally operator keys list)")
    revoke.set_defaults(func=cmd_operator_keys_revoke)

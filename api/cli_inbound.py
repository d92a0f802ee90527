"""``tally broker queues``: each project's command queue and dead-letter queue (issue 12,
commands in), and the broker permission that lets a product write to its project's
queue only (docs/events.md, "Trust model: the project is the queue"). ``tally serve``
declares the queues; this tells the operator their names and what to grant."""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID

from api.inbound import queues


def grants(project_id: UUID, user: str = "product") -> dict[str, str]:
    """What to run so that the broker user ``user`` may send commands to this project
    and to no other: RabbitMQ write permission on its exchange, a Redis ACL on its
    stream."""
    name = queues.queue_name(project_id)
    pattern = "^" + name.replace(".", "\\.") + "$"
    return {
        "rabbitmq": f"rabbitmqctl set_permissions -p / {user} '' '{pattern}' ''",
        "redis": f"ACL SETUSER {user} on >PASSWORD resetkeys ~{name} resetchannels -@all +xadd",
    }


def queue_row(project: dict[str, Any]) -> dict[str, Any]:
    project_id = UUID(str(project["id"]))
    return {
        "project_id": str(project_id),
        "name": project["name"],
        "queue": queues.queue_name(project_id),
        "dead_letter_queue": queues.dead_letter_name(project_id),
        "grant": grants(project_id),
    }


def cmd_broker_queues(args: argparse.Namespace) -> int:
    from api.cli_session import EXIT_OK, emit, opened, sync_read_models
    from projections.api_keys import list_projects

    with opened() as tally:
        sync_read_models(tally, needs=("api_keys",))
        projects = list_projects(tally.views, tally.schema)
        kind = tally.settings.broker_target()
    rows = [queue_row(p) for p in projects if args.project in (None, UUID(str(p["id"])))]
    lines = []
    for row in rows:
        lines.append(f"{row['project_id']}  {row['queue']}  (dead letters: .dead)")
        for broker, line in row["grant"].items():
            if kind is None or (kind.kind == "rabbit") == (broker == "rabbitmq"):
                lines.append(f"    {line}")
    emit(args, rows, lines)
    return EXIT_OK


def add_queue_commands(broker: Any, common: argparse.ArgumentParser) -> None:
    listed = broker.add_parser(
        "queues",
        help="each project's command queue and the permission a producer needs",
        parents=[common],
    )
    listed.add_argument("--project", type=UUID, default=None, help="only this project")
    listed.set_defaults(func=cmd_broker_queues)

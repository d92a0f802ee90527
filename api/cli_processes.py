"""The ``tally`` commands that run Tally's processes rather than one command: ``serve``
(the HTTP API, with the projection process beside it), ``projections run|status``,
``scheduler run`` and ``replay`` (rebuild the read models and compare). ``api/cli.py``
adds them to the parser."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from adapters.database import check, parse, start_embedded
from api.cli_session import (
    EXIT_OK,
    EXIT_REFUSED,
    CannotStart,
    emit,
    load_settings,
    opened,
    sync_read_models,
    wait_for_signal,
)
from api.tally import Tally


def warn_uncollectable(tally: Tally) -> None:
    """One warning per project whose subscriptions or open invoices nothing collects."""
    from projections.billing_setup import billing_without_collection

    for project in billing_without_collection(tally.views, tally.schema):
        logging.getLogger("tally.collection").warning(
            "project %s (%s) bills %d subscription(s) and has %d open invoice(s) but no "
            "auto_charge_provider: Tally charges none of its invoices; set one "
            "(POST /v1/billing_settings) or record payments (POST /v1/invoices/{id}/pay)",
            project["id"],
            project["name"],
            project["subscriptions"],
            project["open_invoices"],
        )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings(host=args.host, port=args.port, workers=args.workers)
    # As the app logs (api.app.app_from_env), so that what serve says before the workers
    # start (projects that cannot collect, the embedded Postgres) reads like the rest.
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # Pages Tally links to (the stub's checkout) are on the address served, unless the
    # operator names another one; the workers inherit the variable.
    os.environ.setdefault("TALLY_PUBLIC_BASE_URL", served_base_url(settings.host, settings.port))
    # The embedded Postgres is started once, here; workers find it through the URL.
    url = settings.database_url or start_embedded(settings.data_dir)
    os.environ["TALLY_DATABASE_URL"] = url
    check(parse(url))
    # Create the tables once before the workers start, so they never race to create them.
    with opened(settings.model_copy(update={"database_url": url})) as tally:
        warn_uncollectable(tally)  # once per start, not once per worker
    projections = None
    if settings.run_projections and settings.projection_process:
        from api.projection_process import ProjectionProcess

        # The server workers leave the read models to the projection process.
        projections = ProjectionProcess(os.environ)
        os.environ["TALLY_RUN_PROJECTIONS"] = "false"
        projections.start()
    try:
        uvicorn.run(
            "api.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            # No proxy headers here (the app believes them from TALLY_TRUSTED_PROXIES
            # alone, api/proxies.py) and no header logging: the access log shows method,
            # path and status only, never the Authorization header.
            proxy_headers=False,
            # Each response written to its socket once (api/http_protocol.py).
            http="api.http_protocol:OneWriteHttpToolsProtocol",
            # uvicorn's supervisor restarts a worker that has not answered its health ping
            # within this many seconds, counted from the worker's spawn. Its default of 5 s
            # is shorter than a worker's start on a busy two-core machine (seen at load 12 to
            # 16: two workers restarted over and over and serve never became ready).
            timeout_worker_healthcheck=30,
        )
    finally:
        if projections is not None:
            projections.stop()
    return EXIT_OK


def served_base_url(host: str, port: int) -> str:
    """The URL a browser on this machine reaches ``host:port`` by: an address that
    listens on every interface is reached through the loopback one."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    if ":" in host:  # an IPv6 literal goes in brackets
        host = f"[{host}]"
    return f"http://{host}:{port}"


def cmd_projections_run(args: argparse.Namespace) -> int:
    from projections.runner import ProjectionWorker

    with opened() as tally:
        worker = ProjectionWorker(
            tally.store, tally.views, tally.schema, tally.settings.projection_batch
        )
        worker.start()
        print(f"projections running in schema {tally.schema}; stop with Ctrl-C", flush=True)
        try:
            wait_for_signal()
        finally:
            worker.stop()
        print(f"stopped at position {worker.position()}")
    return EXIT_OK


def cmd_projections_status(args: argparse.Namespace) -> int:
    """Every read model's position and stall; exit code 1 if any is stalled."""
    from projections.runner import status

    with opened() as tally:
        head = tally.store.recorder.max_notification_id() or 0
        models = status(tally.views, tally.schema)
    data = {
        "head_position": head,
        "read_models": [
            {
                "name": model.name,
                "position": model.position,
                "stall": None if model.stall is None else {
                    "position": model.stall.position,
                    "error": model.stall.error,
                    "blocked_by": model.stall.blocked_by,
                    "since": model.stall.since,
                },
            }
            for model in models
        ],
    }  # fmt: skip
    lines = [f"head position {head}"]
    for model in models:
        state = (
            "ok"
            if model.stall is None
            else f"STALLED at {model.stall.position}: {model.stall.error}"
        )
        lines.append(f"  {model.name:<16} {model.position:>12}  {state}")
    emit(args, data, lines)
    return EXIT_REFUSED if any(model.stall for model in models) else EXIT_OK


def cmd_scheduler_run(args: argparse.Namespace) -> int:
    """The subscription scheduler on its own. It reads due work from the read models, so a
    projection worker (``tally serve`` or ``tally projections run``) must keep them fresh;
    ``--once`` catches them up itself, does one pass and exits (for cron)."""
    from api.scheduler import Scheduler

    with opened() as tally:
        scheduler = Scheduler(tally, interval_s=args.interval)
        if args.once:
            sync_read_models(tally)
            report = scheduler.run_once()
            lines = [f"{report.due} due, {report.total_steps} step(s): {report.steps}"]
            emit(args, {"due": report.due, "steps": report.steps}, lines)
            return EXIT_OK
        scheduler.start()
        print(
            f"scheduler running in schema {tally.schema} every {scheduler.interval_s}s; "
            "stop with Ctrl-C",
            flush=True,
        )
        try:
            wait_for_signal()
        finally:
            scheduler.stop()
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from projections.replay import ReplayBusy, replay
    from projections.runner import PROJECTIONS

    with opened() as tally:
        # Compare the whole log, not just what a stopped worker had applied. A stalled
        # read model is behind the others, so there is no one position to compare at.
        sync_read_models(tally, needs=[cls.name for cls in PROJECTIONS])
        try:
            progress = not (args.quiet or args.json)
            report = replay(tally.store, tally.views, tally.schema, progress=progress)
        except ReplayBusy as exc:
            raise CannotStart(f"another replay is running: {exc}") from None
    emit(args, report.as_json(), [report.summary()])
    return EXIT_OK if report.ok else EXIT_REFUSED


def add_serve_command(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser("serve", help="run the HTTP API", parents=[common])
    serve.add_argument("--host", help="address to listen on (default: TALLY_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: TALLY_PORT, 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default: TALLY_WORKERS, 1)")
    serve.set_defaults(func=cmd_serve)


def add_worker_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``projections run|status`` and ``scheduler run``."""
    projections = sub.add_parser("projections", help="read models").add_subparsers(
        dest="action", required=True
    )
    runner = projections.add_parser(
        "run", help="run the projection worker until stopped", parents=[common]
    )
    runner.set_defaults(func=cmd_projections_run)
    state = projections.add_parser(
        "status",
        help="each read model's position and any stall (exit code 1 if one is stalled)",
        parents=[common],
    )
    state.set_defaults(func=cmd_projections_status)

    scheduler = sub.add_parser(
        "scheduler", help="subscription renewals and invoice work"
    ).add_subparsers(dest="action", required=True)
    scheduling = scheduler.add_parser(
        "run", help="run the scheduler (renewals, invoice work) until stopped", parents=[common]
    )
    scheduling.add_argument("--once", action="store_true", help="one pass, then exit")
    scheduling.add_argument(
        "--interval",
        type=float,
        help="seconds between passes (default: TALLY_SCHEDULER_INTERVAL_S, 10)",
    )
    scheduling.set_defaults(func=cmd_scheduler_run)


def add_replay_command(sub: Any, common: argparse.ArgumentParser) -> None:
    replay = sub.add_parser("replay", help="rebuild the read models and compare", parents=[common])
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.set_defaults(func=cmd_replay)

"""What every ``tally`` subcommand shares: the exit codes, the settings (checked once,
reported in one line), an opened application, running a command as the CLI, bringing the
read models up to what was just written, and printing an answer as text or JSON.

Its own module so that the subcommand modules (``api.cli_invoices``, ``api.cli_secrets``)
import it at the top instead of reaching back into ``api.cli``, which imports them."""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError

from adapters.providers.config import ProviderSettings
from api.bootstrap import build
from api.cli_shapes import json_value
from api.settings import Settings
from api.tally import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context, Outcome
from domain.limits import IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_CHARS

ACTOR = "cli"
EXIT_OK, EXIT_REFUSED, EXIT_CANNOT_START = 0, 1, 2


class CannotStart(Exception):
    """Settings or database problems: reported in one line, exit code 2."""


class Stalled(Exception):
    """A read model the command needs is stalled: reported in one line, exit code 1."""


def load_settings(**overrides: Any) -> Settings:
    try:
        settings = Settings()
        if overrides := {k: v for k, v in overrides.items() if v is not None}:
            settings = Settings(**{**settings.model_dump(), **overrides})
        ProviderSettings()  # the payment provider's settings are checked at start too
    except ValidationError as exc:
        problems = "; ".join(
            f"TALLY_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise CannotStart(f"invalid settings: {problems}") from None
    return settings


@contextmanager
def opened(settings: Settings | None = None) -> Iterator[Tally]:
    tally = build(settings or load_settings())
    try:
        yield tally
    finally:
        tally.close()


def run(
    tally: Tally, command: m.Command, project_id: UUID = NO_PROJECT, key: str | None = None
) -> Outcome:
    """Run ``command`` as the CLI; under ``key`` as the API runs it under an
    ``Idempotency-Key`` (the same key and body again: the first answer, nothing new)."""
    return tally.execute(command, Context(project_id, ACTOR, key))


def _key(text: str) -> str:
    if len(text) > MAX_IDEMPOTENCY_KEY_CHARS or not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"1-{MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters without spaces"
        )
    return text


def add_idempotency_key(parser: argparse.ArgumentParser) -> None:
    """``--idempotency-key`` on a write verb (docs/operations.md, the CLI's writes)."""
    parser.add_argument(
        "--idempotency-key", type=_key, default=None, metavar="KEY",
        help="the write's idempotency key, as the API's Idempotency-Key header: the same "
        "key and options again answer the first result and write nothing new (default: "
        "a new key, printed if the command fails, so a retry can reuse it)",
    )  # fmt: skip


@contextmanager
def write_key(args: argparse.Namespace) -> Iterator[str]:
    """The write's key: ``--idempotency-key``, else one made now, once per invocation.
    If the command fails or is interrupted, ``api.cli.main`` prints the key after the
    error (``failed_write_key``): whether the write happened or not, running it again
    with that key writes it at most once."""
    key: str = args.idempotency_key or f"cli-{uuid4()}"
    try:
        yield key
    except BaseException:
        args.failed_write_key = key
        raise


def retry_hint(args: argparse.Namespace) -> None:
    """After a failed write, the line that says how to retry it under the same key."""
    key = getattr(args, "failed_write_key", None)
    if key is not None:
        print(f"tally: to retry this write, add --idempotency-key {key}", file=sys.stderr)


def sync_read_models(tally: Tally, position: int | None = None, needs: Sequence[str] = ()) -> None:
    """Bring the read models up to the log's head, so that what was just written (a new
    key, above all) is visible to queries and to authentication at once.

    A stalled read model in ``needs`` (names) raises ``Stalled``; any other is one warning
    line on stderr (the command could do its job)."""
    from projections.runner import ProjectionWorker, stalls, wait_for_position

    worker = ProjectionWorker(
        tally.store, tally.views, tally.schema, tally.settings.projection_batch, log_stalls=False
    )
    worker.catch_up()
    found = stalls(tally.views, tally.schema)
    for stall in found:
        if stall.name in needs:
            raise Stalled(stall.line())
    if found:
        names = ", ".join(s.name for s in found)
        print(
            f"tally: warning: {found[0].line()} (stalled: {names}; see tally projections status)",
            file=sys.stderr,
        )
    if position is not None and not wait_for_position(tally.views, tally.schema, position, 10):
        raise CannotStart(f"the read models did not reach position {position}")


def emit(args: argparse.Namespace, data: Any, lines: Sequence[str]) -> None:
    if args.json:
        print(json.dumps(data, default=json_value, indent=2))
    else:
        for line in lines:
            print(line)


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass

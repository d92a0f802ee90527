"""``tally audit verify|checkpoint|keygen|backfill`` and ``tally export events``: the
auditors' tools over the hash-chained log (docs/audit.md).

Exit codes as every ``tally`` command: 0 done (the chain is intact), 1 refused (the chain
is broken, named by its first position that does not match; a checkpoint the log no
longer extends), 2 cannot start (settings, database, a key or a checkpoint file that
cannot be read or whose signature does not verify).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from tqdm import tqdm

from adapters.audit_chain import ChainNames, backfill, read_head
from adapters.audit_checkpoint import (
    CheckpointInvalid,
    KeyInvalid,
    new_signing_key,
    public_key,
    public_text,
    read_checkpoint,
    sign,
    signing_key,
)
from adapters.audit_verify import MAX_POSITION, Expected, Verification, verify
from adapters.eventstore import EVENTS_TABLE
from api.cli_exports import add_journal_export
from api.cli_session import EXIT_OK, EXIT_REFUSED, CannotStart, emit, load_settings, opened
from api.settings import Settings

PROGRESS_MIN_EVENTS = 100_000  # a shorter verify needs no bar


@contextmanager
def _log_connection() -> Iterator[tuple[psycopg.Connection[Any], str, Settings]]:
    """A connection to the store, after Tally has started once (so the chain is there)."""
    with opened() as tally:
        url, schema, settings = tally.target.url, tally.schema, tally.settings
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn, schema, settings


def _progress(args: argparse.Namespace, start: int, stop: int) -> tqdm[Any]:
    total = max(0, stop - start + 1)
    quiet = args.quiet or args.json or not sys.stderr.isatty()
    return tqdm(
        total=total,
        unit="ev",
        unit_scale=True,
        desc="verify",
        disable=quiet or total < PROGRESS_MIN_EVENTS,
    )


def _verify_with_bar(
    args: argparse.Namespace,
    conn: psycopg.Connection[Any],
    schema: str,
    start: int,
    stop: int,
    expect: Expected | None,
) -> Verification:
    head = read_head(conn, schema, EVENTS_TABLE).position
    bar = _progress(args, start, min(stop, head))
    done = [start - 1]

    def advance(position: int) -> None:
        bar.update(position - done[0])
        done[0] = position

    with bar:
        return verify(conn, schema, EVENTS_TABLE, start, stop, expect, advance)


def _trusted_key(args: argparse.Namespace, settings: Settings) -> Any:
    try:
        if args.public_key:
            return public_key(args.public_key)
        return signing_key(_signing_text(settings)).public_key()
    except KeyInvalid as exc:
        raise CannotStart(str(exc)) from None


def _signing_text(settings: Settings) -> str:
    if settings.audit_signing_key is not None:
        return settings.audit_signing_key.get_secret_value()
    if settings.audit_signing_key_file is not None:
        try:
            return settings.audit_signing_key_file.read_text()
        except OSError as exc:
            raise CannotStart(f"cannot read the audit signing key file: {exc.strerror}") from None
    raise CannotStart(
        "no audit signing key: set TALLY_AUDIT_SIGNING_KEY or TALLY_AUDIT_SIGNING_KEY_FILE "
        "(tally audit keygen makes one)"
    )


def cmd_audit_verify_usage(args: argparse.Namespace) -> int:
    """The usage events' own chain (adapters/usage_chain.py), whole."""
    from adapters.usage_chain import read_usage_head, row_at, verify_usage

    with _log_connection() as (conn, schema, _):
        bar = _progress(args, 1, read_usage_head(conn, schema).position)
        bar.set_description("verify usage")
        done = [0]

        def advance(position: int) -> None:
            bar.update(position - done[0])
            done[0] = position

        with bar:
            found = verify_usage(conn, schema, advance)
        where = row_at(conn, schema, found.failed_at) if found.failed_at else None
    lines = ["usage chain: " + found.summary().replace("events,", "usage events,")]
    if where is not None:
        lines.append(f"the first row that does not match: {where}")
    emit(args, {**found.as_json(), "chain": "usage", "row": where}, lines)
    return EXIT_OK if found.ok else EXIT_REFUSED


def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.usage:
        if args.checkpoint or args.start != 1 or args.stop != MAX_POSITION:
            raise CannotStart("--usage verifies the whole usage chain: no range, no checkpoint")
        return cmd_audit_verify_usage(args)
    with _log_connection() as (conn, schema, settings):
        expect = None
        if args.checkpoint:
            try:
                checkpoint = read_checkpoint(args.checkpoint, _trusted_key(args, settings))
            except CheckpointInvalid as exc:
                raise CannotStart(str(exc)) from None
            if checkpoint.schema != schema or not args.start <= checkpoint.position <= args.stop:
                raise CannotStart(
                    f"the checkpoint is of schema {checkpoint.schema} at position "
                    f"{checkpoint.position}: verify {schema} over a range that holds it"
                )
            expect = Expected(checkpoint.position, checkpoint.hash_bytes)
        found = _verify_with_bar(args, conn, schema, args.start, args.stop, expect)
    lines = [found.summary()]
    if expect is not None and found.ok:
        lines.append(f"the log extends the checkpoint at position {expect.position}")
    emit(args, found.as_json(), lines)
    return EXIT_OK if found.ok else EXIT_REFUSED


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        key = signing_key(_signing_text(settings))
    except KeyInvalid as exc:
        raise CannotStart(str(exc)) from None
    with _log_connection() as (conn, schema, _):
        # The head is signed only once the whole chain up to it has been recomputed:
        # a checkpoint must never vouch for a log that was already edited.
        found = _verify_with_bar(args, conn, schema, 1, MAX_POSITION, None)
    if not found.ok or found.last is None or found.head_hash is None:
        emit(args, found.as_json(), [found.summary(), "no checkpoint written"])
        return EXIT_REFUSED
    checkpoint = sign(key, schema, found.last, found.head_hash)
    out: Path = args.out or Path(f"tally-checkpoint-{schema}-{found.last}.json")
    out.write_text(_json_text(checkpoint.to_json()))
    emit(
        args,
        {**checkpoint.to_json(), "file": str(out)},
        [f"checkpoint at position {found.last} ({found.head_hash.hex()}) written to {out}"],
    )
    return EXIT_OK


def _json_text(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, indent=2) + "\n"


def cmd_audit_keygen(args: argparse.Namespace) -> int:
    private = new_signing_key()
    out: Path = args.out
    # Created readable by its owner only, before the key is written into it.
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CannotStart(f"cannot create {out}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w") as file:
        file.write(private + "\n")
    public = public_text(signing_key(private))
    emit(
        args,
        {"key_file": str(out), "public_key": public},
        [
            f"signing key written to {out} (TALLY_AUDIT_SIGNING_KEY_FILE={out})",
            f"public key (hand it to auditors): {public}",
        ],
    )
    return EXIT_OK


def cmd_audit_backfill(args: argparse.Namespace) -> int:
    # Tally's start hashes unhashed rows by itself; this says how many there were.
    from adapters.usage_chain import backfill as backfill_usage

    with _log_connection() as (conn, schema, _):
        hashed = backfill(conn, ChainNames(schema, EVENTS_TABLE))
        # Usage rows on no link of their chain (written around Tally, or by a version
        # from before the chain while this one ran), chained after its head.
        with conn.transaction(), conn.cursor() as cur:
            usage = backfill_usage(cur, schema)
    emit(
        args,
        {"hashed": hashed, "usage_chained": usage},
        [f"{hashed} events hashed", f"{usage} usage events chained"],
    )
    return EXIT_OK


def cmd_export_events(args: argparse.Namespace) -> int:
    from adapters.audit_export import export_events

    with _log_connection() as (conn, schema, _):
        head = read_head(conn, schema, EVENTS_TABLE).position
        total = max(0, min(args.stop, head) - args.start + 1)
        to_file = args.out is not None and str(args.out) != "-"
        quiet = args.quiet or not to_file or not sys.stderr.isatty()
        bar = tqdm(total=total, unit="ev", unit_scale=True, desc="export", disable=quiet)
        with bar, _output(args.out if to_file else None) as out:
            written = export_events(
                conn, schema, EVENTS_TABLE, out, args.start, args.stop, bar.update
            )
    if to_file:
        emit(
            args,
            {"events": written, "file": str(args.out)},
            [f"{written} events written to {args.out}"],
        )
    return EXIT_OK


@contextmanager
def _output(path: Path | None) -> Iterator[Any]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with path.open("wb") as file:
        yield file


def add_export_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    export = sub.add_parser("export", help="the log as files").add_subparsers(
        dest="action", required=True
    )
    events = export.add_parser(
        "events",
        help="the raw event log with positions and hashes, as JSON lines",
        parents=[common],
    )
    _range(events)
    events.add_argument("--out", type=Path, help="the file (default: standard output)")
    events.add_argument("--quiet", action="store_true", help="no progress bar")
    events.set_defaults(func=cmd_export_events)
    add_journal_export(export, common)


def add_audit_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    audit = sub.add_parser("audit", help="the hash-chained log").add_subparsers(
        dest="action", required=True
    )
    check = audit.add_parser(
        "verify", help="recompute the log's hash chain (exit 1 if broken)", parents=[common]
    )
    _range(check)
    check.add_argument("--checkpoint", type=Path, help="also check the log extends this file")
    check.add_argument(
        "--public-key", help="the checkpoint signer's public key (default: from the settings)"
    )
    check.add_argument(
        "--usage", action="store_true", help="verify the usage events' own chain instead"
    )
    check.set_defaults(func=cmd_audit_verify)
    point = audit.add_parser(
        "checkpoint", help="verify, then sign the log's head into a file", parents=[common]
    )
    point.add_argument("--out", type=Path, help="the file (default: tally-checkpoint-…json)")
    point.set_defaults(func=cmd_audit_checkpoint)
    keygen = audit.add_parser("keygen", help="make an Ed25519 signing key", parents=[common])
    keygen.add_argument("--out", type=Path, required=True, help="the key file (made 0600)")
    keygen.set_defaults(func=cmd_audit_keygen)
    fill = audit.add_parser(
        "backfill", help="hash events stored before the chain existed", parents=[common]
    )
    fill.set_defaults(func=cmd_audit_backfill)
    for action in (check, point):
        action.add_argument("--quiet", action="store_true", help="no progress bar")


def _range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="start", type=int, default=1, help="first position (default: 1)"
    )
    parser.add_argument(
        "--to", dest="stop", type=int, default=MAX_POSITION, help="last position (default: head)"
    )

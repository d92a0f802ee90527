"""Exports of the journal and of a project's events (docs/audit.md): ``tally export
journal`` through the command line (the first test through the program, in a process of
its own; the others in the test's process), and ``GET /v1/exports/events|journal`` through
the API, scoped to the caller's project."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from api.bootstrap import Tally
from tests.e2e.cli_run import cli, cli_process, env
from tests.e2e.conftest import Client

__all__ = ["env"]  # the fixture, used by name


def _ledger(api: Client, owner: str) -> tuple[str, str]:
    """Two wallets: 1000 deposited into the first, 400 of it moved to the second."""
    first = api.open_account(owner)
    second = api.open_account(owner + "-savings")
    api.deposit(first, 1000)
    body = {"from_account_id": first, "to_account_id": second, "amount": 400, "currency": "EUR"}
    api.ok(api.post("/v1/transfers", body), 201)
    return first, second


def _entries_seen_by_api(api: Client, *accounts: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for account in accounts:
        for entry in api.ok(api.get(f"/v1/accounts/{account}/entries"))["data"]:
            out[entry["id"]] = entry["postings"]
    return out


def _stream(api: Client, path: str, **params: Any) -> str:
    params.setdefault("wait_for_position", api.position)
    response = api.http.get(path, params=params, headers=api.headers())
    assert response.status_code == 200, response.text
    return response.text


def test_the_cli_exports_the_journal_as_jsonl_and_csv_with_accounts_named(
    env: dict[str, str], tmp_path: Path, api: Client
) -> None:
    first, second = _ledger(api, "alice")
    out = tmp_path / "journal.jsonl"

    done = cli_process(env, "export", "journal", "--format", "jsonl", "--out", str(out), "--json")
    as_csv = cli_process(env, "export", "journal", "--format", "csv")

    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    assert json.loads(done.stdout)["entries"] == len(entries) == 2
    expected = _entries_seen_by_api(api, first, second)
    assert {e["id"]: [{k: p[k] for k in ("account", "amount")} for p in e["postings"]]
            for e in entries} == expected  # fmt: skip
    assert [e["kind"] for e in entries] == ["deposit", "transfer"]
    assert all(sum(p["amount"] for p in e["postings"]) == 0 for e in entries)
    owners = {p["account"]: p["account_owner"] for e in entries for p in e["postings"]}
    assert owners[f"wallet:{first}"] == "alice"
    assert owners[f"wallet:{second}"] == "alice-savings"
    assert [p for p in owners if not p.startswith("wallet:")] != []
    assert all(owners[p] is None for p in owners if not p.startswith("wallet:"))

    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == sum(len(e["postings"]) for e in entries)
    assert {(r["entry_id"], r["account"], int(r["amount"]), r["account_owner"]) for r in rows} == {
        (e["id"], p["account"], p["amount"], p["account_owner"] or "")
        for e in entries
        for p in e["postings"]
    }


def test_the_cli_window_by_position_and_by_date(env: dict[str, str], api: Client) -> None:
    _ledger(api, "alice")
    whole = cli(env, "export", "journal", "--format", "jsonl")
    assert whole.returncode == 0, whole.stderr
    lines = whole.stdout.splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 2, whole.stderr
    transfer = entries[1]["position"]
    # Entries are stamped by the wall clock (the event's timestamp, not the test's
    # FixedClock), so the deposit and the transfer fall on two days when the test runs
    # across midnight UTC, the likelier the slower the machine. Expect what each day holds.
    days = [entry["created_at"][:10] for entry in entries]
    dated = list(zip(lines, days, strict=True))

    later = cli(env, "export", "journal", "--format", "jsonl", "--from", str(transfer))
    first_day = cli(env, "export", "journal", "--format", "jsonl", "--to", days[0])
    last_day = cli(env, "export", "journal", "--format", "jsonl", "--from", days[-1])
    before = cli(env, "export", "journal", "--format", "jsonl", "--to", "2000-01-01")
    bad = cli(env, "export", "journal", "--from", "2026-02-31")

    assert [json.loads(x)["position"] for x in later.stdout.splitlines()] == [transfer]
    assert first_day.stdout.splitlines() == [x for x, d in dated if d <= days[0]]
    assert last_day.stdout.splitlines() == [x for x, d in dated if d >= days[-1]]
    assert before.returncode == 0
    assert before.stdout == ""
    assert bad.returncode == 2
    assert "not a position, a date or a timestamp" in bad.stderr


def test_the_api_journal_export_is_the_callers_project_only(api: Client, other: Client) -> None:
    first, second = _ledger(api, "alice")
    _ledger(other, "mallory")

    lines = _stream(api, "/v1/exports/journal", format="jsonl").splitlines()
    entries = [json.loads(line) for line in lines]
    table = list(csv.DictReader(io.StringIO(_stream(api, "/v1/exports/journal"))))
    windowed = _stream(
        api, "/v1/exports/journal", format="jsonl", **{"from": str(entries[1]["position"])}
    )

    expected = _entries_seen_by_api(api, first, second)
    assert [e["id"] for e in entries] == list(expected)
    assert {e["project_id"] for e in entries} == {str(api.project_id)}
    assert {r["entry_id"] for r in table} == set(expected)
    assert [json.loads(x)["id"] for x in windowed.splitlines()] == [entries[1]["id"]]
    refused = api.http.get(
        "/v1/exports/journal", params={"from": "yesterday"}, headers=api.headers()
    )
    assert refused.status_code == 422
    no_such_day = api.http.get(
        "/v1/exports/journal", params={"to": "2026-02-31"}, headers=api.headers()
    )
    assert (no_such_day.status_code, no_such_day.json()["code"]) == (422, "invalid_window")
    assert api.http.get("/v1/exports/journal").status_code == 401


def test_the_api_event_export_holds_the_projects_events_and_their_chain(
    api: Client, other: Client, app_tally: Tally
) -> None:
    from adapters.audit_chain import GENESIS, canonical, link

    _ledger(api, "alice")
    _ledger(other, "mallory")

    mine = [json.loads(x) for x in _stream(api, "/v1/exports/events").splitlines()]
    theirs = [json.loads(x) for x in _stream(other, "/v1/exports/events").splitlines()]

    stored = _stored_hashes(app_tally)
    mine_ids = {e["aggregate_id"] for e in mine}
    assert str(api.project_id) in mine_ids
    assert not mine_ids & {e["aggregate_id"] for e in theirs}
    assert "tally:Account.Deposited" in {e["topic"] for e in mine}
    assert [e["redacted"] for e in mine if "redacted" in e] == [["key_hash"]]
    for line in mine:
        before = bytes.fromhex(line["previous_hash"]) if line["previous_hash"] else GENESIS
        bytes_ = canonical(
            line["position"],
            UUID(line["aggregate_id"]),
            line["version"],
            line["topic"],
            line["state"].encode(),
        )
        assert line["hash"] == stored[line["position"]]
        # A line with a secret field redacted (an API key's hash: the project's key) no
        # longer recomputes; test_export_redaction.py covers those lines.
        recomputes = link(before, bytes_).hex() == line["hash"]
        assert recomputes == ("redacted" not in line)
        earlier = [p for p in stored if p < line["position"]]
        assert line["previous_hash"] == (stored[max(earlier)] if earlier else None)
    first, last = mine[1]["position"], mine[-2]["position"]
    part = _stream(api, "/v1/exports/events", **{"from": first, "to": last})
    assert [json.loads(x)["position"] for x in part.splitlines()] == [
        e["position"] for e in mine[1:-1]
    ]


def _stored_hashes(tally: Tally) -> dict[int, str]:
    with psycopg.connect(tally.target.url, autocommit=True) as conn:
        rows = conn.execute(
            f'SELECT notification_id, hash FROM "{tally.schema}".tally_events'
        ).fetchall()
    return {position: bytes(hash_).hex() for position, hash_ in rows}


def test_an_export_stops_after_its_limit_at_an_entry_or_event_boundary(
    api: Client, app_tally: Tally
) -> None:
    from adapters.audit_export import project_event_lines
    from adapters.journal_export import Window, journal_lines

    _ledger(api, "alice")
    api.ok(api.get("/v1/accounts", limit=1))  # the read models hold every write

    with app_tally.views.connection() as conn:
        one = list(journal_lines(conn, app_tally.schema, api.project_id, Window(), "csv", limit=1))
        all_ = list(journal_lines(conn, app_tally.schema, api.project_id, Window(), "csv"))
    events = list(
        project_event_lines(
            app_tally.views.connection,
            app_tally.schema,
            "tally_events",
            api.project_id,
            (1, 2**63 - 1, 2),
        )
    )

    first_entry = {line.split(b",")[0] for line in one[1:]}
    assert len(first_entry) == 1
    assert one == [line for line in all_ if line.split(b",")[0] in first_entry or line is all_[0]]
    assert len(one) - 1 == 2  # the deposit's two postings, both kept
    assert len(events) == 2


def test_chunked_exports_equal_one_read_whatever_the_chunk(
    api: Client, other: Client, app_tally: Tally
) -> None:
    """The API reads in keyset chunks (a pooled connection per chunk): any chunk size
    gives what one read gives, cut at the same limit."""
    from adapters.audit_export import project_event_lines
    from adapters.journal_export import Window, chunked_posting_rows, posting_rows

    first, _ = _ledger(api, "alice")
    _ledger(other, "mallory")
    api.deposit(first, 5)
    api.ok(api.get("/v1/accounts", limit=1))  # the read models hold every write
    schema, connect = app_tally.schema, app_tally.views.connection
    with connect() as conn:
        whole = list(posting_rows(conn, schema, api.project_id, Window()))
    entries = len({row[0] for row in whole})
    events = list(
        project_event_lines(connect, schema, "tally_events", api.project_id, (1, 2**63, 10**6))
    )
    assert entries >= 3
    assert len(events) >= 5
    for chunk in (1, 2, 3, entries, entries + 1):
        rows = list(chunked_posting_rows(connect, schema, api.project_id, Window(), 10**6, chunk))
        assert rows == whole
        cut = list(chunked_posting_rows(connect, schema, api.project_id, Window(), 2, chunk))
        assert cut == [row for row in whole if row[0] in {whole[0][0], cut[-1][0]}]
        assert len({row[0] for row in cut}) == 2
        bounds = (1, 2**63, 10**6)
        lines = list(
            project_event_lines(connect, schema, "tally_events", api.project_id, bounds, chunk)
        )
        assert lines == events
        cut_events = project_event_lines(
            connect, schema, "tally_events", api.project_id, (1, 2**63, 3), chunk
        )
        assert list(cut_events) == events[:3]


def test_an_event_export_finds_the_projects_aggregates_by_the_index(
    api: Client, app_tally: Tally
) -> None:
    """The export reads the project's creation events through the partial index, not
    every tenant's creation events (a scan of the whole log per chunk, before)."""
    from adapters.audit_export import _PROJECT_EVENTS, _names

    _ledger(api, "alice")
    query = sql.SQL("EXPLAIN " + _PROJECT_EVENTS).format(**_names(app_tally.schema, "tally_events"))
    with app_tally.views.connection() as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")  # a tiny table: scans are cheaper
        plan = conn.execute(query, (api.project_id.hex, api.project_id, 0, 2**62, 10)).fetchall()
    text = "\n".join(str(next(iter(row.values()))) for row in plan)
    assert "tally_events_by_project" in text, text
    assert "convert_from" not in text, text

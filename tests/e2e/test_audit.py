"""The auditors' tools end to end (docs/audit.md): ``tally audit keygen|verify|checkpoint``
through the command line (in the test's process; a key written twice through the program,
in a process of its own), and ``GET /v1/audit/head`` through the API."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api.bootstrap import Tally
from tests.e2e.cli_run import cli, cli_process, env
from tests.e2e.conftest import Client

__all__ = ["env"]  # the fixture, used by name


@pytest.fixture
def key_file(env: dict[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    done = cli(env, "audit", "keygen", "--out", str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["key_file"] == str(path)
    return path


def _deposits(api: Client, count: int) -> None:
    account = api.ok(api.post("/v1/accounts", {"owner_ref": "bob", "currency": "EUR"}), 201)
    for i in range(count):
        api.ok(
            api.post(
                f"/v1/accounts/{account['id']}/deposits",
                {"amount": 100, "currency": "EUR"},
                key=f"d{i}",
            ),
            201,
        )


def _edit_state(tally: Tally, position: int) -> None:
    with psycopg.connect(tally.target.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET state = state || ' '::bytea WHERE notification_id = %s").format(
                sql.Identifier(tally.schema, "tally_events")
            ),
            (position,),
        )


def test_keygen_writes_a_key_only_its_owner_reads_and_never_overwrites(
    env: dict[str, str], key_file: Path
) -> None:
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = cli_process(env, "audit", "keygen", "--out", str(key_file))
    assert again.returncode == 2
    assert "cannot create" in again.stderr


def test_verify_checkpoint_and_a_tampered_log_through_the_cli(
    env: dict[str, str], key_file: Path, tmp_path: Path, api: Client, app_tally: Tally
) -> None:
    _deposits(api, 5)
    signed = {**env, "TALLY_AUDIT_SIGNING_KEY_FILE": str(key_file)}
    checkpoint = tmp_path / "checkpoint.json"

    intact = cli(env, "audit", "verify", "--json")
    made = cli(signed, "audit", "checkpoint", "--out", str(checkpoint), "--json")
    extends = cli(signed, "audit", "verify", "--checkpoint", str(checkpoint))

    assert intact.returncode == 0, intact.stderr
    found: dict[str, Any] = json.loads(intact.stdout)
    assert found["ok"] is True
    assert found["checked"] == found["last_position"]
    assert made.returncode == 0, made.stderr
    written = json.loads(checkpoint.read_text())
    assert (written["position"], written["hash"]) == (found["last_position"], found["head_hash"])
    assert extends.returncode == 0, extends.stderr
    assert f"extends the checkpoint at position {written['position']}" in extends.stdout

    _edit_state(app_tally, 3)
    broken = cli(env, "audit", "verify")
    broken_too = cli(signed, "audit", "verify", "--checkpoint", str(checkpoint))
    assert broken.returncode == 1
    assert "chain broken at position 3" in broken.stdout
    assert broken_too.returncode == 1
    assert "position 3" in broken_too.stdout
    refused = cli(signed, "audit", "checkpoint", "--out", str(tmp_path / "no.json"))
    assert refused.returncode == 1
    assert "no checkpoint written" in refused.stdout
    assert not (tmp_path / "no.json").exists()


def test_a_checkpoint_from_another_key_or_edited_is_refused(
    env: dict[str, str], key_file: Path, tmp_path: Path, api: Client
) -> None:
    _deposits(api, 1)
    signed = {**env, "TALLY_AUDIT_SIGNING_KEY_FILE": str(key_file)}
    checkpoint = tmp_path / "checkpoint.json"
    assert cli(signed, "audit", "checkpoint", "--out", str(checkpoint)).returncode == 0
    other_key = tmp_path / "other.key"
    assert cli(env, "audit", "keygen", "--out", str(other_key)).returncode == 0
    other = {**env, "TALLY_AUDIT_SIGNING_KEY": other_key.read_text().strip()}

    wrong_key = cli(other, "audit", "verify", "--checkpoint", str(checkpoint))
    edited = json.loads(checkpoint.read_text())
    edited["position"] -= 1
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(edited))
    tampered = cli(signed, "audit", "verify", "--checkpoint", str(forged))

    for done in (wrong_key, tampered):
        assert done.returncode == 2
        assert "signature does not verify" in done.stderr
    short = cli(signed, "audit", "verify", "--checkpoint", str(checkpoint), "--to", "1")
    assert short.returncode == 2
    assert "over a range that holds it" in short.stderr


def test_the_head_is_the_verified_head_and_needs_a_key(
    api: Client, http: TestClient, app_tally: Tally
) -> None:
    _deposits(api, 2)

    head = api.ok(api.http.get("/v1/audit/head", headers=api.headers()))
    anonymous = http.get("/v1/audit/head")

    from adapters.audit_verify import verify

    with psycopg.connect(app_tally.target.url, autocommit=True) as conn:
        found = verify(conn, app_tally.schema, "tally_events")
    assert found.head_hash is not None
    assert head == {
        "object": "audit_head",
        "chain": "sha256-v1",
        "position": found.last,
        "hash": found.head_hash.hex(),
        "usage_position": 0,
        "usage_hash": None,
    }
    assert anonymous.status_code == 401


def test_the_exported_log_recomputes_to_the_verified_head(
    env: dict[str, str], tmp_path: Path, api: Client, app_tally: Tally
) -> None:
    from uuid import UUID

    from adapters.audit_chain import GENESIS, canonical, link
    from adapters.audit_verify import verify

    _deposits(api, 3)
    out = tmp_path / "events.jsonl"

    whole = cli(env, "export", "events", "--out", str(out), "--json")
    part = cli(env, "export", "events", "--from", "2", "--to", "4")

    assert whole.returncode == 0, whole.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert json.loads(whole.stdout)["events"] == len(lines)
    previous = GENESIS
    for line in lines:
        bytes_ = canonical(
            line["position"],
            UUID(line["aggregate_id"]),
            line["version"],
            line["topic"],
            line["state"].encode(),
        )
        previous = link(previous, bytes_)
        assert line["hash"] == previous.hex()
    with psycopg.connect(app_tally.target.url, autocommit=True) as conn:
        found = verify(conn, app_tally.schema, "tally_events")
    assert (lines[-1]["position"], previous) == (found.last, found.head_hash)
    assert part.returncode == 0, part.stderr
    assert [json.loads(x)["position"] for x in part.stdout.splitlines()] == [2, 3, 4]

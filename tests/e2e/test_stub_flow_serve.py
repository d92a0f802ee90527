"""A real ``tally serve`` (two workers, the default stub provider, no network beyond
127.0.0.1): a wallet top-up through the stub's hosted page, pressed like a browser
would, completes through the signed webhook and the server's own outbox worker. And a
misconfigured provider stops ``tally`` with one line and exit code 2."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.cli_run import CLI, cli_process, stop, wait_until_ready
from tests.e2e.test_cli_and_server import free_port, tally_json


@pytest.fixture
def stub_env(pg_url: str, schema: str, tmp_path: Path) -> dict[str, str]:
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    return {
        **clean,
        "TALLY_DATABASE_URL": pg_url,
        "TALLY_DB_SCHEMA": schema,
        "TALLY_STUB_SECRET_FILE": str(tmp_path / "stub_secret"),
    }


@contextmanager
def serving(env: dict[str, str], port: int, workers: int) -> Iterator[str]:
    """A ``tally serve`` on ``port``, ready; its base URL."""
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*CLI, "serve", "--workers", str(workers)],
        env={**env, "TALLY_PORT": str(port), "TALLY_OUTBOX_INTERVAL_S": "0.2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(process, base, timeout_s=60)
        yield base
    finally:
        stop(process)


@pytest.fixture
def stub_server(stub_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving({**stub_env, "TALLY_PUBLIC_BASE_URL": base}, port, workers=2) as served:
        yield served


def test_serve_runs_a_hosted_stub_checkout_offline(
    stub_env: dict[str, str], stub_server: str
) -> None:
    created = tally_json(stub_env, "projects", "create", "acme")
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    with httpx.Client(base_url=stub_server, headers=auth, timeout=10) as http:
        opened = http.post("/v1/accounts", json={"owner_ref": "a", "currency": "EUR"})
        account_id = opened.json()["id"]
        body = {
            "amount": 1500,
            "currency": "EUR",
            "success_url": "https://shop.example/ok",
            "cancel_url": "https://shop.example/no",
        }
        topped = http.post(f"/v1/accounts/{account_id}/top_ups", json=body)
        assert topped.status_code == 201, topped.text
        url = topped.json()["url"]
        assert url.startswith(f"{stub_server}/v1/stub/checkout/")
        page = httpx.get(url, timeout=10)
        assert "Pay 15.00 EUR" in page.text
        pressed = httpx.post(
            url, data={"button": "pay", "card_number": "4242424242424242"}, timeout=10
        )
        assert pressed.status_code == 303
        assert pressed.headers["location"] == "https://shop.example/ok"
        path = urlsplit(url).path
        assert path.startswith("/v1/stub/checkout/")
        deadline = time.monotonic() + 20
        while http.get(f"/v1/accounts/{account_id}").json()["ledger_balance"] != 1500:
            assert time.monotonic() < deadline, "the top-up did not complete"
            time.sleep(0.2)
        txn = http.get(f"/v1/transactions/{topped.json()['transaction']['id']}").json()
        assert txn["state"] == "completed"


def test_a_misconfigured_provider_is_one_clear_line_and_exit_2(
    stub_env: dict[str, str],
) -> None:
    env = {**stub_env, "TALLY_PAYMENT_PROVIDER": "stripe", "STRIPE_API_KEY": ""}
    done = cli_process(env, "serve", "--port", str(free_port()))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "STRIPE_API_KEY" in lines[0]
    unknown = cli_process({**stub_env, "TALLY_PAYMENT_PROVIDER": "paypal"}, "serve")
    assert unknown.returncode == 2
    assert len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
    assert "TALLY_PAYMENT_PROVIDER" in unknown.stderr


def test_public_urls_name_the_port_served_without_a_public_base_url(
    stub_env: dict[str, str],
) -> None:
    # Issue 11, bug 1: with TALLY_PORT=8011 and no TALLY_PUBLIC_BASE_URL, the checkout
    # answer pointed at http://127.0.0.1:8000/..., a page no one serves.
    with serving(stub_env, free_port(), workers=1) as base:
        created = tally_json(stub_env, "projects", "create", "acme")
        auth = {"Authorization": f"Bearer {created['api_key']}"}
        with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
            opened = http.post("/v1/accounts", json={"owner_ref": "a", "currency": "EUR"})
            answer = opened.json()
            account_id = answer.get("account", answer)["id"]  # either shape of the answer
            body = {
                "amount": 700,
                "currency": "EUR",
                "success_url": "https://shop.example/ok",
                "cancel_url": "https://shop.example/no",
            }
            topped = http.post(f"/v1/accounts/{account_id}/top_ups", json=body)
            assert topped.status_code == 201, topped.text
            url = topped.json()["url"]
            assert url.startswith(f"{base}/v1/stub/checkout/"), url
            assert httpx.get(url, timeout=10).status_code == 200

"""``tally webhooks`` (docs/events.md), end to end: the CLI in its own process, on the
same database as a test-mode project served through the API, against a real local
receiver that verifies every signature."""

from __future__ import annotations

from typing import Any

from api.bootstrap import Tally
from tests.e2e.billing import customer
from tests.e2e.conftest import Client
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.webhook_sandbox import endpoint, hooks_http, hooks_tally, sandbox

__all__ = ["hooks_http", "hooks_tally", "sandbox"]  # the fixtures, used by name


def test_the_cli_lists_attempts_and_redelivers(
    hooks_tally: Tally, sandbox: Client, receiver: Receiver, pg_url: str
) -> None:
    import json
    import os
    import subprocess
    import sys

    endpoint(sandbox, receiver)
    customer(sandbox, "ada")
    sandbox.tally.webhooks.drain()
    key = hooks_tally.settings.secrets_key
    assert key is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env |= {
        "TALLY_DATABASE_URL": pg_url,
        "TALLY_DB_SCHEMA": hooks_tally.schema,
        "TALLY_SECRETS_KEY": key.get_secret_value(),
    }

    def tally(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "webhooks", *args, "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    listed = tally("deliveries", "--project", str(sandbox.project_id))
    assert [a["event_id"] for a in listed] == receiver.ids()
    again = tally("redeliver", listed[0]["id"], "--project", str(sandbox.project_id))
    assert again["redelivery"] is True
    assert receiver.ids() == [listed[0]["event_id"]] * 2

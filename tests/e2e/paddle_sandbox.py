"""A project on Paddle for the tests over HTTP: the real adapter against a fake Paddle on
127.0.0.1 whose every answer is checked against Paddle's published response schemas
(``tests/paddle_openapi.py``), and notifications signed as Paddle signs them.

``paddle_shop`` serves the project (``provider_project``) and fails the test if the fake
answered anything Paddle does not send (``shop``: the same as a fixture of the module's
``fake``); ``notify`` delivers one signed notification and
lets the outbox apply it; ``deliver`` builds the notification of one entity first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.providers.signing import ts_h1_signature
from api.settings import Settings
from tests.e2e.conftest import Client, head
from tests.e2e.provider_shop import provider_project
from tests.integration.provider_fake import FakeApi, Reply, Seen
from tests.paddle_openapi import PaddleAnswers

SECRET = "pdl_ntfset_e2e_sandbox"
OCCURRED_AT = "2026-11-21T10:00:00Z"
CHECKOUT_PAGE = "https://shop.example/pay"


@pytest.fixture
def shop(
    settings: Settings, clock: FixedClock, fake: Callable[[Seen], Reply]
) -> Iterator[tuple[Client, FakeApi]]:
    """``paddle_shop`` as a fixture, for a module that defines its ``fake``."""
    with paddle_shop(settings, clock, fake) as made:
        yield made


@contextmanager
def paddle_shop(
    settings: Settings, clock: FixedClock, fake: Callable[[Seen], Reply]
) -> Iterator[tuple[Client, FakeApi]]:
    """A served project on Paddle, its API ``fake`` (checked answers), its checkouts
    paid on ``CHECKOUT_PAGE`` (the server's ``TALLY_PADDLE_CHECKOUT_URL``)."""
    secrets = {"api_key": "pdl_e2e_key", "webhook_secret": SECRET}
    answers = PaddleAnswers(fake)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TALLY_PADDLE_CHECKOUT_URL", CHECKOUT_PAGE)
        with provider_project(settings, clock, answers, "paddle", secrets) as made:
            yield made
    assert answers.problems == []


def notify(api: Client, notification: dict[str, Any], *, retry_parked: bool = False) -> None:
    """Deliver ``notification`` signed with the sandbox's secret, then apply it."""
    body = json.dumps(notification).encode()
    header = ts_h1_signature(SECRET, int(api.tally.clock.now().timestamp()), body)
    response = api.http.post(
        f"/v1/webhooks/paddle/{api.project_id}",
        content=body,
        headers={"Paddle-Signature": header, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    api.tally.outbox.drain(retry_parked=retry_parked)
    api.position = head(api.tally)


def deliver(
    api: Client, event_id: str, event_type: str, data: dict[str, Any], at: str = OCCURRED_AT
) -> None:
    """Deliver Paddle's ``event_type`` notification about ``data``; its id is made of
    ``event_id`` in Paddle's shape (a prefix and 26 letters or digits: Tally checks)."""
    event_id = "evt_" + event_id.rjust(26, "0")
    notification = {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": at,
        "notification_id": "ntf_" + event_id[4:],
        "data": data,
    }
    notify(api, notification, retry_parked=True)

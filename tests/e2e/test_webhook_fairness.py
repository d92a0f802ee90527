"""One tenant's slow webhook receiver never stalls another's (issue 12): the delivery
workers are few and shared by every project, so a send has a deadline for the whole
answer (a receiver trickling it byte by byte is cut off) and an endpoint's pass starts
no send after its time limit. Each test runs the delivery on ONE worker, with the slow
endpoint created first so that its pass is the one the worker takes first."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import wait
from functools import partial

import pytest
from fastapi.testclient import TestClient

from adapters.webhook_delivery import WebhookDelivery
from api.app import create_app
from api.bootstrap import Tally
from api.integration_events import envelope
from tests.e2e.billing import client_in_mode, customer
from tests.e2e.conftest import Client
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.webhook_sandbox import hooks_tally as hooks_tally  # the fixture


@pytest.fixture
def two_tenants(hooks_tally: Tally) -> Iterator[tuple[Client, Client]]:
    """Two test-mode projects (their endpoints may be local receivers)."""
    with TestClient(create_app(hooks_tally), raise_server_exceptions=False) as http:
        yield (
            client_in_mode(http, hooks_tally, "slow tenant", "test"),
            client_in_mode(http, hooks_tally, "healthy tenant", "test"),
        )


@pytest.fixture
def receivers() -> Iterator[Callable[[Client], Receiver]]:
    """A receiver per call, registered as an endpoint of the client's project."""
    made: list[Receiver] = []

    def receiver_of(api: Client) -> Receiver:
        receiver = Receiver()
        made.append(receiver)
        answer = api.post("/v1/webhook_endpoints", {"url": receiver.url})
        receiver.secret = api.ok(answer, 201)["secret"]
        return receiver

    yield receiver_of
    for receiver in made:
        receiver.close()


def one_worker(
    tally: Tally, timeout_s: float = 10.0, pass_limit_s: float = 30.0
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        tally, partial(envelope, tally=tally), workers=1, timeout_s=timeout_s,
        pass_limit_s=pass_limit_s,
    )  # fmt: skip
    tally.closers.append(delivery.close)
    return delivery


def until(condition: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``condition`` held (fails the test past ``timeout_s``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, "not in time"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_trickling_receiver_is_cut_off_and_another_tenant_gets_its_events_promptly(
    two_tenants: tuple[Client, Client], receivers: Callable[[Client], Receiver]
) -> None:
    slow_api, healthy_api = two_tenants
    trickling, healthy = receivers(slow_api), receivers(healthy_api)
    trickling.trickle_s = 0.4  # an answer of about 50 bytes: some 20 s, 0.4 s per read
    customer(slow_api, "ada")
    for name in ("bob", "cy", "dee"):
        customer(healthy_api, name)
    delivery = one_worker(healthy_api.tally, timeout_s=1.0)
    futures = delivery.run_once()  # the trickling endpoint's pass first, on the one worker
    took = until(lambda: len(healthy.received) == 3, timeout_s=30)
    assert took < 8.0  # the trickling send's 1 s deadline, then the healthy tenant's pass
    wait(futures, timeout=15)
    assert [f.result() for f in futures] == [0, 3]
    assert [e["data"]["object"]["external_id"] for e in healthy.received] == ["bob", "cy", "dee"]
    attempts = slow_api.ok(slow_api.get("/v1/webhook_deliveries"))["data"]
    assert [(a["status"], a["error"]) for a in attempts] == [("failed", "timed out after 1s")]


def test_a_slow_endpoints_pass_ends_at_its_time_limit_and_resumes_where_it_stopped(
    two_tenants: tuple[Client, Client], receivers: Callable[[Client], Receiver]
) -> None:
    slow_api, healthy_api = two_tenants
    slow, healthy = receivers(slow_api), receivers(healthy_api)
    slow.slow_s = 0.3  # answers, but slowly: ten events take 3 s
    names = [f"user{i}" for i in range(10)]
    for name in names:
        customer(slow_api, name)
    for name in ("bob", "cy"):
        customer(healthy_api, name)
    delivery = one_worker(healthy_api.tally, pass_limit_s=1.0)
    futures = delivery.run_once()
    until(lambda: len(healthy.received) == 2, timeout_s=15)
    # The healthy tenant's pass ran once the slow one's time was up, not after its backlog.
    assert 1 <= len(slow.received) < len(names)
    wait(futures, timeout=15)
    assert futures[0].result() == len(slow.received)
    # The pass that stopped at its limit asks for the next one at once: with passes
    # otherwise an hour apart, the rest still arrives within seconds, in order, once each.
    delivery.interval_s = 3600.0
    delivery.start()
    until(lambda: len(slow.received) == len(names), timeout_s=15)
    assert [e["data"]["object"]["external_id"] for e in slow.received] == names
    assert len(set(slow.ids())) == len(names)

"""Paddle customers against a fake Paddle API on 127.0.0.1 (httpx, end to end). Paddle
takes no idempotency key for customers but refuses a second customer with the same email
(409 ``customer_already_exists``): a retry whose first attempt created the customer gets
that customer back, found by email, instead of a failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.providers.base import CustomerRequest
from adapters.providers.paddle import PaddleProvider
from commands.provider_errors import ProviderRejected
from tests.integration.provider_fake import FakeApi, Reply, Seen
from tests.paddle_openapi import checked_fake_api

CTM_1 = "ctm_" + "1".rjust(26, "0")  # Paddle's ids: a prefix and 26 letters or digits


class FakeCustomers:
    """Paddle's customer endpoints: one customer per email address."""

    def __init__(self) -> None:
        self.customers: list[dict[str, object]] = []
        self.hide_from_list = False

    def __call__(self, seen: Seen) -> Reply:
        if seen.method == "POST" and seen.path == "/customers":
            body = seen.json()
            for existing in self.customers:
                if existing["email"] == body["email"]:
                    detail = f"customer email conflicts with customer of id {existing['id']}"
                    error = {"type": "request_error", "code": "customer_already_exists"}
                    return Reply(409, {"error": {**error, "detail": detail}})
            made = {"id": CTM_1 if not self.customers else f"ctm_{len(self.customers) + 1:0>26}"}
            made |= body
            self.customers.append(made)
            return Reply(201, {"data": made})
        if seen.method == "GET" and seen.path == "/customers":
            wanted = seen.query.get("email", [""])[0].split(",")
            found = [c for c in self.customers if c["email"] in wanted]
            return Reply(200, {"data": [] if self.hide_from_list else found})
        error = {"type": "request_error", "code": "not_found", "detail": "no route"}
        return Reply(404, {"error": error})


@pytest.fixture
def paddle() -> FakeCustomers:
    return FakeCustomers()


@pytest.fixture
def api(paddle: FakeCustomers) -> Iterator[FakeApi]:
    with checked_fake_api(paddle) as running:  # answers checked against Paddle's schemas
        yield running


@pytest.fixture
def provider(api: FakeApi) -> Iterator[PaddleProvider]:
    adapter = PaddleProvider(api_key="pdl_key", webhook_secret="s", api_base=api.url)
    yield adapter
    adapter.close()


def request(email: str = "ada@example.com") -> CustomerRequest:
    return CustomerRequest("tally:c-1:1", email=email, references={"tally_customer": "c-1"})


def test_a_retried_create_customer_finds_the_customer_the_first_attempt_made(
    api: FakeApi, paddle: FakeCustomers, provider: PaddleProvider
) -> None:
    first = provider.create_customer(request())
    again = provider.create_customer(request())
    assert first.customer_ref == again.customer_ref == CTM_1
    assert len(paddle.customers) == 1
    [lookup] = api.sent("GET", "/customers")
    assert lookup.query["email"] == ["ada@example.com"]
    # Another customer is another email: created, not confused with the first.
    second = provider.create_customer(request("bo@example.com")).customer_ref
    assert second == "ctm_" + "2".rjust(26, "0")


def test_a_conflict_with_no_customer_to_find_stays_a_refusal(
    paddle: FakeCustomers, provider: PaddleProvider
) -> None:
    provider.create_customer(request())
    paddle.hide_from_list = True
    with pytest.raises(ProviderRejected) as refused:
        provider.create_customer(request())
    assert refused.value.context["paddle_code"] == "customer_already_exists"

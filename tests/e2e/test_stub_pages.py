"""Client mistakes on the stub's hosted pages are 4xx, never a provider error (issue 10,
reproduction 7: ``POST /v1/stub/checkout/0`` with no form answered 502
``provider_rejected``). A malformed page address or form, or an unknown button, is 400
``invalid_page_request``; an altered token 400 ``invalid_signature``; an expired page
410 ``page_expired``. Nothing is written, and the page still works afterwards."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from adapters.clock import FixedClock
from tests.e2e.billing import problem
from tests.e2e.conftest import Client, nothing_written

BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def hosted_page(api: Client) -> str:
    """The path of a stub checkout page, from a wallet top-up by hosted page."""
    account = api.open_account("page")
    body = {"amount": 1200, "currency": "EUR", **BACK}
    topped = api.ok(api.post(f"/v1/accounts/{account}/top_ups", body), 201)
    return urlsplit(topped["url"]).path


def test_pressing_a_page_that_is_no_page_with_no_form_is_a_400(api: Client) -> None:
    # Reproduction 7, as reported.
    with nothing_written(api.tally):
        refused = problem(api.http.post("/v1/stub/checkout/0"), 400, "invalid_page_request")
    assert "page token" in refused["detail"]


@pytest.mark.parametrize(
    "form",
    [
        b"",  # no form at all
        b"card_number=4242424242424242",  # no button
        b"button=refund",  # a button the page does not have
        b"button=",
        b"button=pay&button=cancel",  # which one?
        b"button=pay&card_number=1&card_number=2",
        b"button=pay&card_number=" + b"4" * 33,
        b"button=pay&card_number=\xff\xfe",  # not UTF-8
        b"button=%ff",  # an escape that is not UTF-8
        b"button",  # not a form field
        b'{"button": "pay"}',  # JSON, not a form
        b"&".join(b"f%d=1" % n for n in range(50)),
    ],
)
def test_a_malformed_form_or_unknown_button_is_a_400_and_writes_nothing(
    api: Client, form: bytes
) -> None:
    path = hosted_page(api)
    with nothing_written(api.tally):
        response = api.http.post(path, content=form, headers=FORM, follow_redirects=False)
        problem(response, 400, "invalid_page_request")
    # The page itself is unharmed: the right form still pays.
    paid = api.http.post(path, content=b"button=pay", headers=FORM, follow_redirects=False)
    assert paid.status_code == 303, paid.text
    assert paid.headers["location"] == BACK["success_url"]


@pytest.mark.parametrize(
    "token",
    ["0", "a.b", "%C3%A9", "a%20b", "abc.", ".0123456789abcdef0123456789abcdef", "x" * 40_000],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_malformed_page_address_is_a_400(api: Client, token: str, method: str) -> None:
    with nothing_written(api.tally):
        response = api.http.request(
            method, f"/v1/stub/checkout/{token}", content=b"button=pay", headers=FORM
        )
        problem(response, 400, "invalid_page_request")
    portal = api.http.get(f"/v1/stub/portal/{token}")
    problem(portal, 400, "invalid_page_request")


def test_an_altered_token_is_still_an_invalid_signature(api: Client) -> None:
    path = hosted_page(api)
    body, _, mac = path.rsplit("/", 1)[1].partition(".")
    forged = f"{body}.{mac[::-1]}"
    with nothing_written(api.tally):
        response = api.http.post(f"/v1/stub/checkout/{forged}", content=b"button=pay", headers=FORM)
        problem(response, 400, "invalid_signature")


def test_an_expired_page_is_410_not_a_provider_error(api: Client, clock: FixedClock) -> None:
    path = hosted_page(api)
    clock.advance(timedelta(hours=25))
    problem(api.http.get(path), 410, "page_expired")
    with nothing_written(api.tally):
        response = api.http.post(path, content=b"button=pay", headers=FORM)
        problem(response, 410, "page_expired")


def test_the_pages_state_their_form_and_their_4xx_in_openapi(api: Client) -> None:
    operation = api.http.get("/openapi.json").json()["paths"]["/v1/stub/checkout/{token}"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["properties"]["button"]["enum"] == ["pay", "cancel"]
    assert form["required"] == ["button"]
    assert "invalid_page_request" in operation["responses"]["400"]["description"]
    assert "page_expired" in operation["responses"]["410"]["description"]
    assert "502" not in operation["responses"]

"""A saved payment method's reference, given by the API's client, goes into a Paddle URL
(Paddle charges the subscription: ``POST /subscriptions/{id}/charge``). One that is not
a Paddle id never reaches Paddle: the call fails as refused, with nothing sent, instead
of charging whatever object a path such as ``sub_1/../../x`` resolves to."""

from __future__ import annotations

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.provider_shop import provider_project
from tests.integration.provider_fake import Reply, Seen

SECRETS = {"api_key": "pdl_key", "webhook_secret": "pdl_hook"}


def paddle(seen: Seen) -> Reply:
    return Reply(200, {"data": []})


@pytest.mark.parametrize(
    "reference",
    ["sub_01hv8x29kz0t586xy6zn1a62ny/../../customers", "..", "sub_%2E%2E", "sub_1?x=1"],
)
def test_a_malformed_saved_method_reference_never_reaches_paddle(
    settings: Settings, clock: FixedClock, reference: str
) -> None:
    with provider_project(settings, clock, paddle, "paddle", SECRETS) as (api, server):
        wallet = api.open_account("jo")
        body = {"amount": 700, "currency": "EUR", "payment_method": reference}
        topped = api.ok(api.post(f"/v1/accounts/{wallet}/top_ups", body), 201)
        call = topped["provider_call"]
        assert (call["state"], call["error_code"]) == ("failed", "provider_rejected")
        assert "is not a Paddle id" in call["last_error"]
        assert server.requests == []

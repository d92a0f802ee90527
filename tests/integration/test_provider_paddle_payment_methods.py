"""A saved method Tally detaches is deleted at Paddle (issue 18, item 2): the outbox's
``payment_method`` call through the real Paddle adapter against a fake Paddle API sends
``DELETE /customers/{ctm}/payment-methods/{paymtd}`` once; a retry that finds it gone
(404) is done; Paddle has no attach and no default, which the adapter refuses clearly
(and Tally's commands never ask: ``commands/payment_methods.SYNCED``)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from adapters.provider_requests import call_provider
from adapters.providers.base import PaymentMethodSync
from adapters.providers.paddle import PaddleProvider
from commands.payment_methods import SYNCED
from commands.provider_errors import ProviderUnsupported
from domain.provider_call_params import PaymentMethodParams
from domain.provider_calls import ProviderCall
from tests.integration.provider_fake import Reply, Seen, fake_api

CUSTOMER = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
METHOD = "paymtd_01hkm9xwqpbbpr1ksmvg3sx3v1"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def recorded(action: str) -> ProviderCall:
    params = PaymentMethodParams(action, METHOD, CUSTOMER, str(UUID(int=1)))
    return ProviderCall.request(
        project_id=uuid4(), provider="paddle", subject=action, params=params, now=NOW
    )


def test_a_detach_deletes_the_saved_method_once_and_a_retry_finds_it_gone() -> None:
    deleted: list[str] = []

    def paddle(seen: Seen) -> Reply:
        path = f"/customers/{CUSTOMER}/payment-methods/{METHOD}"
        if seen.method == "DELETE" and seen.path == path:
            if deleted:
                return Reply(404, {"error": {"type": "request_error", "code": "not_found"}})
            deleted.append(seen.path)
            return Reply(204, None)
        return Reply(404, {"error": {"type": "request_error", "code": "not_found"}})

    with fake_api(paddle) as api:
        provider = PaddleProvider(api_key="k", webhook_secret="s", api_base=api.url, timeout_s=2.0)
        try:
            call = recorded("detach")
            assert call_provider(provider, call)["action"] == "detach"
            assert call_provider(provider, call)["action"] == "detach"  # the retry
        finally:
            provider.close()
        sent = [(seen.method, seen.path) for seen in api.requests]
    assert sent == [("DELETE", f"/customers/{CUSTOMER}/payment-methods/{METHOD}")] * 2
    assert deleted == [f"/customers/{CUSTOMER}/payment-methods/{METHOD}"]


@pytest.mark.parametrize("action", ["attach", "set_default"])
def test_paddle_has_no_attach_and_no_default(action: str) -> None:
    provider = PaddleProvider(api_key="k", webhook_secret="s", api_base="http://127.0.0.1:9")
    try:
        assert isinstance(provider, PaymentMethodSync)
        assert action not in SYNCED["paddle"]
        with pytest.raises(ProviderUnsupported):
            call_provider(provider, recorded(action))
    finally:
        provider.close()

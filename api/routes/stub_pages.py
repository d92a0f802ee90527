"""The stub provider's hosted pages, served by Tally itself (``TALLY_PAYMENT_PROVIDER=stub``).

``GET /v1/stub/checkout/{token}`` shows the checkout (lines, total, test cards, Pay and
Cancel); its form posts back to the same address, which turns the pressed button into a
delivery signed with the stub's webhook secret and hands it to the same
``receive_delivery`` as ``POST /v1/webhooks/stub/{project}`` (signature check, dedup,
record), then redirects the browser (303) to the success or cancel URL. The signed
token in the address authorizes the page, as a provider's hosted session id does: it
is the customer's browser that holds it, not an API key. A malformed address or form or
an unknown button answers 400 ``invalid_page_request``, an expired page 410
``page_expired``; neither is a provider error.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from adapters.providers.stub import StubProvider
from adapters.providers.stub_checkout import (
    BUTTONS,
    MAX_CARD_CHARS,
    press_checkout_button,
    read_form,
    render_checkout_page,
    render_portal_page,
)
from api.auth import get_tally
from api.routes.common import problems
from api.routes.webhooks import receive_delivery
from api.tally import Tally
from commands.provider_errors import InvalidSignature
from domain.errors import NotFound

router = APIRouter(tags=["stub provider"])

# A client's mistake on a page is a 4xx, never a provider error (issue 10).
PAGE_PROBLEMS = ("invalid_page_request", "page_expired")

# The checkout page's form, as the route reads it (stub_checkout.read_form); stated here
# because the route reads the raw body rather than a pydantic model.
FORM = "application/x-www-form-urlencoded"
FORM_SCHEMA = {
    "type": "object",
    "properties": {
        "button": {"type": "string", "enum": list(BUTTONS)},
        "card_number": {"type": "string", "maxLength": MAX_CARD_CHARS},
    },
    "required": ["button"],
}

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
}


def _stub(tally: Tally) -> StubProvider:
    provider = tally.providers.default
    if not isinstance(provider, StubProvider):
        raise NotFound("this server does not run the stub provider")
    return provider


@router.get(
    "/v1/stub/checkout/{token}",
    response_class=HTMLResponse,
    summary="The stub's hosted checkout page",
    responses=problems("not_found", "invalid_signature", *PAGE_PROBLEMS, body=False),
)
def checkout_page(token: str, request: Request, error: str = "") -> HTMLResponse:
    tally = get_tally(request)
    stub = _stub(tally)
    merchant = _merchant(tally, stub, token)
    page = render_checkout_page(stub, token, error=error[:100], merchant=merchant)
    return HTMLResponse(page, headers=PAGE_HEADERS)


def _merchant(tally: Tally, stub: StubProvider, token: str) -> str:
    """The name of the project the checkout pays (its read model's), or "" when the
    token names none, which the page shows as Tally."""
    from projections.api_keys import get_project

    project_id = stub.session(token).project_id()
    if project_id is None:
        return ""
    project = get_project(tally.views, tally.schema, project_id)
    return str((project or {}).get("name") or "")


@router.post(
    "/v1/stub/checkout/{token}",
    response_class=RedirectResponse,
    status_code=303,
    summary="Press Pay or Cancel on the stub's checkout page",
    description="Form fields `button` (`pay` or `cancel`) and `card_number` (a test card, "
    "at most 32 characters), URL-encoded UTF-8, each at most once. The result is "
    "delivered through the signed webhook path, then the browser is redirected to the "
    "checkout's success or cancel URL. 400 `invalid_page_request`: a malformed page "
    "address or form, or an unknown button; 400 `invalid_signature`: an altered token; "
    "410 `page_expired`: the session is over a day old.",
    responses=problems("not_found", "invalid_signature", *PAGE_PROBLEMS),
    openapi_extra={"requestBody": {"required": True, "content": {FORM: {"schema": FORM_SCHEMA}}}},
)
async def press(token: str, request: Request) -> RedirectResponse:
    tally = get_tally(request)
    stub = _stub(tally)
    button, card = read_form(await request.body())
    result = press_checkout_button(stub, token, button, card)
    project_id = stub.session(token).project_id()
    if project_id is None:
        raise InvalidSignature("the checkout names no Tally project", provider="stub")
    await run_in_threadpool(
        receive_delivery,
        tally,
        "stub",
        project_id,
        result.webhook_headers,
        result.webhook_body,
        None,
    )
    return RedirectResponse(result.redirect_url, status_code=303)


@router.get(
    "/v1/stub/portal/{token}",
    response_class=HTMLResponse,
    summary="The stub's customer portal page",
    responses=problems("not_found", "invalid_signature", *PAGE_PROBLEMS, body=False),
)
def portal_page(token: str, request: Request) -> HTMLResponse:
    return HTMLResponse(render_portal_page(_stub(get_tally(request)), token), headers=PAGE_HEADERS)

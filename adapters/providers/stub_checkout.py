"""The stub's hosted pages, served by Tally itself, and what their buttons send back.

A route (wired later under ``CHECKOUT_PATH``) answers GET with ``render_checkout_page``
and the page's form POSTs ``button`` (``pay`` or ``cancel``) and ``card_number`` back to
the same address. ``press_checkout_button`` turns that into a signed webhook delivery for
``POST /v1/webhooks/stub/{project}`` (the same verify → dedup → record path as any
provider) and the address to send the browser to. The page is authorized by its signed
token: it is the customer's browser that holds it, not an API key.

``read_form`` reads the form body. What the browser (or anyone posting to the page) gets
wrong, a malformed address or form or a button the page does not have, is refused with
``InvalidPageRequest`` (400), an expired page with ``PageExpired`` (410): a client's
mistake is never reported as a provider error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qs

from adapters.providers.stub import (
    CHECKOUT_PATH,
    DECLINED,
    INSUFFICIENT_FUNDS,
    NAME,
    REQUIRES_ACTION,
    SUCCEEDS,
    StubProvider,
    StubSession,
    card_outcome,
    payment_method_for,
)
from commands.provider_errors import InvalidPageRequest
from commands.provider_events import EventType
from domain.money import minor_to_major

BUTTONS = ("pay", "cancel")
FORM_FIELDS = ("button", "card_number")
MAX_FORM_FIELDS = 8  # the page's form has two; a few more from a browser are ignored
MAX_CARD_CHARS = 32  # a test card number, with room for spaces between the groups

# Each test card and what it does, said once (no parentheses inside parentheses).
_CARD_LABELS = (
    (SUCCEEDS, "Succeeds"),
    (DECLINED, "Declined"),
    (INSUFFICIENT_FUNDS, "Declined: insufficient funds"),
    (REQUIRES_ACTION, "Asks for authentication, which passes on this page"),
)
# A declined payment sends the browser back to the page with the provider's code in
# ``?error=``; the page says it in words (any other text is shown as it came, escaped).
_ERRORS = {
    "generic_decline": "The card was declined. Try another card.",
    "insufficient_funds": "The card was declined for insufficient funds. Try another card.",
    "invalid_number": "That is not one of the test cards. Choose one below.",
}
# What the customer is asked to do, by checkout mode.
_HEADINGS = {
    "subscription": "Subscribe",
    "setup": "Start your trial",
    "item": "Pay",
    "cart": "Pay",
}


@dataclass(frozen=True)
class ButtonResult:
    """What pressing a button produced: a signed webhook delivery to post to Tally's
    stub webhook endpoint, and where to send the browser next."""

    webhook_headers: dict[str, str]
    webhook_body: bytes
    redirect_url: str


def render_checkout_page(
    provider: StubProvider, token: str, *, error: str = "", merchant: str = ""
) -> str:
    """The hosted page: who is paid (``merchant``, the project's name), what for (the
    lines, which name the product and, for a subscription, its period), the total, the
    test cards and the two buttons. Self-contained: inline style, no script, nothing
    loaded from elsewhere (its Content-Security-Policy forbids it anyway)."""
    session = provider.session(token)
    rows = "".join(
        f'<tr><td>{escape(str(line["name"]))}</td><td class="num">{int(line["quantity"])}</td>'
        f'<td class="num">'
        f"{_money(int(line['unit_amount_minor']) * int(line['quantity']), session.currency)}"
        "</td></tr>"
        for line in session.lines
    )
    cards = "".join(
        f'<label class="card"><input type="radio" name="card_number" value="{number}"'
        f"{' checked' if number == SUCCEEDS else ''}><span><b>{_grouped(number)}</b>"
        f"<small>{escape(label)}</small></span></label>"
        for number, label in _CARD_LABELS
    )
    said = _ERRORS.get(error, error)
    notice = f'<p class="error" role="alert">{escape(said)}</p>' if error else ""
    action = escape(CHECKOUT_PATH.format(token=token), quote=True)
    total = _money(session.total_minor, session.currency)
    seller = escape(merchant or "Tally")
    heading = _HEADINGS.get(session.mode, "Pay")
    pay = "Save card and start trial" if session.mode == "setup" else f"Pay {total}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}: {seller}</title>
<style>{PAGE_STYLE}</style></head><body>
<div class="test">Test mode: Tally's stub provider. No real money moves.</div>
<main><p class="merchant">{seller}</p>
<h1>{heading}</h1>
{notice}
<table><thead><tr><th>Item</th><th class="num">Qty</th><th class="num">Amount</th></tr></thead>
<tbody>{rows}</tbody>
<tfoot><tr class="total"><td colspan="2">Total due today</td>
<td class="num">{total}</td></tr></tfoot></table>
<form method="post" action="{action}">
<fieldset><legend>Test card</legend>{cards}</fieldset>
<button class="pay" type="submit" name="button" value="pay">{pay}</button>
<button class="cancel" type="submit" name="button" value="cancel" formnovalidate>Cancel and
return to {seller}</button>
</form></main></body></html>
"""


PAGE_STYLE = (
    "*{box-sizing:border-box}body{margin:0;background:#f4f5f7;color:#1f2933;"
    "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif}"
    ".test{background:#fff4e5;color:#8a4b00;text-align:center;font-size:.85rem;padding:.4rem}"
    "main{max-width:30rem;margin:2rem auto;background:#fff;border-radius:10px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.1);padding:2rem}"
    ".merchant{margin:0;color:#616e7c;font-weight:600;letter-spacing:.02em}"
    "h1{margin:.2rem 0 1.2rem;font-size:1.6rem}table{width:100%;border-collapse:collapse}"
    "th{text-align:left;font-size:.8rem;color:#616e7c;font-weight:600}"
    "td,th{padding:.5rem .3rem;border-bottom:1px solid #e4e7eb}"
    ".num{text-align:right;white-space:nowrap}"
    "th.num{text-align:right}.total td{font-weight:700;border-bottom:none;font-size:1.1rem}"
    "fieldset{border:none;padding:0;margin:1.2rem 0}legend{font-weight:600;margin-bottom:.5rem}"
    ".card{display:flex;gap:.7rem;align-items:center;border:1px solid #cbd2d9;"
    "border-radius:6px;padding:.55rem .8rem;margin-bottom:.4rem;cursor:pointer}"
    ".card span{display:flex;flex-direction:column}.card small{color:#616e7c}"
    ".card b{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:500}"
    "button{width:100%;font-size:1rem;border-radius:6px;padding:.75rem;cursor:pointer}"
    ".pay{background:#1f6feb;color:#fff;border:none;font-weight:600}"
    ".cancel{background:none;border:none;color:#616e7c;margin-top:.5rem}"
    ".error{background:#fde8e8;color:#9b1c1c;padding:.6rem .8rem;border-radius:6px}"
)


def press_checkout_button(
    provider: StubProvider, token: str, button: str, card_number: str = SUCCEEDS
) -> ButtonResult:
    """The signed webhook delivery for a button pressed on a checkout page. The token is
    checked first (it authorizes the page), then the button."""
    session = provider.session(token)
    if button not in BUTTONS:
        raise InvalidPageRequest(
            f"the form's button must be one of {', '.join(BUTTONS)}, not {button[:20]!r}",
            provider=NAME,
        )
    card = "".join(ch for ch in card_number if ch.isdigit())
    if button == "cancel":
        events = [_event(session, EventType.CHECKOUT_CANCELED, button, card)]
        redirect = session.cancel_url
    else:
        outcome = card_outcome(payment_method_for(card))
        # The customer is on the page, so a card that asks for authentication passes it
        # here; only off-session charges of that card are refused with requires_action.
        if outcome in ("succeeded", "requires_action"):
            events = [_event(session, EventType.CHECKOUT_COMPLETED, button, card)]
            if session.mode != "setup":  # a setup saves the card and charges nothing
                events.append(_event(session, EventType.PAYMENT_SUCCEEDED, button, card))
            redirect = session.success_url
        else:
            events = [_event(session, EventType.PAYMENT_FAILED, button, card, failure=outcome)]
            redirect = f"{provider.checkout_url(token)}?error={outcome}"
    headers, body = provider.sign_delivery(events)
    return ButtonResult(headers, body, redirect)


def read_form(body: bytes) -> tuple[str, str]:
    """The pressed button and the chosen card number from a checkout page's form body
    (``application/x-www-form-urlencoded``, UTF-8). A body that is not one, or that
    repeats a field, is refused as the caller's mistake; a missing button is left for
    ``press_checkout_button`` to refuse once the page's token has been checked."""
    try:
        form = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidPageRequest(
            "the form is not URL-encoded UTF-8 with at most "
            f"{MAX_FORM_FIELDS} fields (button, card_number)",
            provider=NAME,
        ) from None
    for name in FORM_FIELDS:
        if len(form.get(name, [])) > 1:
            raise InvalidPageRequest(f"the form holds {name} more than once", provider=NAME)
    button = form.get("button", [""])[0]
    card = form.get("card_number", [SUCCEEDS])[0]
    if len(card) > MAX_CARD_CHARS:
        raise InvalidPageRequest(
            f"card_number must be at most {MAX_CARD_CHARS} characters", provider=NAME
        )
    return button, card


def render_portal_page(provider: StubProvider, token: str) -> str:
    """The stub's customer portal: in stub mode payment methods are the test cards and
    Tally's own API manages subscriptions, so the page only says so and links back."""
    portal = provider.unseal("portal", token)
    back = escape(str(portal.get("return_url", "/")), quote=True)
    customer = escape(str(portal.get("customer_ref", "")))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Billing portal (Tally stub)</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto">
<h1>Billing portal</h1><p>Customer <code>{customer}</code> (stub provider, test mode).</p>
<p>Saved payment methods are test cards; subscriptions are managed through Tally's API.</p>
<p><a href="{back}">Return</a></p></body></html>
"""


def _event(
    session: StubSession, kind: EventType, button: str, card: str, *, failure: str | None = None
) -> dict[str, Any]:
    # The id depends only on what was pressed, so pressing the same button twice (a
    # double click, a reloaded form) delivers the same event id and is deduplicated.
    seed = f"{session.session_ref}:{button}:{card}:{kind}"
    event_id = f"stub_evt_{hashlib.sha256(seed.encode()).hexdigest()[:24]}"
    paid = kind in (EventType.CHECKOUT_COMPLETED, EventType.PAYMENT_SUCCEEDED)
    payment_ref = f"stub_pi_{hashlib.sha256(session.session_ref.encode()).hexdigest()[:24]}"
    return {
        "id": event_id,
        "type": str(kind),
        "data": {
            "object_ref": payment_ref if kind.startswith("payment.") else session.session_ref,
            "amount_minor": session.total_minor,
            "currency": session.currency,
            "status": "paid" if paid else (failure or "canceled"),
            "customer_ref": session.customer_ref,
            "payment_ref": payment_ref,
            "payment_method_ref": payment_method_for(card) if paid else None,
            "failure_reason": failure,
            "references": {**session.references, "tally_checkout_mode": session.mode},
        },
    }


def _grouped(number: str) -> str:
    """A card number as it is printed on a card, in groups of four digits."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _money(amount_minor: int, currency: str) -> str:
    return f"{escape(minor_to_major(amount_minor, currency))} {escape(currency)}"

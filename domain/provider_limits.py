"""What a payment provider takes, checked before Tally records a call to it.

Tally's own limits (``domain/limits/``) are wider than some providers': a name of up
to 200 characters (or of one), any ISO currency. Paddle refuses a checkout line named
in more than 150 characters or fewer than 2, and any of the currencies it does not sell
in; if Tally recorded such a call, the provider would answer 422 after Tally had
accepted the command and written its pending payment. So:

* what the customer sees and only the client can choose well (a checkout line's name,
  the currency of what is sold) is refused when the command arrives, with
  ``ProviderLimitExceeded`` naming the provider's limit and nothing written;
* what Tally writes itself for the provider's records (a one-time charge's price name
  and description, made from an invoice number or a top-up's description) is derived
  to fit by ``fitted``: cut with an ellipsis, or padded when too short.
"""

from __future__ import annotations

from domain.errors import ProviderLimitExceeded
from domain.limits import PADDLE_CURRENCIES, PADDLE_LINE_NAME_CHARS
from domain.provider_call_params import ChargeParams, CheckoutParams, RefundParams

ELLIPSIS = "…"
PAD = "."


def check_call(provider: str, params: CheckoutParams | ChargeParams | RefundParams) -> None:
    """Refuse a call the project's provider would refuse for its texts or currency."""
    if provider != "paddle":
        return
    if isinstance(params, CheckoutParams):
        low, high = PADDLE_LINE_NAME_CHARS
        for index, line in enumerate(params.lines):
            if not low <= len(line.name) <= high:
                raise ProviderLimitExceeded(
                    f"Paddle takes checkout line names of {low} to {high} characters; "
                    f"line {index} has {len(line.name)}",
                    provider=provider,
                    field=f"lines[{index}].name",
                    limit=f"{low}-{high} characters",
                )
    check_currency(provider, params.currency)


def check_currency(provider: str, currency: str) -> None:
    """Refuse a currency the provider does not sell in (Paddle: its 31)."""
    if provider == "paddle" and currency.upper() not in PADDLE_CURRENCIES:
        raise ProviderLimitExceeded(
            f"Paddle does not take {currency.upper()}: it sells in "
            f"{', '.join(sorted(PADDLE_CURRENCIES))}",
            provider=provider,
            field="currency",
            limit="Paddle's 31 currencies",
        )


def fitted(text: str, chars: tuple[int, int]) -> str:
    """``text`` made ``chars[0]`` to ``chars[1]`` characters long: cut with an ellipsis
    when longer (so a reader sees it was cut), padded with dots when shorter."""
    low, high = chars
    assert 1 <= low <= high, chars
    stripped = text.strip()
    if len(stripped) > high:
        return stripped[: high - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return stripped.ljust(low, PAD)

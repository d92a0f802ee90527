"""The money rules that span fields, in the words OpenAPI states them.

One field's limit is in its schema (``maximum``: MAX_AMOUNT_MINOR for an amount,
MAX_QUANTITY for a quantity). A product, a sum or a resulting balance cannot be a JSON
Schema keyword, so the request schemas say it in the description of the field it
concerns, with the code a refusal carries: a client (or a fuzzer) reading the document
knows why a schema-valid request was refused. The domain enforces these rules
(``domain.money.check_within_limit``); the texts only describe them.
"""

from __future__ import annotations

from domain.limits import MAX_AMOUNT_MINOR, MAX_QUANTITY

LIMIT = f"{MAX_AMOUNT_MINOR} (10^15) minor units"
REFUSAL = "otherwise 422 `amount_too_large`, nothing written"

AMOUNT = f"Minor units, greater than 0, at most {LIMIT}"
QUANTITY = f"A whole number from 1 to {MAX_QUANTITY}"
LINE = (
    f"quantity x unit_amount is at most {LIMIT}, and so are the invoice's subtotal, "
    f"discount, tax and total with this line and each line's tax and gross; {REFUSAL}"
)
INVOICE_LINES = (
    f"Each line's quantity x unit_amount, and the invoice's subtotal, discount, tax and "
    f"total, are each at most {LIMIT}; {REFUSAL}"
)
BALANCE = f"The account's ledger balance after it is at most {LIMIT}; {REFUSAL}"
TRANSFER = f"The receiving account's ledger balance after it is at most {LIMIT}; {REFUSAL}"
HOLD = (
    f"The account's held amount with this hold, and the destination account's balance "
    f"once captured, are at most {LIMIT}; {REFUSAL}"
)
REVERSAL = f"The account the money goes back to ends at most at {LIMIT}; {REFUSAL}"
CREDIT_BALANCE = f"The customer's credit balance after it is at most {LIMIT}; {REFUSAL}"
SUBSCRIPTION_ITEMS = (
    f"Each item's price for its quantity (unit_amount x quantity, or its tiers' sum) and "
    f"all items' amounts for a period together, with proration not yet billed, are at "
    f"most {LIMIT}; so are the first invoice's totals with tax; {REFUSAL}"
)
PRICE = (
    f"What the price costs for a quantity (unit_amount x quantity, or its tiers' sum) is "
    f"at most {LIMIT}; a subscription or checkout that would pass it is refused, {REFUSAL}"
)
CART_LINE = f"The cart's total (the sum of unit_amount x quantity) is at most {LIMIT}; {REFUSAL}"
CHECKOUT_LINE = (
    f"unit_amount x quantity (or the price's amount for it) is at most {LIMIT}; {REFUSAL}"
)

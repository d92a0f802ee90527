"""Command messages: frozen pydantic models, named in the imperative, one module per area
(``base``: ``Command`` and the shared types; ``ledger``; ``billing``: customers, catalog,
subscriptions, test clocks; ``invoicing``). Every message is importable from here too
(``from commands import messages as m``; ``m.Deposit``).

Amounts are ``StrictInt`` so that ``12.5`` and ``"1250"`` are refused rather than
coerced; the currency is checked against ISO 4217 here, before any handler runs.
"""

from commands.messages.base import *  # noqa: F403
from commands.messages.billing import *  # noqa: F403
from commands.messages.invoicing import *  # noqa: F403
from commands.messages.ledger import *  # noqa: F403

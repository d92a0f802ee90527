"""What the customer, catalog, subscription and test-clock routers share."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.routes.common import status_of, write_headers
from commands.bus import Outcome


def respond(outcome: Outcome, model: type[BaseModel]) -> JSONResponse:
    """Like ``common.respond``, but a null the command answered stays in the answer.

    These resources have meaningful nulls (``trial_end``, ``canceled_at``, ``next_due_at``,
    ``test_clock_id``) that a GET of the same resource shows, so only the fields the
    command did not answer at all (the read model's timestamps) are left out. Why this is
    not folded into ``common.respond``: see its docstring (either rule would change the
    other's answers)."""
    body = model.model_validate(outcome.body).model_dump(
        mode="json", by_alias=True, exclude_unset=True
    )
    return JSONResponse(body, status_code=status_of(outcome), headers=write_headers(outcome))

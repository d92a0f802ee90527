"""Every error the API answers, as an RFC 9457 problem document, mapped in ONE table.

Routes never catch errors. Domain errors, request validation errors, unknown routes and
the API's own refusals (oversized body, read model behind) all end up in the handlers
registered here, which look the machine ``code`` up in ``STATUS_BY_CODE``.

Status choices (documented in the OpenAPI description too):

* 422 when the request is well formed but asks for something the rules refuse because of
  its own content: invalid amount, unknown currency, currency mismatch, an amount,
  product, sum or resulting balance past the money limit (``amount_too_large``), and
  asking for more money than there is (``insufficient_funds``, ``capture_exceeds_hold``,
  ``reversal_exceeds_amount``). Retrying the same request cannot succeed until something
  else changes, and the body names the amounts involved.
* 409 when the request is fine but the resource's *state* forbids it (frozen, closed,
  not empty, hold no longer active or expired, illegal transaction transition, archived
  price, a test clock in a live-mode project), or when it collides with another request
  (already exists, idempotency key reused, concurrent update).
* ``clock_cannot_go_backwards`` is 422 like the amount refusals: the time asked for is
  the problem.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from adapters.database import DatabaseUnreachable
from domain.errors import DomainError

log = logging.getLogger("tally.api")

PROBLEM_JSON = "application/problem+json"


class ApiError(DomainError):
    """A refusal that belongs to the HTTP layer rather than to the domain."""

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, **context: Any
    ) -> None:
        super().__init__(detail, **context)
        self.headers = headers or {}


class MalformedJson(ApiError):
    code = "malformed_json"


class PayloadTooLarge(ApiError):
    code = "payload_too_large"


class ReadModelBehind(ApiError):
    code = "read_model_behind"


class ServiceUnavailable(ApiError):
    code = "service_unavailable"


class RateLimited(ApiError):
    """The caller's rate-limit bucket is empty (issue 14, ``api/rate_limits.py``);
    nothing was executed. Answers ``Retry-After`` and the draft ``RateLimit`` headers."""

    code = "rate_limited"


class PositionNotIssued(ApiError):
    """``wait_for_position`` beyond the log's head: no write has answered that position,
    so no wait can reach it (the 503 ``read_model_behind`` would have a client retry it
    for ever)."""

    code = "position_not_issued"


# The one table from machine code to HTTP status. A code missing here is a bug: the test
# suite checks that every DomainError subclass has an entry.
STATUS_BY_CODE: dict[str, int] = {
    "validation_error": 422,
    "invalid_amount": 422,
    "amount_too_large": 422,
    "unknown_currency": 422,
    "provider_limit_exceeded": 422,
    "invalid_combination": 422,
    "invalid_payment_reference": 422,
    "time_not_in_future": 422,
    "unknown_meter": 422,
    # Usage events (issue 13): per event in a batch, or the answer of a single one.
    "invalid_properties": 422,
    "unknown_event_name": 422,
    "timestamp_in_future": 422,
    # Exports (issue 15): a from/to that matches the pattern but names no real day.
    "invalid_window": 422,
    "invalid_catalog": 422,
    "usage_period_closed": 409,
    "cart_empty": 422,
    "credential_not_set": 422,
    "webhook_url_not_allowed": 422,
    "price_not_recurring": 422,
    "ambiguous_price": 422,
    "no_matching_price": 422,
    "not_refundable": 409,
    "limit_reached": 409,
    "tax_rate_archived": 409,
    "currency_mismatch": 422,
    "insufficient_funds": 422,
    "capture_exceeds_hold": 422,
    "reversal_exceeds_amount": 422,
    "clock_cannot_go_backwards": 422,
    "not_found": 404,
    "already_exists": 409,
    "account_frozen": 409,
    "account_closed": 409,
    "account_not_empty": 409,
    "hold_expired": 409,
    "hold_not_active": 409,
    "invalid_transition": 409,
    "test_clock_in_live_mode": 409,
    "price_archived": 409,
    # Invoicing (issue 4).
    "invoice_empty": 422,
    "invalid_percentage": 422,
    "payment_exceeds_remaining": 422,
    "credit_exceeds_paid": 422,
    "coupon_unavailable": 409,
    "card_declined": 402,
    # Prepaid credits (issue 13): 402, not 409 like a state conflict nor 422 like
    # insufficient_funds, because what the client must do is pay (top up or buy credits);
    # a retry of the same request cannot succeed until then, and 402 keeps a per-action
    # product's "out of credits" apart from its retryable 409s (concurrent_update).
    "insufficient_credits": 402,
    # A refund of credits bought (issue 13) is limited to what they still hold: a state
    # conflict, like a second void.
    "credits_already_spent": 409,
    "payment_requires_action": 402,
    "provider_unavailable": 503,
    "provider_rejected": 502,
    "provider_error": 502,
    "provider_unsupported": 422,
    "provider_misconfigured": 500,
    "invalid_signature": 400,
    # The stub's hosted pages (issue 10): a client's mistake there is never a provider's.
    "invalid_page_request": 400,
    "page_expired": 410,
    # Payment wiring (issue 5): a provider event whose object is not there yet is parked.
    "not_yet_applicable": 409,
    "provider_amount_mismatch": 409,
    "secret_storage_disabled": 409,
    "idempotency_key_reused": 409,
    "concurrent_update": 409,
    "unauthenticated": 401,
    "identity_provider_unavailable": 503,
    "rate_limited": 429,
    "malformed_json": 400,
    "bad_request": 400,
    "payload_too_large": 413,
    "method_not_allowed": 405,
    "read_model_behind": 503,
    "position_not_issued": 422,
    "service_unavailable": 503,
    "internal_error": 500,
    "domain_error": 422,
}

TITLES: dict[str, str] = {
    "validation_error": "The request is not valid",
    "invalid_amount": "The amount is not valid",
    "amount_too_large": "An amount, a sum or a balance would pass the limit",
    "unknown_currency": "Unknown currency",
    "provider_limit_exceeded": "The payment provider would refuse this text or currency",
    "invalid_combination": "Fields that go together do not",
    "invalid_payment_reference": "Not a payment id of this provider",
    "time_not_in_future": "The time is not in the future",
    "unknown_meter": "No meter of the project has this code",
    "invalid_properties": "The usage event's properties are not valid",
    "unknown_event_name": "No meter counts usage events of this name",
    "invalid_window": "The window's from or to is not a day or time that exists, or from "
    "is not before to",
    "invalid_catalog": "The price book is not a valid catalog file",
    "timestamp_in_future": "The timestamp is too far in the future",
    "usage_period_closed": "The usage event's period was already invoiced",
    "cart_empty": "The cart is empty",
    "credential_not_set": "A credential's environment variable is not set",
    "webhook_url_not_allowed": "Tally may not call this webhook URL",
    "price_not_recurring": "The price is not recurring",
    "ambiguous_price": "The name picks more than one price",
    "no_matching_price": "The plan has no price that fits",
    "not_refundable": "Not paid through a provider",
    "limit_reached": "A limit on how many is reached",
    "tax_rate_archived": "Tax rate is archived",
    "currency_mismatch": "Currency does not match",
    "insufficient_funds": "Insufficient funds",
    "capture_exceeds_hold": "Capture exceeds the hold",
    "reversal_exceeds_amount": "Reversal exceeds what is left",
    "not_found": "Not found",
    "already_exists": "Already exists",
    "account_frozen": "Account is frozen",
    "account_closed": "Account is closed",
    "account_not_empty": "Account is not empty",
    "hold_expired": "Hold has expired",
    "hold_not_active": "Hold is not active",
    "invalid_transition": "Transition not allowed",
    "clock_cannot_go_backwards": "A clock cannot go backwards",
    "test_clock_in_live_mode": "Test clocks are for test-mode projects",
    "price_archived": "Price is archived",
    "invoice_empty": "Invoice has no lines",
    "invalid_percentage": "Percentage outside 0 to 100",
    "payment_exceeds_remaining": "Payment exceeds what remains",
    "credit_exceeds_paid": "Credit exceeds what was paid or is owed",
    "coupon_unavailable": "Coupon or promotion code unavailable",
    "card_declined": "Card declined",
    "insufficient_credits": "The customer's credits cannot cover it",
    "credits_already_spent": "The credits refunded were spent",
    "payment_requires_action": "Payment requires the customer's action",
    "provider_unavailable": "Payment provider unavailable",
    "provider_rejected": "Payment provider refused the request",
    "provider_error": "Payment provider error",
    "provider_unsupported": "Not supported by this payment provider",
    "provider_misconfigured": "Payment provider misconfigured",
    "invalid_signature": "Invalid webhook signature",
    "invalid_page_request": "The page cannot take this request",
    "page_expired": "The page has expired",
    "not_yet_applicable": "Not applicable yet",
    "provider_amount_mismatch": "The provider reports another amount",
    "secret_storage_disabled": "This server cannot store secrets",
    "idempotency_key_reused": "Idempotency key reused",
    "concurrent_update": "Concurrent update",
    "unauthenticated": "Authentication required",
    "identity_provider_unavailable": "The identity provider's keys cannot be fetched",
    "rate_limited": "Too many requests",
    "malformed_json": "Malformed JSON",
    "bad_request": "Bad request",
    "payload_too_large": "Payload too large",
    "method_not_allowed": "Method not allowed",
    "read_model_behind": "Read model is behind",
    "position_not_issued": "No write has answered this position",
    "service_unavailable": "Service unavailable",
    "internal_error": "Internal error",
    "domain_error": "Request refused",
}

# Members RFC 9457 defines (plus ours); a domain error's context must not overwrite them.
_RESERVED = {"type", "title", "status", "detail", "instance", "code", "errors"}


def problem_type(code: str) -> str:
    # A URN: stable and unique without pretending to be a page that can be fetched.
    return f"urn:tally:problem:{code}"


def problem(
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    status: int | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response for ``code``; the status comes from the table."""
    status = status or STATUS_BY_CODE.get(code, 500)
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": TITLES.get(code, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    for key, value in extra.items():
        if key not in _RESERVED or key == "errors":
            body[key] = value
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = dict(getattr(exc, "headers", {}) or {})
    if exc.code == "unauthenticated":
        headers.setdefault("WWW-Authenticate", 'Bearer realm="tally"')
    if exc.code not in STATUS_BY_CODE:
        log.warning("no HTTP status for domain error code %r; answering 422", exc.code)
    context = {k: _jsonable(v) for k, v in exc.context.items() if k not in _RESERVED}
    return problem(
        exc.code,
        exc.detail,
        instance=request.url.path,
        headers=headers,
        status=STATUS_BY_CODE.get(exc.code, 422),
        **context,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


# Where ``api.auth.ApiKeyWriterAuth`` leaves the ``Writer`` of a key it took from the
# cache, in the request's ASGI scope, for ``confirm_key``.
UNCONFIRMED = "tally.unconfirmed_key"


async def confirm_key(request: Request) -> None:
    """Unauthenticated unless the key of a request authenticated from the write routes'
    key cache (``api.auth.ApiKeyWriterAuth``) still holds, read now. FastAPI checks the
    body and parameters after authenticating, so a 422 through a key revoked since it
    was cached would tell its holder the key was valid, with the validation's details:
    it is answered 401 instead, as any other answer through that key would be."""
    writer = request.scope.get(UNCONFIRMED)
    if writer is not None:
        await writer.confirm()


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    try:
        await confirm_key(request)
    except DomainError as refusal:
        return await _domain_error(request, refusal)
    raw = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in raw):
        reason = next(
            (err.get("ctx", {}).get("error", "") for err in raw if err["type"] == "json_invalid"),
            "",
        )
        return problem(
            "malformed_json",
            f"the request body is not valid JSON: {reason}".rstrip(": "),
            instance=request.url.path,
        )
    errors = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ())[1:]),
            "location": str(err.get("loc", ("",))[0]),
            "message": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in raw
    ]
    fields = ", ".join(e["field"] or e["location"] for e in errors)
    return problem(
        "validation_error",
        f"invalid fields: {fields}",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error"
    )
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route matches {request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem(code, detail, instance=request.url.path, headers=headers, status=exc.status_code)


def _allowed_methods(request: Request) -> list[str]:
    """Every method any route serves at this path. Starlette names only the first
    matching route's, and /v1/accounts has two routes (GET and POST); the OpenAPI paths
    list them all."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # DatabaseUnreachable names host and database only (adapters/database.py makes sure);
    # of a driver error only its class is logged, in case its text quotes a connection
    # string.
    reason = str(exc) if isinstance(exc, DatabaseUnreachable) else type(exc).__name__
    log.error("database unavailable: %s", reason)
    return problem(
        "service_unavailable",
        "the database is unreachable; try again shortly",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem("internal_error", "an unexpected error occurred", instance=request.url.path)


def install(app: FastAPI) -> None:
    """Register every handler on ``app``; routes rely on this and never catch."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DatabaseUnreachable, _database_error)
    # A lost connection or an exhausted pool mid-request: the same 503, never a 500.
    app.add_exception_handler(psycopg.OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected)

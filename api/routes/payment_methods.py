"""Saved payment methods (references only), carts, and the project's provider settings."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from adapters.outbox import provider_for
from api.auth import CallerDep, TallyDep
from api.routes.common import (
    IdempotencyKey,
    IdPath,
    PaymentMethodPath,
    Reader,
    execute,
    fetch_one,
    read_problems,
    respond,
    write_responses,
)
from api.routes.customers import customer_row
from api.schemas import payment_methods as s
from api.schemas.carts import Cart, CartItemRequest, CartRequest, CartResult
from api.schemas.payment_provider import ProviderSettingsRequest, ProviderSettingsResult
from commands import provider_messages as pm
from commands.provider_config import NO_SECRETS_KEY
from domain.provider_settings import ProviderSettings, SecretStorageDisabled

router = APIRouter()


@router.get(
    "/v1/payment_methods",
    response_model=s.PaymentMethods,
    tags=["payment methods"],
    summary="List a customer's payment methods",
    responses=read_problems("not_found"),
)
def list_methods(
    customer_id: Annotated[UUID, Query()], tally: TallyDep, caller: Reader
) -> s.PaymentMethods:
    from projections.payments import get_payment_methods

    customer_row(tally, caller, customer_id)
    row = get_payment_methods(tally.views, tally.schema, caller.project_id, customer_id)
    if row is None:
        return s.PaymentMethods(customer_id=customer_id, default=None, data=[])
    return s.PaymentMethods.model_validate(row)


@router.post(
    "/v1/payment_methods",
    response_model=s.PaymentMethodsResult,
    tags=["payment methods"],
    summary="Attach a payment method",
    description="Attach the reference the provider's setup flow returned (Stripe "
    "`pm_...`, stub `stub_pm_<test card>`). A completed checkout attaches the method it "
    "saved by itself. Card numbers are refused: they never touch Tally.",
    responses=write_responses(200, "not_found", "limit_reached"),
)
def attach(
    body: s.AttachRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    provider = provider_for(tally, caller.project_id).name
    command = pm.AttachPaymentMethod(provider=provider, **body.model_dump())
    return respond(execute(tally, caller, command, key), s.PaymentMethodsResult, exclude_none=False)


@router.post(
    "/v1/payment_methods/{payment_method}/detach",
    response_model=s.PaymentMethodsResult,
    tags=["payment methods"],
    summary="Detach a payment method",
    responses=write_responses(200, "not_found"),
)
def detach(
    payment_method: PaymentMethodPath,
    body: s.PaymentMethodRef,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = pm.DetachPaymentMethod(customer_id=body.customer_id, payment_method=payment_method)
    return respond(execute(tally, caller, command, key), s.PaymentMethodsResult, exclude_none=False)


@router.post(
    "/v1/payment_methods/{payment_method}/default",
    response_model=s.PaymentMethodsResult,
    tags=["payment methods"],
    summary="Make a payment method the default",
    responses=write_responses(200, "not_found"),
)
def set_default(
    payment_method: PaymentMethodPath,
    body: s.PaymentMethodRef,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = pm.SetDefaultPaymentMethod(
        customer_id=body.customer_id, payment_method=payment_method
    )
    return respond(execute(tally, caller, command, key), s.PaymentMethodsResult, exclude_none=False)


@router.post(
    "/v1/carts",
    status_code=201,
    response_model=CartResult,
    tags=["checkout"],
    summary="Create a cart",
    responses=write_responses(201, "not_found", "currency_mismatch", "unknown_currency"),
)
def create_cart(
    body: CartRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = pm.CreateCart(**body.model_dump())
    return respond(execute(tally, caller, command, key), CartResult)


@router.get(
    "/v1/carts/{cart_id}",
    response_model=Cart,
    tags=["checkout"],
    summary="Get a cart",
    responses=read_problems("not_found"),
)
def get_cart(cart_id: UUID, tally: TallyDep, caller: Reader) -> Cart:
    from projections.payments import get_cart as query

    return fetch_one(Cart, query, tally, caller, cart_id, "cart")


@router.post(
    "/v1/carts/{cart_id}/items",
    response_model=CartResult,
    tags=["checkout"],
    summary="Add an item to a cart",
    description="The line names a `price_id`, or else its `name`, `unit_amount` and "
    "`currency` (else 422 `invalid_combination`). A free price (amount 0) is not sold "
    "through a cart: 422 `invalid_amount`.",
    responses=write_responses(
        200,
        "invalid_amount",
        "limit_reached",
        "not_found",
        "currency_mismatch",
        "price_archived",
        "invalid_transition",
        "amount_too_large",
        "invalid_combination",
        "unknown_currency",
    ),
)
def add_item(
    cart_id: UUID,
    body: CartItemRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = pm.AddCartItem(cart_id=cart_id, line=body.line)
    return respond(execute(tally, caller, command, key), CartResult)


@router.post(
    "/v1/carts/{cart_id}/items/{line_id}/remove",
    response_model=CartResult,
    tags=["checkout"],
    summary="Remove an item from a cart",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def remove_item(
    cart_id: UUID, line_id: IdPath, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = pm.RemoveCartItem(cart_id=cart_id, line_id=line_id)
    return respond(execute(tally, caller, command, key), CartResult)


@router.get(
    "/v1/payment_provider",
    response_model=ProviderSettingsResult,
    tags=["payment provider"],
    summary="The project's payment provider",
    description="Where each credential comes from (`credentials`: `env:NAME` or "
    "`encrypted`), and for variables whether each is set; never a secret nor its "
    "ciphertext.",
    responses=read_problems(),
)
def get_settings(tally: TallyDep, caller: Reader) -> ProviderSettingsResult:
    from projections.payments import get_provider_settings

    row = get_provider_settings(tally.views, tally.schema, caller.project_id)
    chosen = row or {"provider": tally.providers.default_name, "credential_env": {}}
    env = tally.providers.environ
    named = dict(chosen.get("credential_env") or {})
    shown = {
        "provider": chosen["provider"] or tally.providers.default_name,
        "project_specific": row is not None,
        "credential_env": {
            purpose: {"env": name, "set": bool(env.get(name))} for purpose, name in named.items()
        },
        # Rows projected before encrypted credentials existed have no "credentials".
        "credentials": chosen.get("credentials")
        or {purpose: f"env:{name}" for purpose, name in sorted(named.items())},
        "api_base": chosen.get("api_base"),
    }
    return ProviderSettingsResult(payment_provider=shown)


@router.post(
    "/v1/payment_provider",
    response_model=ProviderSettingsResult,
    tags=["payment provider"],
    summary="Choose the project's payment provider",
    description="Each credential is named by environment variable (`credential_env`) or "
    "sent to be stored encrypted (`credentials`, needs the server's TALLY_SECRETS_KEY; "
    "never shown again), each purpose one way and only the purposes the provider takes "
    "(else 422 `invalid_combination`): stripe and paddle `api_key`, `webhook_secret`; "
    "yookassa `shop_id`, `secret_key`; stub `webhook_secret`. The provider is built at "
    "once from them: a missing variable is "
    "refused (422 `credential_not_set`) and nothing is recorded. Each call replaces the "
    "whole configuration.",
    responses=write_responses(
        200,
        "provider_misconfigured",
        "secret_storage_disabled",
        "credential_not_set",
        "invalid_combination",
    ),
)
def configure(
    body: ProviderSettingsRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    secrets = {purpose: value.get_secret_value() for purpose, value in body.credentials.items()}
    # Refuse settings that cannot build a provider, or secrets that cannot be stored,
    # before recording anything.
    ProviderSettings.check(body.provider, dict(body.credential_env), tuple(secrets))
    box = tally.providers.secrets
    if secrets and box is None:
        raise SecretStorageDisabled(NO_SECRETS_KEY)
    tally.providers.check(body.model_dump(exclude={"credentials"}), secrets)
    command = pm.ConfigurePaymentProvider(
        provider=body.provider,
        credential_env=body.credential_env,
        credentials=body.credentials,
        credentials_digest=box.digest(secrets) if box is not None and secrets else "",
        api_base=body.api_base,
    )
    return respond(execute(tally, caller, command, key), ProviderSettingsResult)

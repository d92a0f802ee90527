"""Calls to providers over httpx, with transport failures mapped to typed errors.

Timeouts, connection failures, 429 and 5xx become ``ProviderUnavailable`` (retry later
with the same idempotency key); 401 and 403 become ``ProviderMisconfigured`` naming the
environment variable whose credential was refused. Other answers go back to the adapter,
which knows what the provider's 4xx bodies mean.
"""

from __future__ import annotations

from typing import Any

import httpx

from commands.provider_errors import ProviderMisconfigured, ProviderUnavailable


def new_client(base_url: str, timeout_s: float, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=timeout_s, **kwargs)


def send(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    provider: str,
    credential_names: str,
    json: object | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    try:
        response = client.request(method, path, json=json, headers=headers, params=params)
    except httpx.TimeoutException as error:
        raise ProviderUnavailable(
            f"{provider} did not answer {method} {path} in time", provider=provider
        ) from error
    except httpx.TransportError as error:
        raise ProviderUnavailable(
            f"{provider} could not be reached for {method} {path}: {type(error).__name__}",
            provider=provider,
        ) from error
    if response.status_code == 429 or response.status_code >= 500:
        raise ProviderUnavailable(
            f"{provider} answered {response.status_code} to {method} {path}",
            provider=provider,
            status=response.status_code,
        )
    if response.status_code in (401, 403):
        raise ProviderMisconfigured(
            f"{provider} refused the credentials from {credential_names} "
            f"({response.status_code} on {method} {path})",
            provider=provider,
        )
    return response


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

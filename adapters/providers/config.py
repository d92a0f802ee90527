"""Payment provider settings, read from ``TALLY_*`` environment variables.

Credentials are never settings themselves: a setting holds the *name* of the environment
variable that holds the secret (``TALLY_STRIPE_API_KEY_ENV=STRIPE_API_KEY``). The names
must look like environment variable names, which also stops a pasted secret
(``sk_live_...``) from ending up in a setting. Values are read once, when the provider is
built, and live only inside the provider; ``redacted()`` shows what is configured
without showing any secret.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from commands.provider_errors import ProviderMisconfigured

ProviderName = Literal["stripe", "paddle", "yookassa", "stub"]
EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]

# Addresses YooKassa documents as the senders of its notifications. Not the default
# (lists change); copy them into TALLY_YOOKASSA_ALLOWED_SOURCES after checking the docs.
YOOKASSA_DOCUMENTED_SOURCES = (
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "2a02:5180::/32",
)


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_", extra="ignore")

    payment_provider: ProviderName = Field(
        default="stub", description="The provider used by projects that do not choose one."
    )
    provider_timeout_s: float = Field(default=10.0, gt=0, le=120)
    webhook_tolerance_s: int = Field(
        default=300, ge=30, le=3600, description="Oldest webhook signature accepted."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Tally's own address as browsers reach it (the stub's hosted pages). "
        "Unset, tally serve uses the address it listens on (TALLY_HOST, TALLY_PORT).",
    )

    stripe_api_base: str = "https://api.stripe.com"
    stripe_api_key_env: EnvName = "STRIPE_API_KEY"
    stripe_webhook_secret_env: EnvName = "STRIPE_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)

    paddle_api_base: str = Field(
        default="https://api.paddle.com",
        description="https://sandbox-api.paddle.com for a sandbox account.",
    )
    paddle_api_key_env: EnvName = "PADDLE_API_KEY"
    paddle_webhook_secret_env: EnvName = "PADDLE_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
    paddle_checkout_url: str = Field(
        default="",
        max_length=2048,
        pattern=r"^(https://[^\x00-\x20\x7f-\x9f]+)?$",
        description="A page of a domain approved at Paddle that opens Paddle.js: each "
        "checkout transaction names it (Paddle's checkout.url). Empty: the account's "
        "default payment link.",
    )

    yookassa_api_base: str = "https://api.yookassa.ru"
    yookassa_shop_id_env: EnvName = "YOOKASSA_SHOP_ID"
    yookassa_secret_key_env: EnvName = "YOOKASSA_SECRET_KEY"  # noqa: S105 (a variable name)
    yookassa_allowed_sources: list[str] = Field(
        default_factory=list,
        description="CIDRs notifications may come from; empty accepts any address "
        "(each notification is still confirmed through the API).",
    )

    stub_webhook_secret_env: EnvName = "TALLY_STUB_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
    stub_secret_file: Path = Field(
        default=Path("./var/stub_webhook_secret"),
        description="Used when the stub's secret variable is unset: created on first use "
        "(mode 0600), so a fresh machine works offline and all workers share it.",
    )

    @field_validator("yookassa_allowed_sources")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    def credential_names(self, provider: ProviderName | None = None) -> dict[str, str]:
        """Which environment variables hold the provider's secrets, by purpose."""
        match provider or self.payment_provider:
            case "stripe":
                return {
                    "api_key": self.stripe_api_key_env,
                    "webhook_secret": self.stripe_webhook_secret_env,
                }
            case "paddle":
                return {
                    "api_key": self.paddle_api_key_env,
                    "webhook_secret": self.paddle_webhook_secret_env,
                }
            case "yookassa":
                return {
                    "shop_id": self.yookassa_shop_id_env,
                    "secret_key": self.yookassa_secret_key_env,
                }
            case _:
                return {"webhook_secret": self.stub_webhook_secret_env}

    def redacted(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The settings with each credential shown as its variable name and whether it is
        set, never its value; safe to log and to return from an API."""
        env = environ if environ is not None else os.environ
        shown = self.model_dump(mode="json")
        shown["credentials"] = {
            purpose: {"env": name, "set": bool(env.get(name))}
            for purpose, name in self.credential_names().items()
        }
        return shown


def read_secret(environ: Mapping[str, str], name: str, *, provider: str, setting: str) -> str:
    """The secret in ``environ[name]``, or ProviderMisconfigured naming the variable."""
    value = environ.get(name, "").strip()
    if not value:
        raise ProviderMisconfigured(
            f"TALLY_PAYMENT_PROVIDER={provider} needs the environment variable {name} "
            f"(named by TALLY_{setting.upper()}), and it is not set",
            provider=provider,
            variable=name,
        )
    return value

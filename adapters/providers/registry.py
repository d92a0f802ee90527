"""Build the configured payment provider, or refuse to start with one clear line.

``build_provider(settings)`` reads the credentials from the environment variables the
settings name. A missing one raises ``ProviderMisconfigured`` naming the variable (never
a value), which the composition root turns into a refusal to start.

A project's provider may also be given ``secrets`` (purpose -> plaintext, decrypted by
``adapters.provider_directory`` from what the project stored encrypted); a purpose found
there is not looked up in the environment.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from adapters.providers.base import Clock, PaymentProvider
from adapters.providers.config import ProviderName, ProviderSettings, read_secret
from adapters.providers.paddle import PaddleProvider
from adapters.providers.stripe import StripeProvider
from adapters.providers.stub import StubProvider
from adapters.providers.yookassa import YooKassaProvider
from commands.provider_errors import ProviderMisconfigured

Builder = Callable[[ProviderSettings, "Credentials", Clock | None], PaymentProvider]


class Credentials:
    """Where a builder gets each secret: the project's decrypted ones first, then the
    environment variable the settings name for the purpose."""

    def __init__(self, environ: Mapping[str, str], secrets: Mapping[str, str]) -> None:
        self.environ = environ
        self.secrets = secrets

    def get(self, settings: ProviderSettings, provider: str, purpose: str) -> str:
        if purpose in self.secrets:
            return self.secrets[purpose]
        setting = f"{provider}_{purpose}_env"
        name: str = getattr(settings, setting)
        return read_secret(self.environ, name, provider=provider, setting=setting)


def build_provider(
    settings: ProviderSettings,
    environ: Mapping[str, str] | None = None,
    *,
    name: ProviderName | None = None,
    clock: Clock | None = None,
    secrets: Mapping[str, str] | None = None,
) -> PaymentProvider:
    """The provider ``name`` (default: ``settings.payment_provider``); ``secrets``
    (purpose -> plaintext) win over the environment variables."""
    chosen = name or settings.payment_provider
    builder = BUILDERS.get(chosen)
    if builder is None:
        raise ProviderMisconfigured(
            f"unknown payment provider {chosen!r}; choose one of {sorted(BUILDERS)}",
            provider=str(chosen),
        )
    env = os.environ if environ is None else environ
    return builder(settings, Credentials(env, secrets or {}), clock)


def _stripe(s: ProviderSettings, creds: Credentials, clock: Clock | None) -> PaymentProvider:
    return StripeProvider(
        api_key=creds.get(s, "stripe", "api_key"),
        webhook_secret=creds.get(s, "stripe", "webhook_secret"),
        api_base=s.stripe_api_base,
        timeout_s=s.provider_timeout_s,
        max_network_retries=s.stripe_max_network_retries,
        tolerance_s=s.webhook_tolerance_s,
        credential_names=_named(creds, s.stripe_api_key_env, "api_key"),
        clock=clock,
    )


def _paddle(s: ProviderSettings, creds: Credentials, clock: Clock | None) -> PaymentProvider:
    return PaddleProvider(
        api_key=creds.get(s, "paddle", "api_key"),
        webhook_secret=creds.get(s, "paddle", "webhook_secret"),
        api_base=s.paddle_api_base,
        timeout_s=s.provider_timeout_s,
        tolerance_s=s.webhook_tolerance_s,
        credential_names=_named(creds, s.paddle_api_key_env, "api_key"),
        checkout_url=s.paddle_checkout_url or None,
        clock=clock,
    )


def _yookassa(s: ProviderSettings, creds: Credentials, _: Clock | None) -> PaymentProvider:
    return YooKassaProvider(
        shop_id=creds.get(s, "yookassa", "shop_id"),
        secret_key=creds.get(s, "yookassa", "secret_key"),
        api_base=s.yookassa_api_base,
        timeout_s=s.provider_timeout_s,
        allowed_sources=s.yookassa_allowed_sources,
        credential_names=(
            f"{_named(creds, s.yookassa_shop_id_env, 'shop_id')}/"
            f"{_named(creds, s.yookassa_secret_key_env, 'secret_key')}"
        ),
    )


def _stub(s: ProviderSettings, creds: Credentials, clock: Clock | None) -> PaymentProvider:
    secret = creds.secrets.get("webhook_secret") or stub_secret(s, creds.environ)
    return StubProvider(
        webhook_secret=secret,
        public_base_url=s.public_base_url,
        tolerance_s=s.webhook_tolerance_s,
        clock=clock,
    )


def _named(creds: Credentials, variable: str, purpose: str) -> str:
    """How an error message names where a credential came from (never its value)."""
    return f"the project's encrypted {purpose}" if purpose in creds.secrets else variable


def stub_secret(settings: ProviderSettings, environ: Mapping[str, str]) -> str:
    """The stub's signing secret: the named variable, else a file created once with a
    random secret, so a fresh machine needs no set-up and every worker agrees."""
    value = environ.get(settings.stub_webhook_secret_env, "").strip()
    if value:
        return value
    path = Path(settings.stub_secret_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create_secret_file(path)
        stored = path.read_text().strip()
    except OSError as error:
        raise ProviderMisconfigured(
            f"cannot use the stub secret file {path} ({error.strerror}); set "
            f"{settings.stub_webhook_secret_env}",
            provider="stub",
        ) from None
    if not stored:
        raise ProviderMisconfigured(
            f"the stub secret file {path} is empty; delete it or set "
            f"{settings.stub_webhook_secret_env}",
            provider="stub",
        )
    return stored


def _create_secret_file(path: Path) -> None:
    # Written whole under a private name, then linked into place: link fails if the file
    # exists, so when two workers start together exactly one secret wins and neither
    # can read a half-written file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


BUILDERS: dict[str, Builder] = {
    "stripe": _stripe,
    "paddle": _paddle,
    "yookassa": _yookassa,
    "stub": _stub,
}

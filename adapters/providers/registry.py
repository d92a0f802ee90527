"""Build the configured payment provider, or refuse to start with one clear line.

``build_provider(settings)`` reads the credentials from the environment variables the
settings name. A missing one raises ``ProviderMisconfigured`` naming the variable (never
a value), which the composition root turns into a refusal to start.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from adapters.providers.base import Clock, PaymentProvider
from adapters.providers.config import ProviderName, ProviderSettings, read_secret
from adapters.providers.errors import ProviderMisconfigured
from adapters.providers.paddle import PaddleProvider
from adapters.providers.stripe import StripeProvider
from adapters.providers.stub import StubProvider
from adapters.providers.yookassa import YooKassaProvider

Builder = Callable[[ProviderSettings, Mapping[str, str], Clock | None], PaymentProvider]


def build_provider(
    settings: ProviderSettings,
    environ: Mapping[str, str] | None = None,
    *,
    name: ProviderName | None = None,
    clock: Clock | None = None,
) -> PaymentProvider:
    """The provider ``name`` (default: ``settings.payment_provider``)."""
    chosen = name or settings.payment_provider
    builder = BUILDERS.get(chosen)
    if builder is None:
        raise ProviderMisconfigured(
            f"unknown payment provider {chosen!r}; choose one of {sorted(BUILDERS)}",
            provider=str(chosen),
        )
    return builder(settings, os.environ if environ is None else environ, clock)


def _stripe(s: ProviderSettings, env: Mapping[str, str], clock: Clock | None) -> PaymentProvider:
    return StripeProvider(
        api_key=read_secret(
            env, s.stripe_api_key_env, provider="stripe", setting="stripe_api_key_env"
        ),
        webhook_secret=read_secret(
            env, s.stripe_webhook_secret_env, provider="stripe", setting="stripe_webhook_secret_env"
        ),
        api_base=s.stripe_api_base,
        timeout_s=s.provider_timeout_s,
        max_network_retries=s.stripe_max_network_retries,
        tolerance_s=s.webhook_tolerance_s,
        credential_names=s.stripe_api_key_env,
        clock=clock,
    )


def _paddle(s: ProviderSettings, env: Mapping[str, str], clock: Clock | None) -> PaymentProvider:
    return PaddleProvider(
        api_key=read_secret(
            env, s.paddle_api_key_env, provider="paddle", setting="paddle_api_key_env"
        ),
        webhook_secret=read_secret(
            env, s.paddle_webhook_secret_env, provider="paddle", setting="paddle_webhook_secret_env"
        ),
        api_base=s.paddle_api_base,
        timeout_s=s.provider_timeout_s,
        tolerance_s=s.webhook_tolerance_s,
        credential_names=s.paddle_api_key_env,
        clock=clock,
    )


def _yookassa(s: ProviderSettings, env: Mapping[str, str], _: Clock | None) -> PaymentProvider:
    return YooKassaProvider(
        shop_id=read_secret(
            env, s.yookassa_shop_id_env, provider="yookassa", setting="yookassa_shop_id_env"
        ),
        secret_key=read_secret(
            env, s.yookassa_secret_key_env, provider="yookassa", setting="yookassa_secret_key_env"
        ),
        api_base=s.yookassa_api_base,
        timeout_s=s.provider_timeout_s,
        allowed_sources=s.yookassa_allowed_sources,
        credential_names=f"{s.yookassa_shop_id_env}/{s.yookassa_secret_key_env}",
    )


def _stub(s: ProviderSettings, env: Mapping[str, str], clock: Clock | None) -> PaymentProvider:
    return StubProvider(
        webhook_secret=stub_secret(s, env),
        public_base_url=s.public_base_url,
        tolerance_s=s.webhook_tolerance_s,
        clock=clock,
    )


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

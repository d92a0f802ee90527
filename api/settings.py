"""All of Tally's settings, in one class, read from ``TALLY_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.audit_checkpoint import KeyInvalid, signing_key
from adapters.broker import DEFAULT_NAME, NAME_PATTERN, BrokerTarget, BrokerUrlInvalid
from adapters.secrets import SecretsKeyInvalid, parse_keys
from api.proxies import parse_trusted_proxies
from domain.limits import MAX_REVISION_FAN_OUT, MAX_WEBHOOK_SEND_S


class Settings(BaseSettings):
    # A refused setting is not quoted back: broker URLs and keys hold secrets.
    model_config = SettingsConfigDict(
        env_prefix="TALLY_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str | None = Field(
        default=None,
        description="Postgres URL. Unset: start the embedded Postgres under data_dir.",
    )
    data_dir: Path = Field(default=Path("./var"), description="Embedded Postgres lives here.")
    db_schema: str = Field(
        default="tally",
        pattern=r"^[a-z_][a-z0-9_]{0,40}$",
        description="Schema for the event store, read models and tracking.",
    )
    pool_size: int = Field(default=10, ge=1, le=200)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = Field(default="info", pattern="^(debug|info|warning|error)$")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    run_projections: bool = Field(default=True, description="Run the projection worker in serve.")
    projection_process: bool = Field(
        default=True,
        description="serve runs the projection worker in a process of its own (else in each "
        "server worker's process, one of them active).",
    )
    projection_linger_ms: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="The projection process waits this long after the log's notification "
        "before it reads, so that under load one batch holds several commits.",
    )
    run_sweeper: bool = Field(default=True, description="Run the hold-expiry sweep in serve.")
    sweep_interval_s: float = Field(default=5.0, gt=0, le=3600)
    run_scheduler: bool = Field(
        default=True, description="Run the subscription scheduler (renewals, trial ends) in serve."
    )
    scheduler_interval_s: float = Field(default=10.0, gt=0, le=3600)
    scheduler_batch: int = Field(
        default=500, ge=1, le=100_000, description="Due subscriptions handled per scheduler pass."
    )
    group_commit_max: int = Field(default=256, ge=1, le=10_000)
    max_retries: int = Field(default=8, ge=1, le=100)
    read_wait_max_ms: int = Field(default=5000, ge=0, le=60_000)
    projection_batch: int = Field(default=2000, ge=1, le=100_000)
    max_revision_fan_out: int = Field(
        default=MAX_REVISION_FAN_OUT,
        ge=1,
        le=MAX_REVISION_FAN_OUT,
        description="The most customers a product revision may change the entitlements "
        "of (domain/limits/ MAX_REVISION_FAN_OUT); more answers 409 limit_reached.",
    )
    run_outbox: bool = Field(
        default=True,
        description="Run the outbox worker in serve (provider calls, provider events).",
    )
    outbox_interval_s: float = Field(default=1.0, gt=0, le=3600)
    claims_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Connections for provider-call claims (adapters/outbox_claims.py), "
        "apart from the read models' pool: one per provider call in flight.",
    )
    run_webhooks: bool = Field(
        default=True,
        description="Deliver integration events to webhook endpoints in serve (issue 12).",
    )
    webhook_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_WEBHOOK_SEND_S,
        description="How long a webhook send may take in all, connecting and the whole "
        "answer included (a deadline, however the receiver paces its bytes).",
    )
    webhook_attempts_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="How long webhook delivery attempts (/v1/webhook_deliveries) are kept; "
        "older ones are pruned by the delivery's background pass (the endpoints' places stay).",
    )
    broker_url: SecretStr | None = Field(
        default=None,
        description="Where integration events are published besides webhooks (issue 12): "
        "amqp://... for RabbitMQ, redis://... for Redis Streams. Unset: no broker.",
    )
    broker_exchange: str = Field(
        default=DEFAULT_NAME,
        pattern=NAME_PATTERN,
        description="The RabbitMQ topic exchange, or the Redis stream, events go to.",
    )
    broker_batch: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Events per publish batch (one round of confirmations, one commit).",
    )
    broker_interval_s: float = Field(
        default=0.1, gt=0, le=60, description="How often the broker publisher looks for events."
    )
    run_broker_publisher: bool = Field(
        default=True,
        description="Publish integration events to the broker in serve, when broker_url is "
        "set (else run tally broker publish beside it).",
    )
    run_inbound: bool = Field(
        default=True,
        description="Consume commands from each project's queue on the broker in serve, "
        "when broker_url is set (issue 12, commands in).",
    )
    inbound_refresh_s: float = Field(
        default=5.0, gt=0, le=3600, description="How often the consumer looks for new projects."
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://host:port/db where rate-limit buckets are counted, shared by "
        "every server worker (issue 14). Unset: each process counts its own.",
    )
    rate_limit_prefix: str = Field(
        default="tally",
        pattern=r"^[A-Za-z0-9_.:-]{1,60}$",
        description="Prefix of the rate-limit keys in Redis (then the schema's name).",
    )
    trusted_proxies: str = Field(
        default="",
        description="IP networks (CIDR, comma separated) of the reverse proxies in front of "
        "Tally: from them alone X-Forwarded-For names the client, for the buckets counted "
        "per address (docs/operations.md). Unset: the header is ignored.",
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Fernet keys, comma separated, newest first, that encrypt the provider "
        "credentials projects store. Unset: projects can only name environment variables.",
    )
    audit_signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 private key (32 bytes, base64; tally audit keygen) that signs "
        "audit checkpoints (docs/audit.md).",
    )
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="A file holding that key instead (read when a checkpoint is signed).",
    )

    @field_validator("audit_signing_key")
    @classmethod
    def _ed25519_key(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked at start like the secrets key; the error never quotes the key.
        if value is not None:
            try:
                signing_key(value.get_secret_value())
            except KeyInvalid as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        return parse_trusted_proxies(value)  # checked at start: a typo trusts no one silently

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        # The error never quotes the URL (it may hold a password).
        if value is not None and not value.get_secret_value():
            return None  # TALLY_REDIS_URL= (empty) is unset
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://")):
            raise ValueError("must be a redis:// or rediss:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked at start, like the secrets key; the error never quotes the URL (it may
        # hold a password).
        if value is not None and not value.get_secret_value():
            return None  # TALLY_BROKER_URL= (empty) is unset
        if value is not None:
            try:
                BrokerTarget.parse(value.get_secret_value())
            except BrokerUrlInvalid as error:
                raise ValueError(str(error)) from None
        return value

    def broker_target(self) -> BrokerTarget | None:
        """The broker events are published to, or None when ``broker_url`` is unset."""
        if self.broker_url is None:
            return None
        return BrokerTarget.parse(self.broker_url.get_secret_value(), self.broker_exchange)

    @field_validator("secrets_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked at start, so a malformed key refuses to start instead of failing the
        # first request that stores or needs a secret. The error never quotes the key.
        if value is not None:
            try:
                parse_keys(value.get_secret_value())
            except SecretsKeyInvalid as error:
                raise ValueError(str(error)) from None
        return value

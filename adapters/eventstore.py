"""The event store: one ``eventsourcing`` application on the Postgres recorder.

All aggregates that a command may change together (accounts, transactions, idempotency
records, projects) live in this one application, so one ``save()`` is one transaction.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoder, Transcoding

from adapters.database import Target
from adapters.encoding import FastJSONTranscoder
from domain.accounts import Account, Hold
from domain.credit_balance import CreditBalance

APP_NAME = "tally"
EVENTS_TABLE = f"{APP_NAME}_events"  # the library names it after the application


class HoldAsDict(Transcoding):
    """Holds live inside Account snapshots, so the JSON transcoder must know them."""

    type = Hold
    name = "tally_hold"

    def encode(self, obj: Hold) -> dict[str, Any]:
        return {
            "amount": obj.amount,
            "expires_at": obj.expires_at,
            "destination": obj.destination,
            "status": obj.status,
            "captured": obj.captured,
        }

    def decode(self, data: dict[str, Any]) -> Hold:
        return Hold(**data)


class TallyStore(Application[UUID]):
    name = APP_NAME
    # A busy wallet collects many events; a snapshot every few hundred keeps a cold load
    # (after a restart or a cache eviction) to a bounded number of rows. A customer's
    # prepaid credits consumed per action are as busy (issue 13).
    snapshotting_intervals = {Account: 200, CreditBalance: 200}

    def construct_transcoder(self) -> Transcoder:
        # The same bytes as the library's JSON transcoder, written about twice as fast
        # (adapters/encoding.py); a transcoder chosen in the environment is left alone.
        transcoder = self.factory.transcoder()
        if type(transcoder) is JSONTranscoder:
            transcoder = FastJSONTranscoder()
        if isinstance(transcoder, JSONTranscoder):
            self.register_transcodings(transcoder)
        return transcoder

    @property
    def events_table(self) -> str:
        """The event table's name in the schema (the Postgres recorder's)."""
        name: str = getattr(self.recorder, "events_table_name", EVENTS_TABLE)
        return name

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(HoldAsDict())


def store_env(target: Target, schema: str, pool_size: int = 10) -> dict[str, str]:
    """The environment the eventsourcing library reads its Postgres settings from."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": target.dbname,
        "POSTGRES_HOST": target.host,
        "POSTGRES_PORT": target.port,
        "POSTGRES_USER": target.user,
        "POSTGRES_PASSWORD": target.password,
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        "POSTGRES_CONN_MAX_AGE": "",
        # Not needed: the recorder tries its reads and writes again (up to 10 times) on a
        # connection error, and a broken connection leaves the pool when it is returned,
        # so connections that died while pooled cost a retry each, not a command.
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_LOCK_TIMEOUT": "10",
        # Off, as DESIGN.md asks: with it, applications in one schema can write into each
        # other's tables.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "CREATE_TABLE": "y",
    }


def open_store(target: Target, schema: str, pool_size: int = 10) -> TallyStore:
    ensure_schema(target, schema)
    return TallyStore(env=store_env(target, schema, pool_size))


def ensure_schema(target: Target, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))

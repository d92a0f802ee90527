"""The ``identity_providers`` read model (issue 14): one row per project that configured
one, kept by ``projections.aggregates`` like the other aggregate tables. The summary
never holds the shared secret nor its ciphertext (the state keeps it sealed, as
``provider_settings`` rows do).

Authentication does not read this table: it loads the aggregate from the event log on
every request (``api.customer_auth``), so a new configuration applies from the next
request even while the read model is behind.

Query: ``get_identity_provider(pool, schema, project_id) -> dict | None``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.identity_providers import IdentityProvider
from projections.aggregates import AggregateModel, Kind, get_resource

TABLE = "identity_providers"
_provider: Any = IdentityProvider


def _summary(provider: IdentityProvider) -> dict[str, Any]:
    return provider.summary()


class IdentityProviders(AggregateModel):
    name = "identity_providers"
    kinds = (
        Kind(
            aggregate=IdentityProvider,
            table=TABLE,
            events=frozenset({_provider.Started, _provider.Configured}),
            columns=(("kind", "text"),),
            values=lambda p, _: (p.settings.get("kind"),),
            summary=_summary,
        ),
    )


def get_identity_provider(
    pool: ConnectionPool[Any], schema: str, project_id: UUID
) -> dict[str, Any] | None:
    """The project's identity provider, or None before it configured one."""
    return get_resource(pool, schema, TABLE, project_id, "t.kind IS NOT NULL", [])

"""Day totals for the usage written before they existed (issue 13, the current-usage
query's target).

The usage store keeps its running totals per UTC day, hour and minute
(``adapters/usage_store.py``); until 2026-12-05 it kept hours and minutes only, and a
month's query read its 720 hours. The query reads whole days only where every batch has
written them, so the rows written before are given their days once, from their hours
(a day is exactly the merge of its hours: the sums add, the maximum is the greatest, the
latest is the latest by time then transaction id, the distinct values are the union),
and the schema remembers it (``usage_widths``).

It runs in the usage tables' set-up transaction, which holds ``usage_totals`` and
``usage_distinct`` in ``SHARE ROW EXCLUSIVE`` mode while it fills them, so no batch
writes in between (a batch that began before waits for it, or it for the batch). A
server of an older version still writing after the upgrade would leave its events out
of the days: upgrade them together (``tally replay`` reports any difference).
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor, sql

DAY_S = 86_400

_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}.usage_widths (width_s integer PRIMARY KEY, "
    "filled_at timestamptz NOT NULL DEFAULT now())"
)
_LATEST = (
    "(array_agg({c} ORDER BY latest_at DESC, latest_tx DESC) "
    "FILTER (WHERE latest_at IS NOT NULL))[1]"
)
_DAY = "date_trunc('day', bucket, 'UTC')"
_FILL_TOTALS = (
    "INSERT INTO {s}.usage_totals (project_id, customer_id, meter_id, subscription_id, "
    "group_key, width_s, bucket, events, total, maximum, latest_at, latest_tx, latest_value, "
    "weighted) SELECT project_id, customer_id, meter_id, subscription_id, group_key, %s, "
    + _DAY
    + ", sum(events), sum(total), max(maximum), "
    + ", ".join(_LATEST.format(c=c) for c in ("latest_at", "latest_tx", "latest_value"))
    + ", sum(weighted) FROM {s}.usage_totals WHERE width_s = 3600 "
    "GROUP BY project_id, customer_id, meter_id, subscription_id, group_key, " + _DAY
)
_FILL_DISTINCT = (
    "INSERT INTO {s}.usage_distinct (project_id, customer_id, meter_id, subscription_id, "
    "group_key, width_s, bucket, value) SELECT DISTINCT project_id, customer_id, meter_id, "
    "subscription_id, group_key, %s, " + _DAY + ", value FROM {s}.usage_distinct "
    "WHERE width_s = 3600"
)


def fill_day_totals(cur: Cursor[Any], schema: str) -> None:
    """Give the totals written before day totals existed their days, once per schema
    (the caller's transaction holds the usage tables' set-up lock)."""
    s = sql.Identifier(schema)
    cur.execute(sql.SQL(_DDL).format(s=s))
    cur.execute(sql.SQL("SELECT 1 FROM {}.usage_widths WHERE width_s = %s").format(s), [DAY_S])
    if cur.fetchone() is not None:
        return
    cur.execute(
        sql.SQL("LOCK TABLE {s}.usage_totals, {s}.usage_distinct IN SHARE ROW EXCLUSIVE MODE")
        .format(s=s)
    )  # fmt: skip
    # Day rows a batch of this version wrote before the mark (two servers starting at
    # once: the other one's batches) are made again from the hours, which hold them too.
    for name in ("usage_totals", "usage_distinct"):
        cur.execute(
            sql.SQL("DELETE FROM {}.{} WHERE width_s = %s").format(s, sql.Identifier(name)),
            [DAY_S],
        )
    cur.execute(sql.SQL(_FILL_TOTALS).format(s=s), [DAY_S])
    cur.execute(sql.SQL(_FILL_DISTINCT).format(s=s), [DAY_S])
    cur.execute(sql.SQL("INSERT INTO {}.usage_widths (width_s) VALUES (%s)").format(s), [DAY_S])

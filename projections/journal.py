"""Journal entries and their postings: the double-entry record of every movement.

Every event that carries an ``entry`` (a list of signed ``{account, amount}`` postings
summing to zero) becomes one journal entry (``POSTING_EVENTS``):

- a transaction posts one when it completes (in ``Initiated`` when it completes at
  once, else in ``Completed``) and one more for each reversal (``Reversed``); ``kind``
  is the transaction's kind (``deposit``, ``withdrawal``, ``transfer``, ``capture``) or
  ``reversal``; a wallet's payment of an invoice is such a transaction;
- an invoice posts ``invoice_finalization`` (``Finalized``), ``invoice_payment``
  (``PaymentRecorded`` from a clearing account; a wallet payment's entry is its
  transaction's, so that event's entry is empty and posts nothing), ``invoice_void``
  (``Voided``) and ``credit_note`` (``Credited``);
- a customer's billing record posts ``credit_adjustment`` (``CreditAdjusted``);
- a customer's prepaid credits (``CreditBalance``, issue 13) post ``credit_grant``,
  ``credit_consumption``, ``credit_breakage`` (expiry), ``credit_void``, ``credit_restore``
  and ``credit_refund``.

An entry's id is derived from the aggregate and the event's version (``uuid5``), so a
replay builds the same ids; its ``transaction_id`` column names the aggregate whose
event posted it (a transaction, an invoice or a customer's billing record). All its
postings carry the currency of that aggregate (the invoice's, the customer's).

Queries (filter by project):

- ``list_entries(pool, schema, project_id, account_id, *, limit, starting_after,
  up_to=None) -> (list[dict], has_more)``: the entries that post to wallet ``account_id``, in log
  order; each is ``{id, transaction_id, kind, currency, created_at, position,
  postings: [{account, amount}]}``; ``starting_after`` is an entry id.
- ``trial_balance(pool, schema, project_id, up_to=None) -> {currency: {"accounts": {ref: balance},
  "total": int}}``: every account the project's postings name (wallets and system
  accounts alike) with its balance, per currency; ``total`` is their sum, which double
  entry keeps at 0.

Entries and postings are only ever added, each with the position of the event that
posted it, so ``up_to`` (a read ``as_of`` a position, docs/audit.md) answers what these
queries answered when the read model stood at that position: the rows at or before it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from hashlib import sha1
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg_pool import ConnectionPool

from domain.accounts import wallet_ref
from projections import events as ev
from projections.base import ReadModel, Tracked, copy_rows, rows_of
from projections.decoding import uuid5_of
from projections.paging import fetch_all, fetch_page, plain
from projections.schema import table
from projections.statements import compiled

ENTRY_NAMESPACE = UUID("5b0e6f52-2f43-4c1a-9a57-0d8f1e7c3b21")

# (event, position, project_id, currency, entry kind) for every event that posts an entry.
EntrySource = tuple[Any, int, UUID, str, str]
_POSTS = (ev.TransactionCompleted, ev.TransactionReversed)
# Events of other aggregates that post an entry: the table (written earlier in the same
# batch by its read model) their project and currency come from, and the entry kind.
_OTHER_POSTS: dict[type, tuple[str, str]] = {
    ev.InvoiceFinalized: ("invoices", "invoice_finalization"),
    ev.InvoicePaymentRecorded: ("invoices", "invoice_payment"),
    ev.InvoiceVoided: ("invoices", "invoice_void"),
    ev.InvoiceCredited: ("invoices", "credit_note"),
    ev.BillingCreditAdjusted: ("customer_billing", "credit_adjustment"),
    # Prepaid credits (issue 13): domain/credit_balance.py has the postings.
    ev.CreditsGranted: ("credit_balances", "credit_grant"),
    ev.CreditsConsumed: ("credit_balances", "credit_consumption"),
    ev.CreditsExpired: ("credit_balances", "credit_breakage"),
    ev.CreditsVoided: ("credit_balances", "credit_void"),
    ev.CreditsRestored: ("credit_balances", "credit_restore"),
    ev.CreditsRefunded: ("credit_balances", "credit_refund"),
}
POSTING_EVENTS = frozenset({ev.TransactionInitiated, *_POSTS, *_OTHER_POSTS})


_NAMESPACE_BYTES = ENTRY_NAMESPACE.bytes
# The SHA-1 state after the namespace, copied for each entry: hashlib's constructor costs
# more than the copy and the namespace's bytes together.
_HASHED_NAMESPACE = sha1(_NAMESPACE_BYTES, usedforsecurity=False)
# A version 5 UUID's version and variant bits, over its 128 bits as an integer.
_V5_CLEAR = ~(0xF000 << 64) & ~(0xC000 << 48)
_V5_SET = (5 << 76) | (0x8000 << 48)
# A uuid column's field in a binary COPY is the UUID's 16 bytes, whatever the client
# calls them: the entry ids go as ``bytes`` through psycopg's bytea dumper (in C), not as
# ``UUID``s through its uuid dumper (a Python call per value, three per entry).
UUID_BYTES = "bytea"


def entry_id(transaction_id: UUID, version: int) -> UUID:
    """``uuid5(ENTRY_NAMESPACE, f"{transaction_id}:{version}")``, computed faster."""
    return uuid5_of(_NAMESPACE_BYTES, f"{transaction_id}:{version}")


def entry_id_bytes(transaction_id: UUID, version: int) -> bytes:
    """``entry_id(transaction_id, version).bytes``, in about 60 % of its time (2.7 against
    4.2 us here): the UUID's text from its integer (what ``UUID.__str__`` does, without
    the call), the hash from the namespace's state, and no ``UUID`` built."""
    h = f"{transaction_id.int:032x}"
    digest = _HASHED_NAMESPACE.copy()
    digest.update(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}:{version}".encode())
    return ((int.from_bytes(digest.digest()[:16], "big") & _V5_CLEAR) | _V5_SET).to_bytes(16, "big")


# The last batch's entry sources, per thread: the journal and the system accounts get
# the same list of events from the runner, and the second one reuses the first's work.
_last = threading.local()


def entry_sources(cur: Cursor[Any], schema: str, events: Sequence[Tracked]) -> list[EntrySource]:
    """The events of a batch that post an entry, with their aggregate's facts.

    ``Completed`` and ``Reversed`` do not carry project, currency or kind; they come from
    the batch's own ``Initiated`` events or else from the ``transactions`` read model.
    Invoice and billing events take theirs from the ``invoices`` and ``customer_billing``
    read models, which the runner applies before this one.
    """
    cached = getattr(_last, "value", None)
    if cached is not None and cached[0] is events and cached[1] == schema:
        return cached[2]  # type: ignore[no-any-return]
    sources = _entry_sources(cur, schema, events)
    _last.value = (events, schema, sources)
    return sources


def _entry_sources(cur: Cursor[Any], schema: str, events: Sequence[Tracked]) -> list[EntrySource]:
    facts: dict[UUID, tuple[UUID, str, str]] = {}
    wanted: dict[str, set[UUID]] = {}
    for event, _ in events:
        kind = type(event)
        if kind is ev.TransactionInitiated:
            facts[event.originator_id] = (event.project_id, event.currency, event.kind)
        elif kind in _POSTS and event.originator_id not in facts:
            wanted.setdefault("transactions", set()).add(event.originator_id)
        elif kind in _OTHER_POSTS and event.entry:
            wanted.setdefault(_OTHER_POSTS[kind][0], set()).add(event.originator_id)
    for name, ids in wanted.items():
        facts.update(_facts(cur, schema, name, ids))
    out: list[EntrySource] = []
    for event, position in events:
        kind = type(event)
        if not event.entry:  # an Initiated that did not complete, a wallet's invoice payment
            continue
        found = facts.get(event.originator_id)
        if found is None:
            raise LookupError(f"{kind.__qualname__} {event.originator_id} is not projected")
        project_id, currency, txn_kind = found
        if kind in _OTHER_POSTS:
            entry_kind = _OTHER_POSTS[kind][1]
        else:
            entry_kind = "reversal" if kind is ev.TransactionReversed else txn_kind
        out.append((event, position, project_id, currency, entry_kind))
    return out


_TRANSACTION_FACTS = sql.SQL("currency, kind")
# Named, so a dict_row cursor keeps the two computed columns apart (unnamed, both are
# ``?column?`` and merge into one key).
_SUMMARY_FACTS = sql.SQL("summary->>'currency' AS currency, '' AS kind")


def _facts(
    cur: Cursor[Any], schema: str, name: str, ids: set[UUID]
) -> dict[UUID, tuple[UUID, str, str]]:
    """Project, currency and (for transactions) kind of the aggregates ``ids``."""
    columns = _TRANSACTION_FACTS if name == "transactions" else _SUMMARY_FACTS
    source = table(schema, name)
    statement = compiled(
        cur,
        ("facts", source),  # the columns follow from the table's name
        lambda: sql.SQL("SELECT id, project_id, {} FROM {} WHERE id = ANY(%b)").format(
            columns, source
        ),
    )
    cur.execute(statement, (list(ids),))
    return {row[0]: (row[1], row[2], row[3]) for row in rows_of(cur)}


class Journal(ReadModel):
    name = "journal"
    deferrable = True  # its parameters and rows are built for the batch and left alone
    tables = ("journal_entries", "postings")
    reads = frozenset({"transactions", "invoices", "billing_setup", "credits"})  # entry_sources
    handles = POSTING_EVENTS

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        entries: list[tuple[Any, ...]] = []
        postings: list[tuple[Any, ...]] = []
        for event, position, project_id, currency, kind in entry_sources(cur, self.schema, events):
            eid = entry_id_bytes(event.originator_id, event.originator_version)
            entries.append(
                (eid, project_id, event.originator_id, kind, currency, event.timestamp, position)
            )
            for seq, posting in enumerate(event.entry):
                account, amount = posting["account"], posting["amount"]
                postings.append((eid, seq, project_id, account, currency, amount, position))
        copy_rows(
            cur,
            self.t("journal_entries"),
            ("id", "project_id", "transaction_id", "kind", "currency", "created_at", "position"),
            (UUID_BYTES, "uuid", "uuid", "text", "text", "timestamptz", "int8"),
            entries,
        )
        copy_rows(
            cur,
            self.t("postings"),
            ("entry_id", "seq", "project_id", "account", "currency", "amount", "position"),
            (UUID_BYTES, "int2", "uuid", "text", "text", "int8", "int8"),
            postings,
        )


def list_entries(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    account_id: UUID,
    *,
    limit: int,
    starting_after: UUID | None,
    up_to: int | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    entries_t = table(schema, "journal_entries")
    postings_t = table(schema, "postings")
    query = sql.SQL(
        "SELECT e.id, e.transaction_id, e.kind, e.currency, e.created_at, e.position "
        "FROM {p} p JOIN {e} e ON e.id = p.entry_id "
        "WHERE p.account = %s AND p.project_id = %s AND e.project_id = %s"
    ).format(p=postings_t, e=entries_t)
    ref = wallet_ref(account_id)
    params: list[Any] = [ref, project_id, project_id]
    if up_to is not None:  # as_of: the entries posted at or before that position
        query += sql.SQL(" AND p.position <= %s")
        params.append(up_to)
    if starting_after is not None:
        query += sql.SQL(
            " AND (p.position, p.entry_id) > "
            "(SELECT position, id FROM {e} WHERE project_id = %s AND id = %s)"
        ).format(e=entries_t)
        params += [project_id, starting_after]
    query += sql.SQL(" ORDER BY p.position, p.entry_id LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    by_entry: dict[UUID, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
    if rows:
        for posting in fetch_all(
            pool,
            sql.SQL(
                "SELECT entry_id, account, amount FROM {p} "
                "WHERE entry_id = ANY(%s) AND project_id = %s ORDER BY entry_id, seq"
            ).format(p=postings_t),
            [list(by_entry), project_id],
        ):
            by_entry[posting["entry_id"]].append(
                {"account": posting["account"], "amount": posting["amount"]}
            )
    return [{**plain(r), "postings": by_entry[r["id"]]} for r in rows], has_more


def trial_balance(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, up_to: int | None = None
) -> dict[str, dict[str, Any]]:
    # as_of (up_to): the postings at or before that position; the journal only grows.
    query = sql.SQL(
        "SELECT currency, account, sum(amount)::int8 AS balance FROM {} "
        "WHERE project_id = %s AND position <= %s "
        "GROUP BY currency, account ORDER BY currency, account"
    ).format(table(schema, "postings"))
    out: dict[str, dict[str, Any]] = {}
    limit = up_to if up_to is not None else 2**63 - 1
    for row in fetch_all(pool, query, [project_id, limit]):
        book = out.setdefault(row["currency"], {"accounts": {}, "total": 0})
        book["accounts"][row["account"]] = int(row["balance"])
        book["total"] += int(row["balance"])
    return out

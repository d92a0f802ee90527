"""Read models built from the event log, and the queries over them.

Modules (each module docstring is the contract for its functions):

- ``schema``: DDL for every read-model table and the tracking table (``create_tables``).
- ``runner``: ``ProjectionWorker`` (background thread / ``catch_up``), and re-exported
  from ``registry`` (``PROJECTIONS``, ``wait_for_position``, ``current_position``,
  ``status``), ``applying`` (``project_batch``, the one way a batch is applied, each read
  model in its own savepoint) and ``stalls`` (``stalls``: read models stopped on an
  event they cannot apply, never past it).
- ``replay``: ``replay(store, pool, schema, *, progress) -> ReplayReport``.
- Queries: ``balances`` (accounts), ``holds``, ``transactions``, ``journal``,
  ``system_accounts``, ``api_keys`` (projects and keys, for authentication);
  billing: ``customers``, ``catalog`` (products, prices, plans), ``subscriptions``
  (including ``due_subscriptions`` for the scheduler), ``test_clocks`` and
  ``entitlements`` (a query over the subscriptions and catalog tables); invoicing:
  ``invoices`` (invoices, credit notes, ``due_invoice_work`` for the scheduler) and
  ``billing_setup`` (tax rates, coupons, promotion codes, billing settings, customer
  billing). ``journal.trial_balance`` sums every posting per currency.
- Plumbing: ``base`` (the ``ReadModel`` projection base and tracking recorder),
  ``aggregates`` (``AggregateModel``: read models that keep each aggregate's state and
  fold events with the domain's own event methods; the billing read models use it),
  ``reading`` (batched log reads), ``decoding`` (fast event decoding), ``events`` (the
  event classes by name), ``paging`` (cursor pagination).

Adding a read model: subclass ``base.ReadModel`` with a unique ``name`` (its tracking
row), ``tables``, ``handles`` (the event classes it reads) and ``apply(cur, events)``
(set-based SQL for a whole batch; use ``base.copy_rows`` and ``base.unnest_update``),
or subclass ``aggregates.AggregateModel`` with ``kinds`` when a row is an aggregate's
summary; add its tables to ``schema.TABLES`` (every row carries ``project_id`` and a
``position``) and the class to ``registry.PROJECTIONS`` after the read models it looks
up, naming them in its ``reads`` (it then stops with them if one stalls). The worker
builds it from position 0 on its next start; replay compares it.
"""

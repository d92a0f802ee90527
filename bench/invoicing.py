"""The invoicing benchmark: finalizations (with gapless numbering) and invoice PDFs per
second, against the same Postgres as the ledger benchmark, beside its baseline.

    python bench/invoicing.py [--invoices 2000] [--threads 8] [--duration 5]

(a) raw psycopg single-row INSERT commits/s, the client threads (the baseline)
(b) drafts created/s (CreateInvoice with two lines), the client threads
(c) invoices finalized/s, the client threads: every finalization takes the project's
    next number from ONE InvoiceSequence aggregate, so this is a single hot aggregate
    (conflicts are retried by the bus); (c1) the same with one thread
(d) PDFs rendered/s from a built view (fpdf2 only), one thread
(e) PDF documents/s as the route makes them (read models: invoice, customer, project,
    settings, tax rate names; then fpdf2), one thread and the client threads

Every figure is measured in one run in scratch schemas that are dropped afterwards. A
benchmark asserts nothing: it prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import raw_inserts
from bench.command_layer import make_project, open_tally
from bench.common import Result, run_threads, scratch_schemas
from bench.report import describe_machine
from commands import messages as m
from commands.bus import Context

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
ACTOR = "bench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TALLY_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--invoices", type=int, default=2000, help="drafts made for (c)")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds for (a), (d), (e)")
    parser.add_argument("--warmup", type=float, default=1.0)
    return parser.parse_args(argv)


def fixed_work(threads: int, items: list[Any], operation: Callable[[Any], None]) -> Result:
    """Run ``operation`` once per item, items shared out over ``threads``; the rate is
    items per wall-clock second of the whole batch."""
    chunks = [items[i::threads] for i in range(threads)]
    errors = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def loop(i: int) -> None:
        for item in chunks[i]:
            started = time.perf_counter()
            try:
                operation(item)
            except Exception:
                errors[i] += 1
                continue
            latencies[i].append((time.perf_counter() - started) * 1000)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    done = len(items) - sum(errors)
    note = f"{done:,} in {seconds:.2f}s" + (f"; {sum(errors)} errors" if sum(errors) else "")
    flat = [x for per in latencies for x in per]
    return Result("", done / seconds if seconds else 0.0, "", note, flat)


class World:
    """A project with customers, two tax rates and a coupon, in one scratch schema."""

    def __init__(self, url: str, schema: str, customers: int) -> None:
        self.tally = open_tally(url, schema)
        self.project_id = make_project(self.tally)
        self.serial = 0
        self.made: list[UUID] = []  # draft ids, in the order they were made
        vat = self.run(m.DefineTaxRate(percentage="19", jurisdiction="DE", name="MwSt"))
        self.rate_id = UUID(vat["tax_rate"]["id"])
        self.customers = [
            UUID(
                self.run(
                    m.RegisterCustomer(external_id=f"c{i}", currency="EUR", name=f"Customer {i}")
                )["customer"]["id"]
            )
            for i in range(customers)
        ]

    def run(self, command: m.Command) -> dict[str, Any]:
        self.serial += 1
        key = f"bench-{threading.get_ident()}-{self.serial}-{time.perf_counter_ns()}"
        body: dict[str, Any] = self.tally.execute(
            command, Context(self.project_id, ACTOR, key)
        ).body
        return body

    def draft(self, i: int) -> UUID:
        lines = [
            m.InvoiceLineInput(description="Plan", unit_amount=2900, tax_rate_ids=[self.rate_id]),
            m.InvoiceLineInput(description="Seats", quantity=3, unit_amount=999),
        ]
        customer = self.customers[i % len(self.customers)]
        made = self.run(m.CreateInvoice(customer_id=customer, lines=lines))
        return UUID(made["invoice"]["id"])


def _print(key: str, result: Result, baseline: float) -> None:
    ratio = f"{result.value / baseline:>8.2f}x" if result.value and baseline else " " * 9
    value = "not available" if result.value is None else f"{result.value:>10,.0f} {result.unit}"
    p50 = result.percentile(0.5)
    latency = f"p50 {p50:.2f} ms p99 {result.percentile(0.99):.2f} ms" if p50 else ""
    notes = "; ".join(x for x in (result.note, latency) if x)
    print(f"({key}) {result.label:<46} {value:>24} {ratio}  {notes}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(describe_machine(args.url).replace("ledger", "invoicing"), flush=True)
    with scratch_schemas(args.url, "benchinv") as schema:
        loop = raw_inserts.measure(args.url, schema("a"), args.threads, args.warmup, args.duration)
        baseline = loop.rate
        base = Result(f"raw INSERT+COMMIT/s, {args.threads} threads", baseline, "commits/s")
        base.latencies_ms = loop.latencies_ms
        print(f"\n{'':4}{'measure':<46} {'value':>24} {'vs (a)':>9}  notes")
        _print("a", base, baseline)
        world = World(args.url, schema("b"), args.customers)
        try:
            _invoices(args, world, baseline)
            _documents(args, world, baseline)
        finally:
            world.tally.close()
    return 0


def _invoices(args: argparse.Namespace, world: World, baseline: float) -> None:
    made = world.made
    lock = threading.Lock()

    def create(i: int) -> None:
        invoice_id = world.draft(i)
        with lock:
            made.append(invoice_id)

    drafts = fixed_work(args.threads, list(range(args.invoices + 200)), create)
    drafts.label, drafts.unit = f"drafts created/s, {args.threads} threads", "drafts/s"
    _print("b", drafts, baseline)
    single, rest = made[:200], made[200:]

    numbers: list[str] = []

    def finalize(invoice_id: UUID) -> None:
        body = world.run(m.FinalizeInvoice(invoice_id=invoice_id))
        with lock:
            numbers.append(str(body["invoice"]["number"]))

    many = fixed_work(args.threads, rest, finalize)
    many.label, many.unit = f"invoices finalized/s, {args.threads} threads", "invoices/s"
    _print("c", many, baseline)
    one = fixed_work(1, single, finalize)
    one.label, one.unit = "invoices finalized/s, 1 thread", "invoices/s"
    # Numbering under contention: every number once, none skipped.
    counters = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    gapless = counters == list(range(1, len(numbers) + 1))
    one.note += f"; numbers 1..{len(numbers):,} {'gapless' if gapless else 'NOT gapless'}"
    _print("c1", one, baseline)


def _documents(args: argparse.Namespace, world: World, baseline: float) -> None:
    from adapters.documents.pdf import render_pdf
    from api.routes.invoice_documents import invoice_document
    from projections.runner import ProjectionWorker

    started = time.perf_counter()
    ProjectionWorker(world.tally.store, world.tally.views, world.tally.schema).catch_up()
    print(f"     (read models caught up in {time.perf_counter() - started:.1f}s)", flush=True)
    ids = world.made
    view = invoice_document(world.tally, world.project_id, ids[0])
    size = len(render_pdf(view))

    def make_render(_: int) -> Callable[[], None]:
        def render() -> None:
            render_pdf(view)

        return render

    loop = run_threads(1, args.warmup, args.duration, make_render)
    render = Result("PDFs rendered/s (fpdf2 only), 1 thread", loop.rate, "PDFs/s")
    render.note, render.latencies_ms = f"{size:,} bytes each", loop.latencies_ms
    _print("d", render, baseline)
    for threads in (1, args.threads):

        def make_document(i: int, step: int = threads) -> Callable[[], None]:
            counter = iter(range(i, 10**9, step))

            def document() -> None:
                invoice_id = ids[next(counter) % len(ids)]
                render_pdf(invoice_document(world.tally, world.project_id, invoice_id))

            return document

        loop = run_threads(threads, args.warmup, args.duration, make_document)
        result = Result(f"PDF documents/s from read models, {threads} thr", loop.rate, "PDFs/s")
        result.latencies_ms = loop.latencies_ms
        result.note = f"{loop.errors} errors" if loop.errors else ""
        _print("e" if threads == 1 else "e8", result, baseline)


if __name__ == "__main__":
    sys.exit(main())

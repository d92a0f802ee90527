"""A model of the meters' aggregations for the usage tests (issue 13): a plain fold over
the deduplicated events, written from the definitions in docs/usage.md without the
partials the store keeps, and strategies that make usage events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from uuid import UUID

from hypothesis import strategies as st

from domain.usage import EXACT, QUANTUM, Accepted, MeterRule, micros, readings

CUSTOMER = UUID("00000000-0000-4000-8000-00000000c001")
METER = UUID("00000000-0000-4000-8000-00000000a001")
BASE = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
AGGREGATIONS = ("count", "sum", "max", "unique_count", "latest", "weighted_sum")


def rule(aggregation: str, group_by: tuple[str, ...] = ("model",)) -> MeterRule:
    return MeterRule(
        id=METER,
        code="m",
        event_name="e",
        aggregation=aggregation,
        property="" if aggregation == "count" else "v",
        filters={"region": ["eu", "us"]},
        group_by=list(group_by),
    )


@dataclass(frozen=True)
class Sent:
    """An event as a client sends it."""

    transaction_id: str
    at: datetime
    properties: dict[str, str]

    def accepted(self, meter: MeterRule) -> Accepted:
        return Accepted(
            transaction_id=self.transaction_id,
            customer_id=CUSTOMER,
            subscription_id=None,
            event_name="e",
            timestamp=self.at,
            properties=self.properties,
            readings=readings([meter], self.properties),
        )


values = st.decimals(min_value=-1000, max_value=10**6, places=3, allow_nan=False).map(str)


@st.composite
def sent_events(draw: st.DrawFn, max_events: int = 30, span_s: int = 3 * 3600) -> list[Sent]:
    """Distinct events over ``span_s`` from BASE (by default three hours, so periods cut
    hours; days for the day totals), with values, models and regions (one region the
    meter's filter leaves out)."""
    count = draw(st.integers(0, max_events))
    events = []
    for i in range(count):
        seconds = draw(st.integers(0, span_s - 1))
        micro = draw(st.sampled_from([0, 1, 500_000, 999_999]))
        events.append(
            Sent(
                transaction_id=f"tx{i:03d}",
                at=BASE + timedelta(seconds=seconds, microseconds=micro),
                properties={
                    "v": draw(values),
                    "model": draw(st.sampled_from(["a", "b"])),
                    "region": draw(st.sampled_from(["eu", "us", "apac"])),
                },
            )
        )
    return events


def expected(
    meter: MeterRule, events: list[Sent], start: datetime, end: datetime
) -> dict[str, Decimal | None]:
    """The meter's quantity per group over ``[start, end)``: a fold over ``events``
    (deduplicated: each transaction id once), group by group."""
    import json

    unique = {e.transaction_id: e for e in events}.values()
    by_group: dict[str, list[tuple[Sent, Decimal | None, str | None]]] = {}
    for event in unique:
        for reading in readings([meter], event.properties):
            key = json.dumps(list(reading.group), separators=(",", ":"), ensure_ascii=False)
            by_group.setdefault(key, []).append((event, reading.value, reading.distinct))
    answer: dict[str, Decimal | None] = {}
    for key, found in by_group.items():
        inside = [(e, v, d) for e, v, d in found if start <= e.at < end]
        before = [v or Decimal(0) for e, v, _ in found if e.at < start]
        if inside or (meter.aggregation == "weighted_sum" and sum(before)):
            answer[key] = _fold(meter.aggregation, inside, sum(before, Decimal(0)), start, end)
    return answer


def _fold(
    aggregation: str,
    inside: list[tuple[Sent, Decimal | None, str | None]],
    carry: Decimal,
    start: datetime,
    end: datetime,
) -> Decimal | None:
    numbers = [v for _, v, _ in inside if v is not None]
    if aggregation == "count":
        return Decimal(len(inside))
    if aggregation == "sum":
        return sum(numbers, Decimal(0))
    if aggregation == "max":
        return max(numbers) if numbers else None
    if aggregation == "unique_count":
        return Decimal(len({d for _, _, d in inside}))
    if aggregation == "latest":
        if not inside:
            return None
        return max(inside, key=lambda x: (x[0].at, x[0].transaction_id))[1]
    # weighted_sum: walk the level through the period, held between events.
    level, area, previous = carry, Decimal(0), micros(start)
    for event, value, _ in sorted(inside, key=lambda x: x[0].at):
        now = micros(event.at)
        area = EXACT.add(area, EXACT.multiply(level, now - previous))
        level, previous = EXACT.add(level, value or 0), now
    area = EXACT.add(area, EXACT.multiply(level, micros(end) - previous))
    result = EXACT.divide(area, micros(end) - micros(start))
    return result.quantize(QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT)

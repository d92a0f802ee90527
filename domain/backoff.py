"""Doubling backoff, shared by everything Tally retries on a schedule."""

from __future__ import annotations


def doubling_delay_s(attempts: int, first_s: float, longest_s: float) -> float:
    """The wait after the ``attempts``-th failed try: ``first_s``, doubling each time,
    never more than ``longest_s``."""
    return float(min(first_s * 2 ** max(attempts - 1, 0), longest_s))

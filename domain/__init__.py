"""Tally's domain: aggregates, value objects and state machines. Pure Python, no I/O."""

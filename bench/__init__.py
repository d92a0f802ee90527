"""Benchmarks: not tests. They print figures and ratios measured in one run."""

"""The moving windows of one process (issue 14), for ``api.rate_limits`` without Redis."""

from __future__ import annotations

from collections import deque

from domain.rate_limits import RatePolicy


class LocalWindows:
    """The moving windows of one process, without Redis: the limits library's algorithm
    (a request is admitted when fewer than ``requests`` were admitted in the window
    before it), each bucket a deque of its admitted times, newest last.

    Not the library's memory storage: it expires entries from a timer thread that holds
    the bucket's lock, and the event loop waiting for that lock (and for the GIL the
    thread holds) added about 100 us of server CPU to every request (the in-process
    measurement in docs/access.md, "Cost"). Here everything runs on the event loop's
    one thread, so no lock is needed, and old entries go when their bucket is counted;
    buckets idle past their window are dropped every ``SWEEP_EVERY`` requests."""

    SWEEP_EVERY = 10_000

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[deque[float], float]] = {}
        self._counted = 0

    def hit(self, key: str, policy: RatePolicy, now: float) -> float | None:
        """Count one request at ``now``: None when admitted, else when the oldest entry
        leaves the window (a place frees)."""
        self._counted += 1
        if self._counted % self.SWEEP_EVERY == 0:
            self._sweep(now)
        found = self.buckets.get(key)
        times = found[0] if found is not None else deque()
        start = now - policy.window_s
        while times and times[0] <= start:
            times.popleft()
        if len(times) >= policy.requests:
            return times[0] + policy.window_s
        times.append(now)
        self.buckets[key] = (times, now + policy.window_s)
        return None

    def _sweep(self, now: float) -> None:
        idle = [key for key, (_, until) in self.buckets.items() if until <= now]
        for key in idle:
            del self.buckets[key]

"""A background loop that runs one pass every ``interval_s`` on a daemon thread.

The scheduler and the hold sweeper are both such loops; they differ only in what a pass
does, so the thread handling (start once, stop and join, alive) lives here once.
"""

from __future__ import annotations

import logging
import threading


class Periodic:
    """Calls ``run_pass`` every ``interval_s`` seconds between ``start`` and ``stop``.

    A pass that raises is logged to ``log`` with ``failure_message`` and the loop goes on:
    one failed pass must not end the background work."""

    thread_name = "tally-periodic"
    failure_message = "background pass failed"
    log = logging.getLogger("tally.periodic")

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_pass(self) -> object:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_pass()
            except Exception:  # a failed pass must not end the loop; log and go on
                self.log.exception(self.failure_message)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

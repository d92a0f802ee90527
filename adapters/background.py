"""A background thread that runs one pass of some work now and then, or at once when
kicked: what the provider outbox and the webhook delivery both run."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("tally.background")


class BackgroundPasses:
    """Runs ``run_pass`` every ``interval_s`` seconds on a daemon thread, or sooner when
    ``kick`` is called. A pass that fails is logged and the next one tries again: the
    work it does keeps nothing half-done, so trying again is always safe."""

    thread_name = "tally-background"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_pass(self) -> None:
        raise NotImplementedError

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.run_pass()
            except Exception:  # the next pass tries again; nothing half-done was kept
                log.exception("%s pass failed", self.thread_name)

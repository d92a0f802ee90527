"""The projection worker in a process of its own, which ``tally serve`` runs by default.

Why a process: the server's Python (HTTP, authentication, the command bus) and the
projection worker's (decoding events, building the rows of a batch) used to share one
interpreter lock, so every batch the worker applied held up requests, and every request
held up the worker. In a process of its own the worker runs on the other core, and while
the server is busy it falls a little behind and so applies larger batches, which cost
less per event (one transaction, one statement per table, whatever the batch's size).

- ``ProjectionProcess(env)``: the serve process's side. ``start()`` runs
  ``python -m api.projection_process`` as a child, and a thread that starts it again
  (after a pause that doubles up to ``MAX_RESTART_PAUSE_S``) if it ends while serve
  runs; ``stop()`` asks it to stop (SIGTERM) and waits for it.
- ``main()``: the child's side. It builds Tally from the ``TALLY_*`` environment, runs a
  ``ProjectionWorker`` with ``notify_progress`` (so waiting readers in the server's
  processes wake as soon as a batch commits, see ``projections.progress``), and stops
  on SIGTERM or SIGINT, or when its parent is gone (so a serve killed with SIGKILL
  leaves no worker behind).

Exactly once is the worker's own guarantee (its advisory lock and tracking rows), so a
second worker, a restarted one, or ``tally projections run`` elsewhere is harmless.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

log = logging.getLogger("tally.projections")

STOP_TIMEOUT_S = 15.0  # how long stop() waits for the child before killing it
MAX_RESTART_PAUSE_S = 30.0
PARENT_CHECK_S = 1.0  # how often the child looks whether its parent is still there


class ProjectionProcess:
    """Runs and supervises the projection worker's process for ``tally serve``."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self._child: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(
            target=self._supervise, name="tally-projection-process", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            # serve's pid goes along: read in the child, its parent may already be gone.
            # The command is this interpreter, a fixed module and a number: nothing from
            # outside.
            self._child = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "api.projection_process", str(os.getpid())], env=self.env
            )

    def _supervise(self) -> None:
        pause_s = 1.0
        while not self._stopping.is_set():
            child = self._child
            assert child is not None
            started = time.monotonic()
            code = child.wait()
            if self._stopping.is_set():
                return
            log.warning("projection process ended (exit code %s); starting it again", code)
            if time.monotonic() - started > MAX_RESTART_PAUSE_S:
                pause_s = 1.0
            if self._stopping.wait(pause_s):
                return
            pause_s = min(pause_s * 2, MAX_RESTART_PAUSE_S)
            self._spawn()


def main(argv: list[str] | None = None) -> int:
    """Run the worker until a signal, or until the process ``argv[0]`` (serve's pid; by
    default this process's parent) is no longer this process's parent."""
    args = sys.argv[1:] if argv is None else argv
    parent = int(args[0]) if args else os.getppid()
    if os.getppid() != parent:
        return 0  # serve ended while this process was starting
    from api.bootstrap import build
    from api.settings import Settings
    from projections.runner import ProjectionWorker

    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    stop = threading.Event()

    def stopping(signum: int, _: object) -> None:
        log.info("projection process: stopping (%s)", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stopping)
    tally = build(settings)
    try:
        worker = ProjectionWorker(
            tally.store,
            tally.views,
            tally.schema,
            settings.projection_batch,
            notify_progress=True,
            linger_s=settings.projection_linger_ms / 1000,
        )
        worker.start()
        try:
            while not stop.wait(PARENT_CHECK_S):
                if os.getppid() != parent:
                    log.warning("projection process: serve is gone; stopping")
                    break
        finally:
            worker.stop()
    finally:
        tally.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

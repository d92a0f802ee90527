"""The ``tally`` command, as an operator runs it, on the test's schema: ``CLI`` (the
command line), the ``env`` fixture (this environment without the developer's own
``TALLY_*`` settings, pointed at the test's database and schema), ``cli`` (one verb run
in this process, through ``api.cli.run``: its exit code and output), ``cli_process``
(the same in a process of its own, through the program's entry point), and for a
``tally serve`` process, waiting until it is ready (``wait_until_ready``) and stopping it
(``stop``). Imported by name into the CLI tests.

Most CLI tests run their verbs in process: a process of its own costs 2 to 5 s of a
loaded two-core machine, most of it importing Tally. Each family of verbs keeps one test
through ``cli_process``, so that the entry point, the environment's settings and the exit
codes are proven through a real process too."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout

import httpx
import pytest

from api.cli import LOG_FORMAT, run

CLI = [sys.executable, "-m", "api.cli"]
Run = Callable[..., subprocess.CompletedProcess[str]]  # cli or cli_process

# The verbs that run until a signal: they set signal handlers, so only in a process.
UNTIL_SIGNALLED = (("serve",), ("projections", "run"), ("scheduler", "run"),
                   ("broker", "publish"))  # fmt: skip


@pytest.fixture
def env(pg_url: str, schema: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    return {**clean, "TALLY_DATABASE_URL": pg_url, "TALLY_DB_SCHEMA": schema}


def cli_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``tally ARGS`` in a process of its own, with ``env`` as its whole environment."""
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``tally ARGS`` in this process, answered as ``cli_process`` answers: the exit code
    (argparse's ``SystemExit`` included), stdout, and stderr with the log lines the verb
    wrote at WARNING or above, as the program's own logging prints them."""
    assert "TALLY_DATABASE_URL" in env, "an embedded Postgres would outlive the call"
    assert not any(args[: len(verb)] == verb and "--once" not in args
                   for verb in UNTIL_SIGNALLED), f"{args}: run it with cli_process"  # fmt: skip
    out, err = _stream(), _stream()
    with environment(env), redirect_stdout(out), redirect_stderr(err), logged_to(err):
        try:
            code = run(args)
        except SystemExit as exited:
            code = exit_code(exited)
    return subprocess.CompletedProcess([*CLI, *args], code, _text(out), _text(err))


def _stream() -> io.TextIOWrapper:
    """A text stream over bytes, as a process's stdout is: verbs that write bytes (the
    exports) write to its ``buffer``."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    """What was written, read as ``subprocess.run(text=True)`` reads it."""
    stream.flush()
    written = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return io.TextIOWrapper(io.BytesIO(written), encoding="utf-8").read()


def exit_code(exited: SystemExit) -> int:
    """The exit code the interpreter makes of ``exited``: None is 0, a number itself, and
    anything else is printed on stderr and exits 1."""
    if exited.code is None or isinstance(exited.code, int):
        return exited.code or 0
    print(exited.code, file=sys.stderr)
    return 1


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` as ``env`` while inside, then as before. Only the keys that differ
    change (never an empty environment in between): the served app's threads read it
    too, and see at most the test's own ``TALLY_*`` settings for that while."""
    before = dict(os.environ)
    _become(env)
    try:
        yield
    finally:
        _become(before)


def _become(env: Mapping[str, str]) -> None:
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


@contextmanager
def logged_to(stream: io.TextIOWrapper) -> Iterator[None]:
    """The calling thread's log records at WARNING or above written to ``stream`` while
    inside, in the program's format (``api.cli.main``); the served app's threads log
    elsewhere, as its process would."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    caller = threading.get_ident()
    handler.addFilter(lambda record: record.thread == caller)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def wait_until_ready(process: subprocess.Popen[str], base: str, timeout_s: float = 120) -> None:
    """Until ``base``'s /readyz answers 200; fails with what the process wrote if it
    stops first, or once ``timeout_s`` passed (a busy machine starts slowly)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            written = process.stdout.read() if process.stdout else ""
            raise AssertionError(written or "tally serve stopped")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "tally serve did not become ready"
        time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> None:
    """Terminate the process, and kill it if it has not ended 20 s later."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

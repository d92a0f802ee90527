"""(c) and (f): deposits over HTTP against a real ``tally serve`` process.

The server is started as an operator would start it (``python -m api.cli serve``) on a
schema of its own; the project and its key come from ``tally projects create``. The load
generator is a minimal HTTP/1.1 keep-alive client (one connection per thread, the request
bytes built by hand) so that, on a small machine, it takes as little CPU as possible away
from the server it measures. Every response must be a 201, or it counts as an error.

Beside the rate it reports the CPU time per request of the server (all its processes and
threads: HTTP, the command bus, and the projection worker, which ``tally serve`` runs in
a child process of its own) and of this client, over the whole run including the
warm-up. On a machine shared with other
work the rate follows whatever CPU is left; CPU per request changes much less.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LoopResult, run_threads

CLI = [sys.executable, "-m", "api.cli"]
READY_TIMEOUT_S = 90


class HttpConnection:
    """One keep-alive connection; just enough HTTP/1.1 for JSON requests and answers."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host = host
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.auth = f"Authorization: Bearer {token}\r\n" if token else ""

    def request(
        self, method: str, path: str, body: Any = None, headers: str = ""
    ) -> tuple[int, bytes]:
        # Bytes go as they are: a benchmark can build its bodies before its clock starts.
        if isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}{headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.sock.sendall(head.encode() + payload)
        status_line = self.file.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, self.file.read(length)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Settings of the caller's environment the server keeps: the rate limits' Redis (issue 14),
# so that (c) can be measured with buckets shared through Redis as well as per process.
KEPT_SETTINGS = ("TALLY_REDIS_URL", "TALLY_RATE_LIMIT_PREFIX")


def server_env(url: str, schema: str) -> dict[str, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("TALLY_") or k in KEPT_SETTINGS
    }
    return {**clean, "TALLY_DATABASE_URL": url, "TALLY_DB_SCHEMA": schema}


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    log: Path  # the server's stderr, kept for the report

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process and its children (uvicorn's workers are its
    children), from /proc; None where there is no /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    found = False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        # The command name, in parentheses, may hold spaces: split after it.
        fields = text[text.rindex(")") + 2 :].split()
        process, parent = int(stat.parent.name), int(fields[1])
        if pid in (process, parent):
            found = True
            total += (int(fields[11]) + int(fields[12])) / tick
    return total if found else None


@contextmanager
def running_server(env: dict[str, str], workers: int, log_level: str) -> Iterator[Server]:
    """Start ``tally serve``, wait until it is ready, and stop it afterwards. Its stderr
    goes to a file, so that a run with errors can say what the server said."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tally-bench-") as folder:
        log = Path(folder) / "serve.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
                env={**env, "TALLY_LOG_LEVEL": log_level},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        server = Server(port, process.pid, log)
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not _ready(port):
                if process.poll() is not None:
                    raise RuntimeError(f"tally serve exited: {server.log_tail(20)[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("tally serve did not become ready")
                time.sleep(0.2)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ready(port: int) -> bool:
    try:
        conn = HttpConnection("127.0.0.1", port, "")
    except OSError:
        return False
    try:
        return conn.request("GET", "/readyz")[0] == 200
    except (OSError, ValueError, IndexError):
        return False
    finally:
        conn.close()


# The bench project's own API-key rate limit. The default (1,000 requests per second,
# docs/access.md) is below what (c) sends in its busier seconds: the requests past it
# were the 429s that earlier runs counted as errors (122, then 206). The limit is still
# checked on every request, as it is for any project, so its cost stays in the figure.
BENCH_API_KEY_LIMIT = "100000/1"


def create_project(env: dict[str, str]) -> str:
    """A project for the run, with ``BENCH_API_KEY_LIMIT``; answers its API key."""
    created = json.loads(_cli(env, "projects", "create", "bench", "--json"))
    _cli(env, "projects", "limits", str(created["id"]), "--api-key", BENCH_API_KEY_LIMIT)
    return str(created["api_key"])


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tally {' '.join(args[:2])} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def measure(
    server: Server, token: str, threads: int, warmup_s: float, duration_s: float
) -> LoopResult:
    port = server.port
    setup = HttpConnection("127.0.0.1", port, token)
    accounts = []
    for i in range(threads):
        status, body = _retry_auth(
            lambda i=i: setup.request(
                "POST", "/v1/accounts", {"owner_ref": f"http-{i}", "currency": "EUR"}
            )
        )
        if status != 201:
            raise RuntimeError(f"opening an account answered {status}: {body[:300]!r}")
        accounts.append(json.loads(body)["id"])
    setup.close()
    # Each thread's own connection, by thread index (threads make theirs in any order).
    connections: dict[int, HttpConnection] = {}
    sent = [0] * threads  # every request, the warm-up's too, for the CPU per request

    def make_worker(i: int) -> Callable[[], None]:
        connections[i] = HttpConnection("127.0.0.1", port, token)
        path = f"/v1/accounts/{accounts[i]}/deposits"
        body = {"amount": 100, "currency": "EUR"}
        serial = itertools.count()

        def deposit() -> None:
            try:
                status, answer = connections[i].request(
                    "POST", path, body, f"Idempotency-Key: http-{i}-{next(serial)}\r\n"
                )
            except (OSError, ValueError, IndexError):
                # The connection broke (a server worker went away, say): count the error,
                # and connect again, as a client would, instead of failing at once on the
                # dead socket for the rest of the run.
                connections[i].close()
                time.sleep(0.1)
                connections[i] = HttpConnection("127.0.0.1", port, token)
                raise
            sent[i] += 1
            if status != 201:
                raise RuntimeError(f"deposit answered {status}: {answer[:200]!r}")

        return deposit

    server_before, client_before = cpu_seconds(server.pid), time.process_time()
    try:
        result = run_threads(threads, warmup_s, duration_s, make_worker)
    finally:
        for conn in connections.values():
            conn.close()
    server_after, client_s = cpu_seconds(server.pid), time.process_time() - client_before
    requests = max(1, sum(sent))
    if server_before is not None and server_after is not None:
        server_us = (server_after - server_before) / requests * 1e6
        result.detail = f"CPU per request: server {server_us:,.0f} µs, "
    result.detail += f"client {client_s / requests * 1e6:,.0f} µs"
    if result.errors:
        result.detail += f"; server log: {server.log_tail() or '(empty)'}"
    return result


def _retry_auth(call: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
    """A new key authenticates once the server's projection worker has seen it."""
    deadline = time.monotonic() + 30
    while True:
        status, body = call()
        if status != 401 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.2)

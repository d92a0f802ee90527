"""Sending one signed webhook: Standard Webhooks signatures and outbound safety.

- ``sign(secrets, message_id, body, at) -> str``: the ``webhook-signature`` header, one
  ``v1,<base64>`` signature per secret (during a rotation's overlap both the new and the
  previous secret sign), made by the ``standardwebhooks`` library.
- ``send(url, message_id, body, secrets, *, allow_private, timeout_s) -> Sent``: one POST
  with the three ``webhook-*`` headers. It never follows a redirect (a 3xx is a failed
  attempt), gives the whole exchange ``timeout_s`` (a deadline: see below), keeps at
  most ``MAX_RESPONSE_CHARS`` of the answer, and refuses a host that resolves to a
  private, loopback, link-local or other non-public address unless ``allow_private``
  (test-mode projects). Nothing here raises for the receiver's sake: every outcome is a
  ``Sent``.

The timestamp header is the wall clock's (``time.time()``), not the application clock's:
it is the receiver's protection against replays and must be close to its real time, even
when a test clock drives billing.

The address check resolves the name before the request; the HTTP client resolves it
again to connect, so a name whose answer changes in between (DNS rebinding) is not
covered. Operators who need that run Tally behind an egress proxy.

``KeepAlive`` is one endpoint's HTTP/1.1 connection, kept open from one send to the next
(the standard library's ``http.client``, which never follows a redirect). It replaced an
``httpx.Client`` here because a send is mostly client overhead when the receiver is
near: on this project's 2-core machine, signed POSTs to a local keep-alive receiver cost
513 µs of CPU each through httpx and 168 µs through ``http.client`` (368/s against
833/s, one loop each, at load 10; ``bench/webhooks.py`` measures both beside Tally).
A connection the receiver closed while idle is opened again and the send tried once
more on it (the receiver may then see that event twice, with the same id).
A receiver that closes the connection after each answer (HTTP/1.0, ``Connection:
close``) is answered on a new connection each send.

A send has a **deadline**, not only a socket timeout: a socket's timeout bounds each read,
so a receiver answering one byte a second would never time out and would hold one of
the few shared delivery workers for as long as it liked. Every read of the answer waits
at most what is left of ``timeout_s`` since the send began, and fails once nothing is
left; connecting and writing the request each wait at most ``timeout_s`` (one operation
each, which the receiver cannot pace).
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from domain.limits import plain_text

MAX_RESPONSE_CHARS = 1000
# Read at most this much of an answer; a longer one closes the connection (it is not
# read to its end), and the next send opens another.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Tally-Webhooks/1"


@dataclass(frozen=True)
class Sent:
    ok: bool  # a 2xx answer
    status: int | None  # the HTTP status, None when no answer came
    latency_ms: int
    response: str  # the start of the answer's body
    error: str  # why it failed, without the receiver's words ("" when ok)


def sign(secrets: Sequence[str], message_id: str, body: bytes, at: datetime) -> str:
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


def refused_address(url: str) -> str:
    """Why ``url``'s host may not be called from a live project ("" when it may)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:  # stored before the domain refused such URLs
        return f"not a valid URL: {error}"
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        return f"cannot resolve {host}: {type(error).__name__}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return f"{host} resolves to a non-public address ({address})"
    return ""


class _TimedReader(io.RawIOBase):
    """The socket's bytes, each read waiting at most until ``deadline`` (monotonic).

    It reads through a file of the socket (``makefile``), as http.client's own reader
    does, because that file keeps the socket's descriptor open until it is closed:
    http.client closes the connection's socket as soon as an answer's headers say the
    connection will close (``Connection: close``, HTTP/1.0), while the body is still to
    be read. Reading the bare socket, the body's next read then failed with EBADF (or,
    had another thread opened a socket in between, read from that one's descriptor)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._file = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the answer did not arrive whole in time")
        self._sock.settimeout(left)
        return self._file.readinto(buffer) or 0

    def close(self) -> None:
        self._file.close()  # the socket closes now if its connection already closed it
        super().close()


class _TimedResponse(http.client.HTTPResponse):
    """An answer read through a ``_TimedReader`` (its status line, headers and body)."""

    def __init__(self, sock: socket.socket, deadline: float, method: str | None) -> None:
        super().__init__(sock, method=method)
        self.fp.close()  # the reader http.client made; ours holds the socket instead
        self.fp = io.BufferedReader(_TimedReader(sock, deadline))


class _Timed:
    """For an ``http.client`` connection: its answers are read under ``deadline``."""

    deadline = float("inf")
    sock: socket.socket | None
    _method: str | None

    def response_class(self, sock: socket.socket, *_: Any, **__: Any) -> _TimedResponse:
        # http.client makes each answer with ``self.response_class(sock, method=...)``
        # (and a debug level, positionally, which Tally never sets).
        return _TimedResponse(sock, self.deadline, self._method)


class _TimedHTTP(_Timed, http.client.HTTPConnection):  # type: ignore[misc]
    pass


class _TimedHTTPS(_Timed, http.client.HTTPSConnection):  # type: ignore[misc]
    pass


class KeepAlive:
    """One keep-alive connection to one origin, opened on first use and again when the
    URL's origin changes or the connection was closed; one send at a time (a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._origin: tuple[str, str, int] | None = None
        self._conn: _TimedHTTP | _TimedHTTPS | None = None

    def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> tuple[int, bytes]:
        """The answer's status and the start of its body; raises ``OSError`` (timeouts
        included) or ``http.client.HTTPException`` when no answer came."""
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        deadline = time.monotonic() + timeout_s
        with self._lock:
            for retry in (False, True):
                conn = self._connection(parts.scheme, parts.hostname or "", parts.port, timeout_s)
                conn.deadline = deadline  # a retry on a new connection has what is left
                reused = conn.sock is not None
                if conn.sock is not None:  # the last answer's last read left its own
                    conn.sock.settimeout(timeout_s)
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read(MAX_RESPONSE_BYTES)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    self._close()
                    if reused and not retry:
                        continue  # the receiver closed it while idle: once more, on a new one
                    raise
                except BaseException:
                    self._close()
                    raise
                if not answer.isclosed():
                    answer.close()  # not read to its end: this connection cannot carry more
                    self._close()
                return answer.status, data
        raise AssertionError("unreachable")  # the loop returns or raises

    def _connection(
        self, scheme: str, host: str, port: int | None, timeout_s: float
    ) -> _TimedHTTP | _TimedHTTPS:
        origin = (scheme, host, port or (443 if scheme == "https" else 80))
        if self._conn is None or origin != self._origin:
            self._close()
            if scheme == "https":
                context = ssl.create_default_context()
                self._conn = _TimedHTTPS(host, origin[2], timeout=timeout_s, context=context)
            else:
                self._conn = _TimedHTTP(host, origin[2], timeout=timeout_s)
            self._origin = origin
        self._conn.timeout = timeout_s
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()


class KeptConnections:
    """A ``KeepAlive`` per key (an endpoint), at most ``kept`` of them: the least recently
    used one is closed beyond it (its endpoint opens another on its next send)."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._lock = threading.Lock()
        self._by_key: OrderedDict[Hashable, KeepAlive] = OrderedDict()

    def get(self, key: Hashable) -> KeepAlive:
        with self._lock:
            found = self._by_key.get(key)
            if found is None:
                found = self._by_key[key] = KeepAlive()
                if len(self._by_key) > self.kept:
                    self._by_key.popitem(last=False)[1].close()
            self._by_key.move_to_end(key)
            return found

    def close(self) -> None:
        with self._lock:
            for connection in self._by_key.values():
                connection.close()
            self._by_key.clear()


def send(
    url: str,
    message_id: str,
    body: bytes,
    secrets: Sequence[str],
    *,
    allow_private: bool,
    timeout_s: float,
    client: KeepAlive | None = None,
) -> Sent:
    started = time.perf_counter()

    def failed(error: str, status: int | None = None, response: str = "") -> Sent:
        return Sent(False, status, _ms_since(started), response, error)

    if not allow_private:
        refusal = refused_address(url)
        if refusal:
            return failed(f"address refused: {refusal}")
    now = datetime.fromtimestamp(time.time(), UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secrets, message_id, body, now),
    }
    own = client is None
    connection = client or KeepAlive()
    try:
        status, data = connection.post(url, body, headers, timeout_s)
    except TimeoutError:
        return failed(f"timed out after {timeout_s:g}s")
    except (OSError, http.client.HTTPException, ValueError) as error:  # ValueError: a bad port
        return failed(f"connection failed: {type(error).__name__}")
    finally:
        if own:
            connection.close()
    # The receiver's words are stored and shown: a NUL in them could not be stored, and
    # the page of attempts would fail to record (and be resent) every pass.
    text = plain_text(data.decode("utf-8", errors="replace")[:MAX_RESPONSE_CHARS])
    if 200 <= status < 300:
        return Sent(True, status, _ms_since(started), text, "")
    if 300 <= status < 400:
        return failed("redirects are not followed", status, text)
    return failed(f"answered {status}", status, text)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

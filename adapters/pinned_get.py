"""One GET of a small document from a URL a tenant configured (an identity provider's
JWKS, issue 14), safe against a slow or hostile server and against internal addresses.

- ``checked_address(url, allow_loopback=...)`` resolves the host once and returns the
  address to connect to, refusing (``RefusedAddress``) any non-public address; a
  loopback address only when ``allow_loopback`` (a test-mode project's local identity
  provider). Private networks, link-local (cloud metadata at 169.254.169.254) and the
  rest are refused in every mode.
- ``get(url, address, timeout_s=..., max_bytes=...)`` connects to that **checked
  address** (never resolving the name again, so a DNS answer that changes after the
  check cannot point the request inside), with the host's name for the Host header and
  TLS (SNI and certificate checks). The whole answer must arrive within ``timeout_s``:
  a deadline, not a per-read timeout, so a server dribbling a byte a second fails at
  the deadline (the webhook transport's timed reader, adapters/webhook_transport.py).
  Raises ``OSError`` (timeouts included), ``http.client.HTTPException`` or
  ``ValueError`` (a non-200 status, too large an answer).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from urllib.parse import urlsplit

from adapters.webhook_transport import _TimedHTTP, _TimedHTTPS


class RefusedAddress(ValueError):
    """The URL's host may not be fetched from (why, in the message)."""


def checked_address(url: str, *, allow_loopback: bool) -> str:
    """The address to connect to for ``url``'s host, else ``RefusedAddress``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise RefusedAddress(f"not a valid URL: {error}") from None
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise RefusedAddress(f"cannot resolve {host}: {type(error).__name__}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if not (address.is_global or (allow_loopback and address.is_loopback)):
            raise RefusedAddress(f"{host} resolves to a refused address ({address})")
    if not addresses:
        raise RefusedAddress(f"{host} resolves to no address")
    return str(addresses[0])


def _left(deadline: float) -> float:
    """What is left of the deadline, for connecting and the TLS handshake (each is then
    bounded by it as a whole: CPython's handshake keeps one deadline across its reads)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed before the connection was made")
    return left


class _PinnedHTTP(_TimedHTTP):
    address = ""

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), _left(self.deadline))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_TimedHTTPS):
    address = ""

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), _left(self.deadline))
        # The name, not the address, is what the certificate must be for.
        context: ssl.SSLContext = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


def get(url: str, address: str, *, timeout_s: float, max_bytes: int) -> bytes:
    """The body of a 200 answer to ``GET url`` sent to ``address`` (see the module)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: _PinnedHTTP | _PinnedHTTPS
    if parts.scheme == "https":
        conn = _PinnedHTTPS(
            host, parts.port, timeout=timeout_s, context=ssl.create_default_context()
        )
    else:
        conn = _PinnedHTTP(host, parts.port, timeout=timeout_s)
    conn.address = address
    conn.deadline = time.monotonic() + timeout_s
    # The answer's reader holds the socket open until the answer closes, even when
    # http.client closes the connection at its headers (HTTP/1.0, ``Connection: close``).
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        with conn.getresponse() as answer:
            if answer.status != 200:
                raise ValueError(f"answered {answer.status}")  # redirects are not followed
            body = answer.read(max_bytes + 1)
    finally:
        conn.close()
    if len(body) > max_bytes:
        raise ValueError(f"answer larger than {max_bytes} bytes")
    return body

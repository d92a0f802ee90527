"""Sending one signed webhook: Standard Webhooks signatures and outbound safety.

- ``sign(secrets, message_id, body, at) -> str``: the ``webhook-signature`` header, one
  ``v1,<base64>`` signature per secret (during a rotation's overlap both the new and the
  previous secret sign), made by the ``standardwebhooks`` library.
- ``send(url, message_id, body, secrets, *, allow_private, timeout_s) -> Sent``: one POST
  with the three ``webhook-*`` headers. It never follows a redirect (a 3xx is a failed
  attempt), times out after ``timeout_s``, keeps at most ``MAX_RESPONSE_CHARS`` of the
  answer, and refuses a host that resolves to a private, loopback, link-local or other
  non-public address unless ``allow_private`` (test-mode projects). Nothing here raises
  for the receiver's sake: every outcome is a ``Sent``.

The timestamp header is the wall clock's (``time.time()``), not the application clock's:
it is the receiver's protection against replays and must be close to its real time, even
when a test clock drives billing.

The address check resolves the name before the request; the HTTP client resolves it
again to connect, so a name whose answer changes in between (DNS rebinding) is not
covered. Operators who need that run Tally behind an egress proxy.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

MAX_RESPONSE_CHARS = 1000
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
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        return f"cannot resolve {host}: {type(error).__name__}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return f"{host} resolves to a non-public address ({address})"
    return ""


def send(
    url: str,
    message_id: str,
    body: bytes,
    secrets: Sequence[str],
    *,
    allow_private: bool,
    timeout_s: float,
    client: httpx.Client | None = None,
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
    http = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
    try:
        answer = http.post(url, content=body, headers=headers, timeout=timeout_s)
        text = answer.text[:MAX_RESPONSE_CHARS]
    except httpx.TimeoutException:
        return failed(f"timed out after {timeout_s:g}s")
    except httpx.HTTPError as error:
        return failed(f"connection failed: {type(error).__name__}")
    finally:
        if own:
            http.close()
    if 200 <= answer.status_code < 300:
        return Sent(True, answer.status_code, _ms_since(started), text, "")
    if 300 <= answer.status_code < 400:
        return failed("redirects are not followed", answer.status_code, text)
    return failed(f"answered {answer.status_code}", answer.status_code, text)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

"""Which peers may say who the client is (``TALLY_TRUSTED_PROXIES``, docs/operations.md).

Behind a reverse proxy every request arrives from the proxy's address, so the buckets
counted per client address (``auth_failure``, ``webhook_signature``; api/rate_limits.py)
and the source a provider's webhook is checked against (YooKassa's published ranges)
would all see one client. A proxy names the client in ``X-Forwarded-For``, but any
client can send that header too: believed from anyone, it lets a guesser choose a new
address for each guess and never fill a bucket, and a forger claim a provider's.

So the header is believed only from the peers the operator lists, as networks (CIDR;
an address alone is its own network). uvicorn's ``ProxyHeadersMiddleware`` does the
rest: from a trusted peer it takes the rightmost address in ``X-Forwarded-For`` that is
not itself a trusted proxy (what a client prepends to the header is never read), and
``X-Forwarded-Proto`` as the scheme; from any other peer it changes nothing. It is
installed in the app, not through uvicorn's ``--forwarded-allow-ips``, so the app
behaves the same under any ASGI server and under the tests' client.
"""

from __future__ import annotations

import ipaddress

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def parse_trusted_proxies(text: str) -> str:
    """``text`` (networks, comma separated) in a normal form, or ValueError naming the
    first entry that is not an IP network. uvicorn's own parsing keeps such an entry as
    a literal host name that never matches, so a typo would silently trust nothing; and
    ``*`` (trust every peer) is refused: it would believe any client's header."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise ValueError(
                f"{entry[:60]!r} is not an IP address or network (CIDR, e.g. 10.0.0.0/8)"
            ) from None
    return ",".join(networks)


def trust_proxies(app: FastAPI, trusted: str) -> None:
    """Believe ``X-Forwarded-For`` and ``X-Forwarded-Proto`` from the ``trusted``
    networks (``parse_trusted_proxies``'s form; empty: from no one, nothing installed).
    Added last, so it is the outermost middleware: every bucket and route sees the
    client the proxy named."""
    if trusted:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)

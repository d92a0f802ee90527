"""A home-made identity provider for the tests (issue 14): RSA keys, a local JWKS server
whose keys a test can rotate, and JWTs minted with ``joserfc``."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

ISSUER = "https://idp.test/"
AUDIENCE = "tally-billing"


class JwksServer:
    """Serves ``{"keys": [...]}`` of the keys it holds at ``url``; counts requests."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.keys: list[RSAKey | ECKey] = []
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                body = json.dumps(
                    {"keys": [k.as_dict(private=False) for k in server.keys]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def new_key(self, kid: str) -> RSAKey:
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})
        self.keys.append(key)
        return key

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class DribblingServer:
    """A JWKS URL whose server answers ``size`` bytes one at a time, ``pause_s`` apart:
    each read gets a byte long before any per-read timeout, so only a deadline on the
    whole fetch ends it."""

    def __init__(self, size: int, pause_s: float) -> None:
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                try:
                    for _ in range(size):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(pause_s)
                except OSError:
                    pass  # the client gave up: what the test wants

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def claims_at(now: datetime, sub: str = "user_1", **changes: Any) -> dict[str, Any]:
    at = int(now.timestamp())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": at, "exp": at + 600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def mint(claims: dict[str, Any], key: RSAKey | ECKey | OctKey, alg: str = "RS256") -> str:
    header: dict[str, Any] = {"alg": alg}
    kid = key.kid
    if kid:
        header["kid"] = kid
    return jwt.encode(header, claims, key, algorithms=[alg])

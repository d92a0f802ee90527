"""A local webhook receiver for the delivery tests: a real HTTP server on 127.0.0.1 that
verifies each request with the ``standardwebhooks`` library, as a product would.

``Receiver(secret)``: ``url``; ``received`` (the envelopes it accepted, in arrival order);
``down`` (answer 503 to everything); ``down_after`` (once it has accepted that many,
answer 503); ``redirect`` (answer 302); ``slow_s`` (wait before
answering); ``trickle_s`` (write the answer one byte at a time, this long apart: a
socket timeout longer than the gap never fires); ``secret`` (what it verifies with; a
wrong one makes it refuse with 400, as a receiver should); ``connections`` (how many it
was opened: it keeps them alive, HTTP/1.1, unless ``closes``: "close" answers HTTP/1.1
with ``Connection: close``, "http/1.0" answers HTTP/1.0 with no length, the body ending
where the receiver closes the connection)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.down = False
        self.down_after: int | None = None
        self.redirect = False
        self.slow_s = 0.0
        self.trickle_s = 0.0
        self.reply = json.dumps({"ok": True}).encode()  # the body of a 200
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self.headers: list[dict[str, str]] = []
        self.connections = 0
        self.closes = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a product's server would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.slow_s:
                    time.sleep(receiver.slow_s)
                if receiver.redirect:
                    self.send_response(302)
                    self.send_header("location", receiver.url + "/elsewhere")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                full = (
                    receiver.down_after is not None
                    and len(receiver.received) >= receiver.down_after
                )
                if receiver.down or full:
                    self._answer(503, b"down for maintenance")
                    return
                try:
                    envelope = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    receiver.refused += 1
                    self._answer(400, b"bad signature")
                    return
                receiver.received.append(envelope)
                receiver.headers.append(headers)
                self._answer(200, receiver.reply)

            def handle(self) -> None:
                # A client that timed out has gone: writing to it fails, which is expected.
                receiver.connections += 1
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _answer(self, status: int, body: bytes) -> None:
                if receiver.trickle_s:
                    self._trickle(status, body)
                    return
                if receiver.closes:
                    self._answer_and_close(status, body)
                    return
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer_and_close(self, status: int, body: bytes) -> None:
                # The headers and the body go out in separate writes (as a server that
                # streams its body would), so the client may read them separately.
                self.close_connection = True
                if receiver.closes == "http/1.0":
                    self.protocol_version = "HTTP/1.0"
                    self.send_response(status)
                else:
                    self.send_response(status)
                    self.send_header("content-length", str(len(body)))
                    self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def _trickle(self, status: int, body: bytes) -> None:
                head = f"HTTP/1.1 {status} OK\r\ncontent-length: {len(body)}\r\n\r\n"
                for byte in head.encode() + body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(receiver.trickle_s)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        return [e["id"] for e in self.received]

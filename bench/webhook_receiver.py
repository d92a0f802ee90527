"""The benchmark's webhook receiver (``bench/webhooks.py`` starts it in a process of its
own): ``python -m bench.webhook_receiver PORT`` with ``BENCH_WEBHOOK_SECRET`` set.

A keep-alive HTTP/1.1 server (uvicorn, httptools, uvloop) that verifies every request
with the ``standardwebhooks`` library and counts what it accepted and refused, the ids
it saw twice and the events that came out of log order; ``GET`` answers the counts and
``POST /reset`` sets them to zero. Imports nothing of Tally's, so it starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import orjson


def receiver_app(secret: str) -> Callable[..., Any]:
    """The ASGI receiver: verifies, counts, checks order and ids; GET answers its counts."""
    from standardwebhooks import Webhook, WebhookVerificationError

    hook = Webhook(secret)
    stats = {"accepted": 0, "refused": 0, "duplicates": 0, "out_of_order": 0, "last": 0}
    seen: set[str] = set()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, answer = 204, b""
        if scope["method"] == "GET":
            status, answer = 200, orjson.dumps(stats)
        elif scope["path"] == "/reset":
            stats.update(accepted=0, refused=0, duplicates=0, out_of_order=0, last=0)
            seen.clear()
        else:
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            try:
                event = hook.verify(body, headers)
            except WebhookVerificationError:
                stats["refused"] += 1
                status = 400
            else:
                stats["accepted"] += 1
                stats["duplicates"] += event["id"] in seen
                seen.add(event["id"])
                stats["out_of_order"] += event["position"] <= stats["last"]
                stats["last"] = event["position"]
        head = [(b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": answer})

    return app


def main() -> None:
    port = int(sys.argv[1])
    import uvicorn

    app = receiver_app(os.environ["BENCH_WEBHOOK_SECRET"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                loop="uvloop", http="httptools", access_log=False)  # fmt: skip


if __name__ == "__main__":
    main()

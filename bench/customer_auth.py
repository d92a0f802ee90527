"""What a customer token costs per request: ``GET /v1/me`` with a customer session token
and with an identity provider's JWT (shared secret, HS256), against the project-key read
of the same customer, ``GET /v1/customers/{id}`` (the baseline). In-process through the
ASGI app (``TestClient``), in alternating blocks of ``--block`` requests, so the shared
machine's load falls on every variant alike. Prints each variant's median and p90 per
request and its ratio to the baseline.

Where the extra time goes: a session request loads the session and the project from the
event table (two reads by primary key) and runs in the threadpool; a JWT request loads
the identity provider, the customer and the project, opens the sealed secret (Fernet) and
verifies the token with joserfc.

    python bench/customer_auth.py [--rounds 2000] [--block 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey
from pydantic import SecretStr

from api.app import create_app
from api.bootstrap import NO_PROJECT, build
from api.settings import Settings
from api.tally import Tally
from bench.common import scratch_schemas
from commands import identity_messages as im
from commands import messages as m
from commands import operator_messages as om
from commands.bus import Context
from projections.runner import wait_for_position

URL = os.environ.get("TALLY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "b" * 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000, help="requests per variant")
    parser.add_argument("--block", type=int, default=200, help="requests per block")
    args = parser.parse_args()
    with scratch_schemas(URL, "bench_custauth") as schema:
        key = SecretStr(Fernet.generate_key().decode())
        settings = Settings(database_url=URL, db_schema=schema("s"), secrets_key=key)
        tally = build(settings)
        try:
            with TestClient(create_app(tally)) as http:
                run(tally, http, args.rounds, args.block)
        finally:
            tally.close()


def run(tally: Tally, http: TestClient, rounds: int, block: int) -> None:
    project = tally.execute(m.CreateProject(name="bench"), Context(NO_PROJECT, "cli"))
    project_id = project.body["project"]["id"]
    ctx = Context(UUID(project_id), "cli")
    key = tally.execute(m.IssueApiKey(project_id=ctx.project_id), ctx).body["secret"]
    # Out of the way: the customer and key buckets (20 and 1,000 a second by default).
    unlimited = om.RatePolicyValue(requests=100_000, window_s=1)
    limits = {"customer": unlimited, "api_key": unlimited}
    tally.execute(om.SetRateLimits(project_id=ctx.project_id, rate_limits=limits), ctx)
    customer = tally.execute(m.RegisterCustomer(external_id="u1", currency="EUR"), ctx)
    customer_id = customer.body["customer"]["id"]
    digest = tally.providers.secrets.digest({"shared_secret": SECRET})
    configure = im.ConfigureIdentityProvider(
        kind="shared_secret", shared_secret=SecretStr(SECRET), shared_secret_digest=digest,
        issuer="bench", audience="tally", algorithms=["HS256"],
    )  # fmt: skip
    tally.execute(configure, ctx)
    session = tally.execute(im.CreateCustomerSession(customer_id=customer_id), ctx)
    token = tally.providers.secrets.open(session.body["sealed_secret"])
    position = int(tally.store.recorder.max_notification_id() or 0)
    assert wait_for_position(tally.views, tally.schema, position, 30)
    at = int(datetime.now(UTC).timestamp())
    claims = {"iss": "bench", "aud": "tally", "sub": "u1", "exp": at + 3600}
    signed = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET))
    variants = {
        "project key: GET /v1/customers/{id}": (
            f"/v1/customers/{customer_id}", {"Authorization": f"Bearer {key}"}
        ),
        "session: GET /v1/me": ("/v1/me", {"Authorization": f"Bearer {token}"}),
        "JWT HS256: GET /v1/me": (
            "/v1/me", {"Authorization": f"Bearer {signed}", "Tally-Project": project_id}
        ),
    }  # fmt: skip
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(max(1, rounds // block)):
        for name, (path, headers) in variants.items():
            for _ in range(block):
                start = time.perf_counter()
                response = http.get(path, headers=headers)
                timings[name].append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
    base = statistics.median(timings[next(iter(variants))])
    for name, values in timings.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:<40} median {median * 1e3:6.2f} ms  p90 {p90 * 1e3:6.2f} ms  "
              f"x{median / base:4.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

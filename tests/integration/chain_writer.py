"""A writer process for the chain's tests: ``python -m tests.integration.chain_writer
URL SCHEMA COUNT`` opens Tally on that schema (as a server process would) and makes
COUNT deposits through the command bus from 4 threads, each on an account of its own
(0: until killed). It prints ``ready`` once its first deposit has committed."""

from __future__ import annotations

import sys
import threading
from itertools import count as forever
from uuid import UUID

from api.bootstrap import NO_PROJECT, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context

THREADS = 4


def main(url: str, schema: str, count: int) -> None:
    tally = build(Settings(database_url=url, db_schema=schema, pool_size=4))
    made = tally.execute(m.CreateProject(name="writer"), Context(NO_PROJECT, "cli"))
    pid = UUID(made.body["project"]["id"])
    accounts = []
    for i in range(THREADS):
        opened = tally.execute(m.OpenAccount(owner_ref=f"w{i}", currency="EUR"), Context(pid, "k"))
        accounts.append(UUID(opened.body["account"]["id"]))
    print("ready", flush=True)
    per_thread = range(count // THREADS) if count else forever()

    def deposits(account: UUID) -> None:
        for _ in per_thread:
            deposit = m.Deposit(account_id=account, amount=1, currency="EUR")
            tally.execute(deposit, Context(pid, "k"))

    threads = [threading.Thread(target=deposits, args=(a,)) for a in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

"""Sending one webhook (adapters/webhook_transport.py) to a real local receiver: signed
so ``standardwebhooks`` verifies it, redirects not followed, timeouts kept, and private
addresses refused unless allowed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from adapters.webhook_transport import KeepAlive, send
from commands.webhook_endpoints import new_secret
from tests.e2e.webhook_receiver import Receiver

BODY = b'{"id": "evt_1", "type": "billing.customer.created"}'


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(new_secret())
    yield r
    r.close()


def test_a_signed_post_verifies_with_standardwebhooks(receiver: Receiver) -> None:
    sent = send(receiver.url, "evt_1", BODY, [receiver.secret], allow_private=True, timeout_s=5)
    assert (sent.ok, sent.status, sent.error) == (True, 200, "")
    assert receiver.ids() == ["evt_1"]
    assert receiver.headers[0]["webhook-id"] == "evt_1"


def test_any_one_of_two_secrets_verifies(receiver: Receiver) -> None:
    secrets = [new_secret(), receiver.secret]
    assert send(receiver.url, "evt_1", BODY, secrets, allow_private=True, timeout_s=5).ok
    assert len(receiver.headers[0]["webhook-signature"].split(" ")) == 2


def test_another_secret_is_refused_by_the_receiver(receiver: Receiver) -> None:
    sent = send(receiver.url, "evt_1", BODY, [new_secret()], allow_private=True, timeout_s=5)
    assert (sent.ok, sent.status, sent.response) == (False, 400, "bad signature")
    assert receiver.refused == 1


def test_a_redirect_is_a_failure_and_is_not_followed(receiver: Receiver) -> None:
    receiver.redirect = True
    sent = send(receiver.url, "evt_1", BODY, [receiver.secret], allow_private=True, timeout_s=5)
    assert (sent.ok, sent.status, sent.error) == (False, 302, "redirects are not followed")
    assert receiver.received == []


def test_a_slow_receiver_times_out(receiver: Receiver) -> None:
    receiver.slow_s = 1.5
    sent = send(receiver.url, "evt_1", BODY, [receiver.secret], allow_private=True, timeout_s=0.3)
    assert not sent.ok
    assert sent.error.startswith("timed out")
    assert sent.status is None


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(receiver: Receiver) -> None:
    """One byte every 0.2 s: each read is well within a 1 s socket timeout, so only a
    deadline for the whole answer stops it (the answer would take about 10 s)."""
    receiver.trickle_s = 0.2
    client = KeepAlive()
    started = time.monotonic()
    sent = send(
        receiver.url, "evt_1", BODY, [receiver.secret], allow_private=True, timeout_s=1,
        client=client,
    )  # fmt: skip
    took = time.monotonic() - started
    assert (sent.ok, sent.error) == (False, "timed out after 1s")
    assert 0.9 < took < 2.5
    # The connection cut off is not used again: the next send opens another, which the
    # prompt receiver answers (and the socket's timeout is the send's own again).
    receiver.trickle_s = 0.0
    again = send(
        receiver.url, "evt_2", BODY, [receiver.secret], allow_private=True, timeout_s=1,
        client=client,
    )  # fmt: skip
    assert (again.ok, again.status) == (True, 200)
    assert receiver.connections == 2
    client.close()


def test_loopback_is_refused_unless_allowed(receiver: Receiver) -> None:
    sent = send(receiver.url, "evt_1", BODY, [receiver.secret], allow_private=False, timeout_s=5)
    assert not sent.ok
    assert sent.error.startswith("address refused")
    assert receiver.received == []


def test_one_keep_alive_connection_carries_every_send(receiver: Receiver) -> None:
    connection = KeepAlive()
    for n in range(3):
        sent = send(receiver.url, f"evt_{n}", BODY, [receiver.secret], allow_private=True,
                    timeout_s=5, client=connection)  # fmt: skip
        assert sent.ok, sent
    connection.close()
    assert [h["webhook-id"] for h in receiver.headers] == ["evt_0", "evt_1", "evt_2"]
    assert receiver.connections == 1


def test_a_receivers_control_characters_are_not_kept(receiver: Receiver) -> None:
    """A receiver's answer is stored with the attempt (Postgres text holds no NUL) and
    shown by `tally webhooks deliveries` (no terminal escapes)."""
    receiver.reply = b"ok\x00\x1b[31mred\x7f"
    sent = send(receiver.url, "evt_1", BODY, [receiver.secret], allow_private=True, timeout_s=5)
    assert (sent.ok, sent.response) == (True, "ok  [31mred ")


@pytest.mark.parametrize("closes", ["http/1.0", "close"])
@pytest.mark.parametrize("size", [20, 20_000])
def test_a_receiver_closing_after_each_answer_gets_every_send(
    receiver: Receiver, closes: str, size: int
) -> None:
    """A receiver that closes the connection after its answer (HTTP/1.0, or
    ``Connection: close``): http.client closes its socket as soon as it has read the
    headers, while the body is still to be read from it. Every send must still succeed
    with the whole body (20 bytes: usually in the headers' read; 20 kB: over one read's
    8 kB buffer), and each opens a new connection."""
    receiver.closes = closes
    receiver.reply = b'{"ok": "' + b"x" * (size - 10) + b'"}'
    client = KeepAlive()
    sends = 40
    for n in range(sends):
        sent = send(receiver.url, f"evt_{n}", BODY, [receiver.secret], allow_private=True,
                    timeout_s=5, client=client)  # fmt: skip
        assert (sent.ok, sent.status, sent.error) == (True, 200, ""), (n, sent)
        assert sent.response == receiver.reply[:1000].decode()
    client.close()
    assert [h["webhook-id"] for h in receiver.headers] == [f"evt_{n}" for n in range(sends)]
    assert receiver.connections == sends

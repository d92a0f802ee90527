"""A Tally with a secrets key of its own, for the tests whose objects are sealed with it
(webhook endpoint secrets, provider credentials, customer sessions, identity providers'
shared secrets), and the fixtures the customer-access tests share (``sealed_tally``,
``web``: imported by name into ``test_customer_access``, ``test_customer_first_use`` and
``test_me``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

from adapters.clock import FixedClock
from api.app import create_app
from api.bootstrap import Tally, build
from api.settings import Settings


@contextmanager
def sealed_build(settings: Settings, clock: FixedClock, **update: Any) -> Iterator[Tally]:
    """A Tally built from ``settings`` changed by ``update``, with a fresh secrets key;
    closed afterwards."""
    key = SecretStr(Fernet.generate_key().decode())
    tally = build(settings.model_copy(update={"secrets_key": key, **update}), clock=clock)
    try:
        yield tally
    finally:
        tally.close()


@pytest.fixture
def sealed_tally(settings: Settings, clock: FixedClock) -> Iterator[Tally]:
    with sealed_build(settings, clock) as tally:
        yield tally


@pytest.fixture
def web(sealed_tally: Tally) -> Iterator[TestClient]:
    with TestClient(create_app(sealed_tally), raise_server_exceptions=False) as client:
        yield client

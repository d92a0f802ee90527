"""``Product.check_fan_out``: a revision of a product's name or features is refused when
it would reach more customers than the bound; a definition that revises nothing never is."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.catalog import Product
from domain.errors import LimitReached


def team() -> Product:
    return Product.define(uuid4(), "TEAM", "Team", ["audit"])


@given(customers=st.integers(0, 50), limit=st.integers(1, 50))
def test_a_revision_is_refused_exactly_past_the_bound(customers: int, limit: int) -> None:
    product = team()
    if customers > limit:
        with pytest.raises(LimitReached):
            product.check_fan_out("Team", ["audit", "sso"], customers, limit)
    else:
        product.check_fan_out("Team", ["audit", "sso"], customers, limit)
    # The same name and features revise nothing, however many customers it grants to.
    product.check_fan_out("Team", ["audit"], customers, limit)


def test_a_refused_revision_records_nothing() -> None:
    product = team()
    with pytest.raises(LimitReached):
        product.check_fan_out("Team plan", ["audit"], 3, 2)
    assert product.revised_by("Team plan", ["audit"])
    assert not product.revised_by("Team", ["audit"])
    assert len(product.collect_events()) == 1  # only its definition

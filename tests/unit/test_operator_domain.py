"""The operator's keys and the project changes only the operator makes (issue 14): names,
modes, default currency, rate limits and key rotation. Pure domain, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.operators import split_operator_key
from commands.projects import split_key
from domain.errors import (
    InvalidTransition,
    LimitReached,
    NotFound,
    UnknownCurrency,
    ValidationFailed,
)
from domain.limits import (
    DEFAULT_RATE_LIMITS,
    MAX_API_KEYS_PER_PROJECT,
    MAX_KEY_OVERLAP_S,
    MAX_OPERATOR_KEYS,
)
from domain.operators import OPERATOR_ID, Operator
from domain.projects import Project
from domain.rate_limits import PROJECT_KINDS, RatePolicy, policy_for

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)


def test_the_operator_lives_at_one_id_and_owns_itself() -> None:
    operator = Operator.start()
    assert (operator.id, operator.project_id, operator.keys) == (OPERATOR_ID, OPERATOR_ID, {})


def test_operator_keys_are_issued_revoked_once_and_capped() -> None:
    operator = Operator.start()
    for n in range(MAX_OPERATOR_KEYS):
        operator.issue_key(f"k{n}", f"h{n}", "tlyop_k", "")
    version = operator.version
    with pytest.raises(LimitReached):
        operator.issue_key("extra", "h", "tlyop_e", "")
    operator.revoke_key("k0")
    with pytest.raises(ValidationFailed):
        operator.revoke_key("k0")
    with pytest.raises(NotFound):
        operator.revoke_key("nope")
    assert operator.version == version + 1  # only the one revocation was recorded
    operator.issue_key("extra", "h", "tlyop_e", "")  # a revoked key frees its place
    assert operator.keys["extra"].key_hash == "h"


def test_update_changes_what_is_given_and_records_nothing_for_no_change() -> None:
    project = Project.create("Acme")
    assert project.update("Acme Inc.", "test", "EUR")
    assert (project.name, project.mode, project.default_currency) == ("Acme Inc.", "test", "EUR")
    version = project.version
    assert not project.update(None, None, None)
    assert not project.update("  Acme Inc. ", "test", "EUR")
    assert project.version == version


@pytest.mark.parametrize(
    ("name", "mode", "currency", "error"),
    [
        ("", None, None, ValidationFailed),
        (None, "sandbox", None, ValidationFailed),
        (None, None, "XXQ", UnknownCurrency),
    ],
)
def test_update_refuses_bad_values_and_records_nothing(
    name: str | None, mode: str | None, currency: str | None, error: type[Exception]
) -> None:
    project = Project.create("Acme")
    with pytest.raises(error):
        project.update(name, mode, currency)
    assert (project.version, project.name, project.mode) == (1, "Acme", "live")


def test_rotation_issues_a_new_key_and_sets_the_old_ones_expiry() -> None:
    project = Project.create("Acme")
    project.issue_key("old", "h-old", "tly_old", "ci")
    expires_at = project.rotate_key("old", ("new", "h-new", "tly_new", "ci 2"), 3600, NOW)
    assert expires_at == NOW + timedelta(hours=1)
    assert project.keys["old"].expires_at == expires_at
    assert project.keys["old"].active(NOW + timedelta(minutes=59))
    assert not project.keys["old"].active(expires_at)
    assert project.keys["new"].active(expires_at)
    assert project.keys["new"].expires_at is None


def test_rotation_with_no_overlap_ends_the_old_key_now() -> None:
    project = Project.create("Acme")
    project.issue_key("old", "h", "p", "")
    project.rotate_key("old", ("new", "h2", "p", ""), 0, NOW)
    assert not project.keys["old"].active(NOW)


@pytest.mark.parametrize("case", ["unknown", "revoked", "rotating", "overlap", "taken"])
def test_rotation_refusals_record_nothing(case: str) -> None:
    project = Project.create("Acme")
    project.issue_key("old", "h", "p", "")
    project.issue_key("other", "h", "p", "")
    overlap, old, new_id = 60, "old", "new"
    if case == "unknown":
        old = "nope"
    elif case == "revoked":
        project.revoke_key("old")
    elif case == "rotating":
        project.rotate_key("old", ("mid", "h", "p", ""), 60, NOW)
    elif case == "overlap":
        overlap = MAX_KEY_OVERLAP_S + 1
    else:
        new_id = "other"
    version, keys = project.version, dict(project.keys)
    with pytest.raises((NotFound, ValidationFailed, InvalidTransition)) as refused:
        project.rotate_key(old, (new_id, "h", "p", ""), overlap, NOW)
    assert (project.version, project.keys) == (version, keys)
    # The key's state refuses these (409), not the request (422).
    assert isinstance(refused.value, InvalidTransition) == (case in ("revoked", "rotating"))


def test_active_keys_are_capped_and_expired_keys_do_not_count() -> None:
    project = Project.create("Acme")
    for n in range(MAX_API_KEYS_PER_PROJECT):
        project.issue_key(f"k{n}", "h", "p", "", NOW)
    with pytest.raises(LimitReached):
        project.issue_key("extra", "h", "p", "", NOW)
    with pytest.raises(LimitReached):  # a rotation adds a key before the old one ends
        project.rotate_key("k0", ("extra", "h", "p", ""), 60, NOW)
    project.revoke_key("k1")
    project.rotate_key("k0", ("k-new", "h", "p", ""), 60, NOW)
    with pytest.raises(LimitReached):
        project.issue_key("extra", "h", "p", "", NOW)
    project.issue_key("extra", "h", "p", "", NOW + timedelta(seconds=60))  # k0 expired


def test_rate_limits_replace_named_kinds_and_null_restores_the_default() -> None:
    project = Project.create("Acme")
    assert project.set_rate_limits({"api_key": {"requests": 5, "window_s": 2}})
    assert project.set_rate_limits({"webhook": {"requests": 7, "window_s": 1}})
    assert policy_for("api_key", project.rate_limits) == RatePolicy(5, 2)
    assert policy_for("customer", project.rate_limits) == RatePolicy(
        *DEFAULT_RATE_LIMITS["customer"]
    )
    assert project.set_rate_limits({"api_key": None})
    assert project.rate_limits == {"webhook": {"requests": 7, "window_s": 1}}
    version = project.version
    assert not project.set_rate_limits({"webhook": {"requests": 7, "window_s": 1}})
    assert project.version == version


@pytest.mark.parametrize(
    "limits",
    [
        {"operator": {"requests": 1, "window_s": 1}},
        {"api_key": {"requests": 0, "window_s": 1}},
        {"api_key": {"requests": 1, "window_s": 0}},
        {"api_key": {"requests": 10**9, "window_s": 1}},
        {"api_key": {"requests": 1, "window_s": 86_400}},
    ],
)
def test_rate_limits_out_of_bounds_are_refused_and_record_nothing(limits: dict) -> None:  # type: ignore[type-arg]
    project = Project.create("Acme")
    with pytest.raises(ValidationFailed):
        project.set_rate_limits(limits)
    assert (project.version, project.rate_limits) == (1, None)


policies = st.none() | st.builds(
    lambda r, w: {"requests": r, "window_s": w},
    st.integers(1, 100_000),
    st.integers(1, 3_600),
)
changes = st.dictionaries(st.sampled_from(PROJECT_KINDS), policies, max_size=3)


@given(st.lists(changes, max_size=8))
def test_rate_limits_are_the_last_value_named_for_each_kind(sequence: list[dict]) -> None:  # type: ignore[type-arg]
    project = Project.create("Acme")
    expected: dict[str, dict[str, int]] = {}
    for change in sequence:
        project.set_rate_limits(change)
        for kind, value in change.items():
            if value is None:
                expected.pop(kind, None)
            else:
                expected[kind] = value
    assert (project.rate_limits or {}) == expected
    for kind in PROJECT_KINDS:
        want = expected.get(kind) or dict(
            zip(("requests", "window_s"), DEFAULT_RATE_LIMITS[kind], strict=True)
        )
        assert policy_for(kind, project.rate_limits).as_dict() == want


@given(st.text(alphabet="tlyop_abc019", max_size=30))
def test_no_string_is_both_an_operator_key_and_a_project_key(text: str) -> None:
    assert split_key(text) is None or split_operator_key(text) is None


def test_a_project_key_revoked_twice_is_refused_by_its_state() -> None:
    project = Project.create("Acme")
    project.issue_key("k0", "h", "p", "")
    project.revoke_key("k0")
    version = project.version
    with pytest.raises(InvalidTransition):
        project.revoke_key("k0")
    assert project.version == version

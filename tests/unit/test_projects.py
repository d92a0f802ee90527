"""Projects (tenants) and their API keys. No I/O."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.errors import InvalidTransition, LimitReached, NotFound, ValidationFailed
from domain.limits import MAX_WEBHOOK_ENDPOINTS_PER_PROJECT
from domain.projects import Project


def test_project_owns_itself_and_starts_without_keys() -> None:
    project = Project.create("  Acme  ", mode="test")
    assert (project.name, project.mode, project.keys) == ("Acme", "test", {})
    assert project.project_id == project.id


def test_project_mode_defaults_to_live() -> None:
    assert Project.create("Acme").mode == "live"


@pytest.mark.parametrize(
    ("name", "mode"),
    [("", "live"), ("   ", "live"), ("x" * 101, "live"), ("Acme", "sandbox"), ("Acme", "LIVE")],
)
def test_create_refuses_bad_name_or_mode(name: str, mode: str) -> None:
    with pytest.raises(ValidationFailed):
        Project.create(name, mode)


def test_issued_key_keeps_only_hash_prefix_and_label() -> None:
    project = Project.create("Acme")
    project.issue_key("k1", "hash-1", "tly_k1_abcd", "ci")
    info = project.keys["k1"]
    assert (info.key_hash, info.prefix, info.label, info.revoked) == (
        "hash-1",
        "tly_k1_abcd",
        "ci",
        False,
    )
    event = project._pending_events[-1]
    assert type(event).__qualname__ == "Project.KeyIssued"
    assert "secret" not in vars(event)


def test_issuing_a_key_id_twice_is_refused_and_records_nothing() -> None:
    project = Project.create("Acme")
    project.issue_key("k1", "hash-1", "p", "")
    version = project.version
    with pytest.raises(ValidationFailed):
        project.issue_key("k1", "hash-2", "p", "")
    assert (project.version, project.keys["k1"].key_hash) == (version, "hash-1")


def test_revoking_a_key_marks_it_revoked_once() -> None:
    project = Project.create("Acme")
    project.issue_key("k1", "hash-1", "p", "")
    project.revoke_key("k1")
    assert project.keys["k1"].revoked
    version = project.version
    with pytest.raises(InvalidTransition):
        project.revoke_key("k1")
    assert project.version == version


def test_revoking_an_unknown_key_is_not_found() -> None:
    project = Project.create("Acme")
    with pytest.raises(NotFound):
        project.revoke_key("nope")
    assert project.version == 1


def test_a_project_counts_its_webhook_endpoints_up_to_the_limit() -> None:
    project = Project.create("acme")
    ids = [uuid4() for _ in range(MAX_WEBHOOK_ENDPOINTS_PER_PROJECT)]
    for endpoint_id in ids:
        project.add_webhook_endpoint(endpoint_id)
    recorded = len(project.collect_events())
    with pytest.raises(LimitReached):
        project.add_webhook_endpoint(uuid4())
    assert project.collect_events() == []  # refused before anything was recorded
    project.remove_webhook_endpoint(ids[0])
    project.remove_webhook_endpoint(uuid4())  # not counted (older than the limit): nothing
    assert len(project.collect_events()) == 1
    project.add_webhook_endpoint(uuid4())
    assert len(project.webhook_endpoint_ids) == MAX_WEBHOOK_ENDPOINTS_PER_PROJECT
    assert recorded == 1 + MAX_WEBHOOK_ENDPOINTS_PER_PROJECT  # Created and each added


def test_a_named_currency_wins_and_none_falls_back_to_the_default() -> None:
    project = Project.create("Acme")
    with pytest.raises(ValidationFailed, match="no default currency"):
        project.currency_or_default(None)
    assert project.currency_or_default("USD") == "USD"
    project.update(None, None, "EUR")
    assert project.currency_or_default(None) == "EUR"
    assert project.currency_or_default("USD") == "USD"

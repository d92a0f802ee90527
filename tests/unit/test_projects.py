"""Projects (tenants) and their API keys. No I/O."""

from __future__ import annotations

import pytest

from domain.errors import NotFound, ValidationFailed
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
    with pytest.raises(ValidationFailed):
        project.revoke_key("k1")
    assert project.version == version


def test_revoking_an_unknown_key_is_not_found() -> None:
    project = Project.create("Acme")
    with pytest.raises(NotFound):
        project.revoke_key("nope")
    assert project.version == 1

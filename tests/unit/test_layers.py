"""The layers are a contract the tests enforce (issue 17, DESIGN "Dependencies point
inward"): pyproject.toml declares them for import-linter, and this test runs it, so a
change that imports outward or closes an import cycle fails the suite, not only
``make lint``."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"domain", "commands", "projections", "adapters", "api"}


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _of_type(kind: str) -> list[dict[str, Any]]:
    return [c for c in _contracts() if c["type"] == kind]


def test_the_contracts_say_what_the_design_says() -> None:
    forbidden = {
        frozenset(c["source_modules"]): set(c["forbidden_modules"]) for c in _of_type("forbidden")
    }
    assert forbidden[frozenset({"domain"})] == PACKAGES - {"domain"}
    assert forbidden[frozenset({"commands", "projections"})] == {"adapters", "api"}
    (layers,) = _of_type("layers")
    assert layers["layers"] == ["api", "adapters", "commands | projections", "domain"]
    (acyclic,) = _of_type("acyclic_siblings")
    assert set(acyclic["ancestors"]) == PACKAGES
    # No import is let off any contract: a cycle is fixed, not ignored by name.
    assert all(not c.get("ignore_imports") for c in _contracts())


def test_the_code_keeps_every_import_contract() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in done.stdout

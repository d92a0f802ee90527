"""The README's walkthroughs, run as written: each shell block of its two walkthrough
sections goes through bash (with curl and python3, nothing else: the README promises a
machine with Python) against a real ``tally serve`` on a fresh schema, so the README
cannot drift from the API.

Only what must differ on a test machine is replaced: the server's address (a free port
instead of 8000) and the CLI (this interpreter's, instead of ``.venv/bin/tally``). Each
block runs under ``set -euo pipefail``, and its ``field`` function fails on an answer
without the value asked for, so a failed request, a missing header or an id that reads
``null`` stops it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.cli_run import CLI
from tests.e2e.test_cli_and_server import free_port
from tests.e2e.test_stub_flow_serve import serving

README = Path(__file__).resolve().parents[2] / "README.md"
WALKTHROUGHS = ("## Five minutes with curl", "## A month of a subscription, on a test clock")


def shell_block(heading: str) -> str:
    """The one ``sh`` block of the README section under ``heading``."""
    text = README.read_text()
    assert heading + "\n" in text, f"README has no section {heading!r}"
    section = text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) == 1, f"{heading!r} has {len(blocks)} sh blocks"
    return str(blocks[0])


def for_this_machine(block: str, port: int) -> str:
    assert "localhost:8000" in block
    assert ".venv/bin/tally" in block
    assert not re.search(r"\bjq\b", block), "the walkthroughs read JSON with python3, not jq"
    block = block.replace("localhost:8000", f"127.0.0.1:{port}")
    block = block.replace(".venv/bin/tally", shlex.join(CLI))
    return "set -euo pipefail\n" + block


@pytest.fixture
def served(pg_url: str, schema: str, tmp_path: Path) -> tuple[dict[str, str], int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env = {
        **clean,
        "TALLY_DATABASE_URL": pg_url,
        "TALLY_DB_SCHEMA": schema,
        "TALLY_STUB_SECRET_FILE": str(tmp_path / "stub_secret"),
    }
    return env, free_port()


def run(block: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        ["bash", "-c", block], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def test_readme_walkthroughs_run_as_written(
    served: tuple[dict[str, str], int], tmp_path: Path
) -> None:
    for tool in ("bash", "curl", "python3"):
        assert shutil.which(tool), f"the README's walkthroughs need {tool} (apt install {tool})"
    env, port = served
    ledger, billing = (for_this_machine(shell_block(h), port) for h in WALKTHROUGHS)
    with serving(env, port, workers=1):
        ledger_out = run(ledger, env, tmp_path)
        billing_out = run(billing, env, tmp_path)
    # The deposit's retry was a replay; the capture left 50.00 - 9.00; replay agreed.
    assert re.search(r"(?im)^idempotency-replayed: true\s*$", ledger_out)
    assert re.search(r'"ledger_balance": 4100\b', ledger_out)
    assert "OK: the read models match the event log" in ledger_out
    # The clock's advance renewed into February, whose invoice was paid; its PDF is there.
    assert '"current_period_start": "2030-02-01T00:00:00.000000Z"' in billing_out
    assert re.search(r'"status": "paid"', billing_out)
    assert re.search(r'"amount_paid": 2900\b', billing_out)
    assert (tmp_path / "invoice.pdf").read_bytes().startswith(b"%PDF-")


def field(definition: str, answer: str, path: str) -> subprocess.CompletedProcess[str]:
    """``field path`` of the README's definition, given ``answer`` on its stdin."""
    script = f"{definition}\nfield {shlex.quote(path)}"
    return subprocess.run(["bash", "-c", script], input=answer, capture_output=True, text=True)


def test_readme_field_fails_on_an_answer_without_the_value() -> None:
    """The walkthrough test can fail only because ``field`` does: an error answer, a null
    or a missing index must stop the block, and a present value prints as it is."""
    for heading in WALKTHROUGHS:
        found = re.search(r"^field\(\) \{.*?\"\$1\"; \}$", shell_block(heading), re.S | re.M)
        assert found, f"{heading!r} defines no field function"
        for answer, path in (
            ('{"type": "about:blank", "code": "not_found"}', "id"),
            ('{"id": null}', "id"),
            ('{"data": []}', "data.0.id"),
            ("", "id"),
        ):
            done = field(found[0], answer, path)
            assert done.returncode != 0, (answer, path, done)
            assert done.stdout == ""
            assert f"no {path} in this answer" in done.stderr
        done = field(found[0], '{"data": [{"id": "inv_1"}]}', "data.0.id")
        assert (done.returncode, done.stdout) == (0, "inv_1\n"), done

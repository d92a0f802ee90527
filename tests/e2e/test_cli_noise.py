"""What ``tally`` prints besides its answer (issue 11, "CLI and noise"): no platformdirs
warning where XDG_RUNTIME_DIR is unset, and one line, not fifteen, when the embedded
Postgres stops with the server."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.e2e.cli_run import CLI, wait_until_ready
from tests.e2e.test_cli_and_server import free_port


def test_embedded_postgres_starts_and_stops_quietly(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TALLY_")},
        "TALLY_DATA_DIR": str(tmp_path / "var"),
        "TALLY_STUB_SECRET_FILE": str(tmp_path / "stub_secret"),
    }
    env.pop("XDG_RUNTIME_DIR", None)
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_ready(server, f"http://127.0.0.1:{port}")
        # Another command on the same embedded server, as an operator would run it.
        listed = subprocess.run(
            [*CLI, "projects", "list"], env=env, capture_output=True, text=True, timeout=120
        )
        assert listed.returncode == 0, listed.stderr
        assert listed.stderr == ""
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    assert "XDG_RUNTIME_DIR" not in output
    assert "Warning" not in output
    postgres = [line for line in output.splitlines() if "postgres" in line.lower()]
    assert len(postgres) == 1, output
    assert "embedded Postgres" in postgres[0]
    assert "stopped" in postgres[0]

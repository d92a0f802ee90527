"""The command line explains itself (issue 11, "CLI and noise"): ``tally --version``, a
help text for every option and argument of every command, and an example in each
command's help."""

from __future__ import annotations

import argparse
import shlex
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from uuid import UUID

import pytest

from api.cli import build_parser, main
from api.cli_processes import served_base_url
from tests.e2e.cli_run import CLI


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("tally",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from commands(child, (*path, name))


def test_every_option_and_argument_of_every_command_has_help() -> None:
    missing = [
        f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
        for path, parser in commands(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert missing == []


def test_every_command_shows_an_example_that_its_parser_accepts() -> None:
    # One parser for every example: parsing changes nothing in it, and building one
    # (every command's parser) costs as much as parsing a hundred examples.
    tally = build_parser()
    walked = list(commands(tally))
    assert len(walked) > 20
    for path, parser in walked:
        examples = [
            shlex.split(line.split("#")[0])
            for line in (parser.epilog or "").splitlines()
            if line.strip().startswith("tally ")
        ]
        assert examples, f"{' '.join(path)} has no example"
        for words in examples:
            assert tuple(words[: len(path)]) == path, words
            # Shell variables ($PROJECT, $INVOICE) stand for ids.
            args = [str(UUID(int=1)) if w.startswith("$") else w for w in words[1:]]
            if "--version" not in args and "--help" not in args:
                tally.parse_args(args)  # exits (failing the test) if refused


def test_version() -> None:
    done = subprocess.run([*CLI, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"tally {version('tally')}"


def test_help_of_serve_names_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "TALLY_PORT" in shown
    assert "--port 8011" in shown


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8011"),
        ("0.0.0.0", "http://127.0.0.1:8011"),  # every interface: reached on the loopback one
        ("::", "http://[::1]:8011"),
        ("fd00::5", "http://[fd00::5]:8011"),
        ("billing.example", "http://billing.example:8011"),
    ],
)
def test_pages_are_linked_on_the_address_served(host: str, url: str) -> None:
    assert served_base_url(host, 8011) == url

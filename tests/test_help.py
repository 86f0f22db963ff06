"""What `--help` and usage errors say (issue 9, item 14): an Examples section everywhere,
no `<bool>` labels, `--profile` only where a profile matters, plain choice errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer.main

from spconnect.cli.main import app
from spconnect.errors import ExitCode
from tests.conftest import Cli

# The commands whose work depends on a profile; every other one must not offer -p.
# relay-page concerns an app (--app), not a profile; of the invite commands only create
# names one (the profile a seller's authorization will be stored as).
TAKES_PROFILE = {"login", "reauth", "logout", "token", "status", "api", "exec", "invite create"}


def command_paths() -> Iterator[tuple[str, ...]]:
    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def leaf_paths() -> list[tuple[str, ...]]:
    return [p for p in command_paths() if p and p not in (("app",), ("server",), ("invite",))]


@pytest.mark.parametrize("path", list(command_paths()), ids=" ".join)
def test_every_help_has_examples_and_no_bool_labels(cli: Cli, path: tuple[str, ...]) -> None:
    result = cli.run(*path, "--help")
    assert result.returncode == 0, result.output
    assert "<bool>" not in result.stdout
    assert "\n  Examples:\n\n      spconnect " in result.stdout or (
        # An example may start with what feeds spconnect, as `printf ... | spconnect`.
        "\n  Examples:\n\n      " in result.stdout and "spconnect" in result.stdout
    ), result.stdout


def test_only_commands_that_use_a_profile_offer_one() -> None:
    offering = set()
    for path in leaf_paths():
        command = typer.main.get_command(app)
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if any(p.name == "profile" for p in command.params):
            offering.add(" ".join(path))
    assert offering == TAKES_PROFILE


def test_format_help_says_what_each_value_prints(cli: Cli) -> None:
    text = " ".join(cli.ok("token", "--help").stdout.split())
    for described in (
        "raw: the bare token",
        "header: `x-amz-access-token: TOKEN`",
        "json: an object with access_token, expires_at",
        "env: `export` lines for SPAPI_ACCESS_TOKEN",
    ):
        assert described in text


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("token", "--format", "yaml"), "'yaml' is not one of raw, header, json, env"),
        (("token", "--grantless", "all"), "'all' is not one of notifications, rotation"),
        (("completion", "tcsh"), "'tcsh' is not one of bash, zsh, fish"),
    ],
)
def test_choice_errors_name_the_choices_plainly(
    cli: Cli, args: tuple[str, ...], error: str
) -> None:
    result = cli.run(*args)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.splitlines()[-1].endswith(error), result.stderr
    assert "Value error" not in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""

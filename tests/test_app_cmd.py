"""``spconnect app``: the secret's real creation date, and asking before a removal that
strands profiles (issue 9, items 10 and 12)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import tomllib

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import CONSOLE_SCRIPT, Cli, Seller, add_app, run_app_add
from tests.test_wizard import Terminal

pytestmark = pytest.mark.keyring


def config(cli: Cli) -> dict[str, object]:
    return tomllib.loads((cli.config_dir / "config.toml").read_text())


def test_app_remove_with_profiles_needs_yes_without_a_terminal(cli: Cli, seller: Seller) -> None:
    refused = cli.run("app", "remove", "demo")
    assert refused.returncode == ExitCode.USAGE
    assert "profiles default use app 'demo'" in refused.stderr
    assert "spconnect app remove demo --yes" in refused.stderr
    assert "demo" in config(cli)["apps"]  # type: ignore[operator]
    assert cli.ok("token").stdout.startswith("Atza|")
    cli.ok("app", "remove", "demo", "--yes")
    assert "demo" not in config(cli).get("apps", {})  # type: ignore[operator]


def test_app_remove_without_profiles_does_not_ask(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    add_app(cli, emulator.state.register_app("lonely"), name="lonely")
    cli.ok("app", "remove", "lonely")
    assert "lonely" not in config(cli).get("apps", {})  # type: ignore[operator]


@pytest.mark.parametrize(("answer", "removed"), [("n", False), ("y", True)])
def test_app_remove_asks_on_a_terminal(
    cli: Cli, seller: Seller, answer: str, removed: bool
) -> None:
    terminal = Terminal([CONSOLE_SCRIPT, "app", "remove", "demo"], cli.env)
    try:
        terminal.read_until("Continue?")
        terminal.type(answer + "\r")
    finally:
        code = terminal.close()
    assert code == (0 if removed else ExitCode.USAGE), terminal.text()
    assert ("demo" not in config(cli).get("apps", {})) is removed  # type: ignore[operator]


def test_secret_created_starts_the_rotation_clock(cli: Cli, emulator: Emulator) -> None:
    app = emulator.state.register_app("demo")
    created = dt.date.today() - dt.timedelta(days=170)
    add_app(cli, app, "--secret-created", created.isoformat(), "--insecure-storage")
    assert config(cli)["apps"]["demo"]["secret_set_at"] == created  # type: ignore[index]
    login = emulator.state.self_authorize(app.client_id)
    cli.ok("login", "--refresh-token-stdin", "--marketplace", "US", input=login)
    status = json.loads(cli.ok("status", "--json").stdout)
    secret = status["profiles"][0]["client_secret"]
    assert secret["days_left"] == 10
    assert "the client secret of app 'demo' must be rotated in 10 days" in cli.ok("status").stdout
    rotated = emulator.state.rotate_secret(app.client_id)
    later = dt.date.today() - dt.timedelta(days=2)
    cli.ok(
        "app",
        "set-secret",
        "demo",
        "--client-secret-stdin",
        "--secret-created",
        later.isoformat(),
        input=rotated,
    )
    assert config(cli)["apps"]["demo"]["secret_set_at"] == later  # type: ignore[index]


@pytest.mark.parametrize("day", ["2999-01-01", "01/02/2026", "yesterday"])
def test_a_bad_secret_created_day_is_a_usage_error(cli: Cli, emulator: Emulator, day: str) -> None:
    result = run_app_add(
        cli, emulator.state.register_app("demo"), "--secret-created", day, "--insecure-storage"
    )
    assert result.returncode == ExitCode.USAGE, result.output
    assert "--secret-created" in result.stderr
    assert not (cli.config_dir / "config.toml").exists()


def test_the_zero_config_app_name_is_kept(cli: Cli, emulator: Emulator) -> None:
    """'environment' names the app of zero-config mode (cache entries, hints), so no
    configured app may take it."""
    refused = run_app_add(cli, emulator.state.register_app("demo"), name="environment")
    assert refused.returncode == ExitCode.USAGE
    assert "kept for zero-config mode" in refused.stderr
    assert not (cli.config_dir / "config.toml").exists()

"""Asking before `logout --all` and before a login that replaces what a profile holds
(issue 9, item 12): on a terminal the person is asked; --yes skips the question; without
a terminal the command refuses, changes nothing and names --yes."""

from __future__ import annotations

import httpx
import pytest

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import (
    CONSOLE_SCRIPT,
    Cli,
    LoginProcess,
    Seller,
    amazon_redirect,
    login_self_authorized,
)
from tests.test_login import login_via_relay, port, profile_of, stored_token
from tests.test_wizard import Terminal

pytestmark = pytest.mark.keyring
__all__ = ["port"]  # the fixture, used by name


def consent_url_on(terminal: Terminal) -> str:
    terminal.read_until("/apps/authorize/consent?")
    return next(
        line.strip()
        for line in terminal.text().splitlines()
        if "/apps/authorize/consent?" in line and line.strip().startswith("http")
    )


def test_logout_all_needs_yes_without_a_terminal(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    login_self_authorized(cli, emulator, profile="eu")
    refused = cli.run("logout", "--all")
    assert refused.returncode == ExitCode.USAGE
    assert "every profile (default, eu)" in refused.stderr
    assert "add --yes: spconnect logout --all --yes" in refused.stderr
    assert stored_token(cli, "default") and stored_token(cli, "eu")
    cli.ok("logout", "--all", "--yes")
    assert stored_token(cli, "default") is None and stored_token(cli, "eu") is None
    assert cli.ok("logout", "-p", "nobody-left", "--all").returncode == 0  # nothing to ask


@pytest.mark.parametrize(("answer", "removed"), [("n", False), ("y", True)])
def test_logout_all_asks_on_a_terminal(
    cli: Cli, seller: Seller, answer: str, removed: bool
) -> None:
    terminal = Terminal([CONSOLE_SCRIPT, "logout", "--all"], cli.env)
    try:
        terminal.read_until("Continue?")
        terminal.type(answer + "\r")
    finally:
        code = terminal.close()
    assert code == (0 if removed else ExitCode.USAGE), terminal.text()
    assert (stored_token(cli) is None) is removed


def test_login_for_another_region_needs_yes_without_a_terminal(cli: Cli, seller: Seller) -> None:
    refused = cli.run("login", "--no-browser", "--marketplace", "DE")
    assert refused.returncode == ExitCode.USAGE, refused.stderr
    assert "holds an authorization in region na" in refused.stderr
    assert "for region eu (Germany) replaces it" in refused.stderr
    assert "add --yes: spconnect login -p default --marketplace DE --yes" in refused.stderr
    assert "/apps/authorize/consent" not in refused.stderr  # nobody sent to Amazon
    imported = cli.run(
        "login", "--refresh-token-stdin", "--marketplace", "DE", input=seller.refresh_token
    )
    assert imported.returncode == ExitCode.USAGE
    assert "--refresh-token-stdin --yes" in imported.stderr
    assert profile_of(cli)["region"] == "na" and stored_token(cli) == seller.refresh_token
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "DE", "--yes")
    assert "marketplace_id" not in login.consent_url()  # started: the question was skipped
    login.process.terminate()
    login.finish()


@pytest.mark.parametrize(("answer", "started"), [("n", False), ("y", True)])
def test_login_for_another_region_asks_on_a_terminal(
    cli: Cli, seller: Seller, answer: str, started: bool
) -> None:
    terminal = Terminal(
        [CONSOLE_SCRIPT, "login", "--no-browser", "--marketplace", "DE", "--timeout", "2"],
        cli.env,
    )
    try:
        terminal.read_until("Continue?")
        assert "for region eu (Germany) replaces it" in " ".join(terminal.text().split())
        terminal.type(answer + "\r")
    finally:
        code = terminal.close()
    # After a yes the login goes ahead (and here times out: nobody approves).
    assert code == (ExitCode.LOGIN_INCOMPLETE if started else ExitCode.USAGE), terminal.text()
    assert ("/apps/authorize/consent?" in terminal.text()) is started
    assert profile_of(cli)["region"] == "na" and stored_token(cli) == seller.refresh_token


def test_importing_over_a_known_account_needs_yes(cli: Cli, emulator: Emulator, port: int) -> None:
    account = emulator.state.add_account("Shop A")
    assert login_via_relay(cli, emulator, port, account).finish().returncode == 0
    original = stored_token(cli)
    app = next(iter(emulator.state.apps.values()))
    token = emulator.state.self_authorize(app.client_id)
    refused = cli.run("login", "--refresh-token-stdin", "--marketplace", "US", input=token)
    assert refused.returncode == ExitCode.USAGE
    assert f"holds selling partner {account.selling_partner_id}" in refused.stderr
    assert "spconnect login -p default --marketplace US --refresh-token-stdin --yes" in (
        refused.stderr
    )
    assert stored_token(cli) == original
    cli.ok("login", "--refresh-token-stdin", "--marketplace", "US", "--yes", input=token)
    assert stored_token(cli) == token


@pytest.mark.parametrize(("answer", "replaced"), [("n", False), ("y", True)])
def test_login_answered_for_another_account_asks_on_a_terminal(
    cli: Cli, emulator: Emulator, port: int, answer: str, replaced: bool
) -> None:
    """The account is known only from Amazon's answer, while the paste prompt still reads
    the terminal: the question must get the person's answer, not the paste prompt."""
    first, second = emulator.state.add_account("Shop A"), emulator.state.add_account("Shop B")
    assert login_via_relay(cli, emulator, port, first).finish().returncode == 0
    original = stored_token(cli)
    terminal = Terminal([CONSOLE_SCRIPT, "login", "--no-browser", "--marketplace", "US"], cli.env)
    try:
        location = amazon_redirect(emulator, consent_url_on(terminal), second)
        query = location.split("?", 1)[1]
        assert httpx.get(f"http://127.0.0.1:{port}/callback?{query}", timeout=10).is_success
        terminal.read_until("Continue? [y/N]")
        assert f"Amazon authorized {second.selling_partner_id}" in terminal.text()
        terminal.type(answer + "\r")
        terminal.read_until("Authorized: profile" if replaced else "nothing was changed")
    finally:
        code = terminal.close()
    assert code == (0 if replaced else ExitCode.USAGE), terminal.text()
    expected = second if replaced else first
    assert profile_of(cli)["selling_partner_id"] == expected.selling_partner_id
    assert (stored_token(cli) != original) is replaced
    assert emulator.count("authorization_code") == (2 if replaced else 1)

"""`--help` of login, reauth, logout and relay-page (issue 9, item 14): an Examples
section, no `<bool>` label on flags, and for login the four capture modes and which one
the configured apps get."""

from __future__ import annotations

import pytest

from spconnect.emulator import Emulator
from tests.conftest import Cli, add_app, free_port


@pytest.mark.parametrize("command", ["login", "reauth", "logout", "relay-page"])
def test_help_has_examples_and_no_bool_labels(cli: Cli, command: str) -> None:
    text = cli.ok(command, "--help").stdout
    assert "Examples:" in text and f"spconnect {command}" in text.split("Examples:")[1]
    assert "<bool>" not in text
    assert "--help" in text and "--verbose" in text  # the flags are still listed


def test_login_help_explains_the_modes_and_which_one_each_app_gets(
    cli: Cli, emulator: Emulator
) -> None:
    before = cli.ok("login", "--help").stdout
    for mode in ("relay:", "local https:", "paste:", "self-authorization:"):
        assert mode in before
    assert "no app is configured yet" in before
    relay_port, https_port = free_port(), free_port()
    relay = emulator.state.register_app("pub", redirect_uris=["https://you.example.com/cb"])
    local = emulator.state.register_app(
        "local", redirect_uris=[f"https://localhost:{https_port}/callback"]
    )
    add_app(cli, relay, "--insecure-storage", "--callback-port", str(relay_port), name="pub")
    add_app(cli, local, "--insecure-storage", name="local")
    text = " ".join(cli.ok("login", "--help").stdout.split())
    assert f"app 'local': local https on localhost:{https_port}" in text
    assert f"app 'pub': relay through https://you.example.com/cb to 127.0.0.1:{relay_port}" in text

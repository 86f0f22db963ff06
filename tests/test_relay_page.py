"""The relay page is self-contained and strict; its behaviour runs in tests/test_browser.py."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from spconnect.consent.relay import relay_page
from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import Cli, add_app, login_self_authorized


def test_relay_page_loads_nothing_from_anywhere() -> None:
    page = relay_page(53682)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    assert "@import" not in page and "url(" not in page
    # The only address it can send the browser to is the loopback listener.
    assert re.findall(r"https?://[^\s\"'<]+", page) == ["http://127.0.0.1:"]


def test_relay_page_csp_allows_exactly_its_own_script() -> None:
    page = relay_page(53682)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert script
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp and f"script-src 'sha256-{digest}'" in csp.group(1)
    assert "default-src 'none'" in csp.group(1)
    assert "name=referrer content=no-referrer" in page


def test_relay_page_bakes_the_callback_port_and_checks_ports() -> None:
    assert "var BAKED_PORT = 50123;" in relay_page(50123)
    page = relay_page(53682)
    assert "/^([0-9]{1,5})\\./" in page and "candidate <= 65535" in page
    with pytest.raises(ValueError):
        relay_page(70000)


def test_relay_page_shows_the_commands_on_the_login_uri_hop_instead_of_forwarding() -> None:
    """Issue 9, item 3: the Login-URI hop, which flows Amazon starts bring, stops here with
    what to run; its behaviour in a browser is pinned in tests/test_browser.py."""
    page = relay_page(53682)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert script
    hop = script.group(1).index('params.get("amazon_callback_uri")')
    assert hop < script.group(1).index("window.location.assign(target)")
    assert (
        "spconnect login --from-url " in page and "spconnect reauth -p PROFILE --from-url" in page
    )
    # Single-quoted for the shell, every quote percent-encoded: copying runs nothing else.
    assert """replace(/'/g, "%27")""" in page
    for element in ("hop", "login-command", "reauth-command", "continue", "address"):
        assert f'id="{element}"' in page


# -- `spconnect relay-page` (issue 9, item 11) ---------------------------------------------


def test_relay_page_prints_the_hosting_steps_for_its_app(cli: Cli, emulator: Emulator) -> None:
    redirect = "https://you.example.com/spconnect/callback"
    app = emulator.state.register_app("demo", redirect_uris=[redirect])
    add_app(cli, app, "--insecure-storage", "--callback-port", "50123")
    result = cli.ok("relay-page")
    assert "var BAKED_PORT = 50123;" in result.stdout
    steps = " ".join(result.stderr.split())
    assert "Relay page for app 'demo'" in steps
    assert f"Host it at {redirect}" in steps and "GitHub Pages" in steps
    assert "as both the OAuth Redirect URI and the OAuth Login URI" in steps
    assert "spconnect login --app demo" in steps
    assert "examples/" not in result.stderr  # a pip install has no examples directory


def test_relay_page_with_several_apps_needs_app(cli: Cli, emulator: Emulator) -> None:
    first = emulator.state.register_app("first", redirect_uris=["https://a.example.com/cb"])
    second = emulator.state.register_app("second", redirect_uris=["https://b.example.com/cb"])
    add_app(cli, first, "--insecure-storage", "--callback-port", "50001", name="first")
    add_app(cli, second, "--insecure-storage", "--callback-port", "50002", name="second")
    # The default profile uses 'first': that used to pick it without a word.
    login_self_authorized(cli, emulator, "--app", "first", app_name="first")
    refused = cli.run("relay-page")
    assert refused.returncode == ExitCode.USAGE and refused.stdout == ""
    assert "several apps are configured (first, second)" in refused.stderr
    assert "--app NAME" in refused.stderr
    chosen = cli.ok("relay-page", "--app", "second")
    assert "var BAKED_PORT = 50002;" in chosen.stdout
    assert "https://b.example.com/cb" in chosen.stderr


def test_relay_page_for_a_local_https_app_explains_none_is_needed(
    cli: Cli, emulator: Emulator
) -> None:
    redirect = "https://localhost:8443/callback"
    app = emulator.state.register_app("local", redirect_uris=[redirect])
    add_app(cli, app, "--insecure-storage", name="local")
    result = cli.run("relay-page")
    assert result.returncode == ExitCode.USAGE and result.stdout == ""
    assert "app 'local' needs no relay page" in result.stderr
    assert "local https" in result.stderr and redirect in result.stderr
    assert f"Host it at {redirect}" not in result.stderr

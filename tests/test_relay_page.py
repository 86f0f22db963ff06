"""The relay page is self-contained and strict; its behaviour runs in tests/test_browser.py."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from spconnect.consent.relay import relay_page


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

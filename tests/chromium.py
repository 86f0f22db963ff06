"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium, driven by
Playwright, with host names that only this browser resolves to loopback
(``--host-resolver-rules``), so that a test's local server is, for the browser and for
spconnect, a public host.

Skipped on a laptop without Chromium or Playwright; a failure under CI=true
(tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import skip_or_fail

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium's background connections are refused by this machine's closed
# network, many at a time (see the machine notes); none of them is needed for the tests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium(*host_rules: str) -> Iterator[Any]:
    """A launched Chromium whose resolver applies ``host_rules``, each a Chromium rule
    such as ``MAP relay.spconnect.test 127.0.0.1`` or, with ports,
    ``MAP connect.example.test:443 127.0.0.1:8443``."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is not installed (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed")
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules={', '.join(host_rules)}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()

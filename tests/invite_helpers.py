"""The developer's side of issue 11 set up for tests: the emulator as Amazon, the real
``spconnect serve`` as a subprocess (with its own config, secrets from the environment,
as a server runs), and the developer's CLI (``cli`` fixture: real Secret Service) paired
with it through ``spconnect server add``.

Sellers reach the server through serve_harness.Browser, which plays the TLS terminator
in front of it; the emulator's consent is answered over plain HTTP (auto-approval), as in
tests/test_login.py. tests/test_invite_browser.py has Chromium play the seller, through a
real TLS terminator.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from spconnect.emulator import Emulator
from spconnect.emulator.state import Account, EmulatedApp
from tests.conftest import Cli, add_app, clean_environment
from tests.serve_harness import LOGIN_URI, PUBLIC_URL, REDIRECT_URI, Browser
from tests.test_serve_cli import ServeProcess, write_config

__all__ = ["LOGIN_URI", "PUBLIC_URL", "REDIRECT_URI", "Remote", "remote_setup"]


@dataclass
class Remote:
    cli: Cli  # the developer's CLI
    emulator: Emulator
    app: EmulatedApp
    server: ServeProcess
    admin_token: str
    database: Path
    server_cli: Cli  # the server machine's spconnect (its own config, no keyring)

    def add_server(self, *extra: str, token: str | None = None, name: str = "prod") -> Any:
        return self.cli.run(
            "server", "add", name, "--url", self.server.url, "--token-stdin", *extra,
            input=(self.admin_token if token is None else token) + "\n",
        )  # fmt: skip

    def rotate_admin_token(self) -> str:
        """`spconnect serve --rotate-admin-token` on the server's database."""
        result = self.server_cli.ok("serve", "--rotate-admin-token", "--db", str(self.database))
        found = re.search(r"^admin token: (\S+)$", result.stderr, re.MULTILINE)
        assert found, result.stderr
        self.admin_token = found.group(1)
        return self.admin_token

    def create(self, profile: str, *extra: str) -> str:
        """`invite create` that must succeed; returns the link it printed."""
        result = self.cli.ok("invite", "create", "-p", profile, *extra)
        link = result.stdout.strip()
        assert result.stdout == link + "\n", result.stdout  # only the link on stdout
        assert re.fullmatch(re.escape(PUBLIC_URL) + r"/i/[A-Za-z0-9_-]{16,64}", link), link
        return link

    def connect(self, link: str, account: Account) -> httpx.Response:
        """The seller opens the link, continues, and approves as ``account``."""
        self.emulator.state.auto_approve = account.selling_partner_id
        browser = Browser(self.server.url)
        try:
            page = browser.request("GET", link)
            assert page.status_code == 200, page.text
            return browser.go(link, "POST")
        finally:
            browser.close()

    def amazon_starts(self, account: Account) -> httpx.Response:
        """The seller presses Authorize now on the app's Appstore page (no invite): Amazon
        sends the browser to the Login URI, the server takes it on, Amazon's consent is
        approved as ``account``."""
        self.emulator.state.auto_approve = account.selling_partner_id
        started = httpx.post(
            f"{self.emulator.url}/apps/appstore/authorize",
            data={"application_id": self.app.app_id},
            timeout=10,
        )
        assert started.status_code == 302, started.text
        assert started.headers["location"].startswith(LOGIN_URI)
        browser = Browser(self.server.url)
        try:
            return browser.go(started.headers["location"])
        finally:
            browser.close()

    def invites(self) -> list[dict[str, Any]]:
        result = self.cli.ok("invite", "list", "--json")
        document: dict[str, Any] = json.loads(result.stdout)
        return list(document["invites"])

    def invite_id(self, link: str) -> str:
        return link.rsplit("/", 1)[1]

    def sealed(self, invite_id: str) -> str | None:
        """The sealed text the server's database holds for an invite."""
        with sqlite3.connect(self.database) as db:
            row = db.execute("SELECT sealed FROM invites WHERE id = ?", (invite_id,)).fetchone()
        return None if row is None else row[0]

    def set_sealed(self, invite_id: str, sealed: str) -> None:
        """Change the sealed text in the server's database (an altered or moved blob)."""
        with sqlite3.connect(self.database) as db:
            db.execute("UPDATE invites SET sealed = ? WHERE id = ?", (sealed, invite_id))

    def expire(self, invite_id: str) -> None:
        """Move an invite's expiry into the past in the server's database. The server's
        clock cannot be moved from outside its process, and the shortest --expires the
        CLI accepts (60 s) is too long for a test to wait: this is the passing of time."""
        with sqlite3.connect(self.database) as db:
            db.execute(
                "UPDATE invites SET expires_at = ? WHERE id = ?", (int(time.time()) - 1, invite_id)
            )

    def refresh_token_of(self, account: Account) -> str:
        """The newest refresh token the emulator issued to ``account`` for the app."""
        tokens = [
            token
            for token, grant in self.emulator.state.refresh_tokens.items()
            if grant.selling_partner_id == account.selling_partner_id
            and grant.client_id == self.app.client_id
        ]
        assert tokens, "no refresh token was issued to that account"
        return tokens[-1]

    def keyring_value(self, key: str) -> str | None:
        import keyring

        return keyring.get_password(self.cli.keyring_service, key)


@pytest.fixture
def remote_setup(
    request: pytest.FixtureRequest,
    cli: Cli,
    emulator: Emulator,
    secret_service: None,
    tmp_path: Path,
    app_kind: str,
) -> Iterator[Remote]:
    """App 'demo' configured in the developer's CLI (keyring), a running server for it
    (not paired yet: tests pair it with ``remote.add_server()``). Indirect parameters:
    extra ``spconnect serve`` flags (``--open-enrollment``)."""
    extra_flags: tuple[str, ...] = tuple(getattr(request, "param", ()))
    app = emulator.state.register_app(
        "demo", redirect_uris=[REDIRECT_URI], login_uri=LOGIN_URI, kind=app_kind
    )
    add_app(cli, app, *(["--vendor"] if app_kind == "vendor" else []))
    # The server's side: its own config directory and the secret from the environment.
    server_env = clean_environment()
    server_env.update(
        SPCONNECT_CONFIG_DIR=str(tmp_path / "server-config"),
        SPCONNECT_CACHE_DIR=str(tmp_path / "server-cache"),
        SPCONNECT_CLIENT_SECRET=app.client_secret,
        **emulator.environment(),
    )
    server_side = Cli(
        server_env, tmp_path / "server-config", tmp_path / "server-cache", cli.keyring_service
    )
    write_config(server_side, {"demo": app}, login_uri=LOGIN_URI)
    database = tmp_path / "invites.db"
    server = ServeProcess(
        server_side, "--app", "demo", "--public-url", PUBLIC_URL, "--db", str(database),
        "--rate-limit", "0", *extra_flags,
    )  # fmt: skip
    try:
        found = re.search(r"admin token: (\S+)", server.output())
        assert found, server.output()
        yield Remote(cli, emulator, app, server, found.group(1), database, server_side)
    finally:
        server.stop()

"""The first-run wizard: ``spconnect login`` on a machine with no app asks for the app's
fields once, in a real terminal (a pseudo-terminal from the standard library's pty)."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time

import httpx
import keyring
import pytest
import tomllib

from spconnect.emulator import Emulator
from tests.conftest import CONSOLE_SCRIPT, Cli, amazon_redirect, free_port

pytestmark = pytest.mark.keyring

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        # A 50x200 window, as a real terminal reports it (prompt_toolkit lays out by it).
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.process = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm", "COLUMNS": "200", "LINES": "50"},
            close_fds=True,
        )
        os.close(slave)
        self.screen = ""

    def read_until(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in ANSI.sub("", self.screen):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not seen; screen:\n{ANSI.sub('', self.screen)}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the program ended without showing it
                    raise AssertionError(
                        f"{text!r} not seen before the terminal closed; screen:\n{self.text()}"
                    ) from None
                # prompt_toolkit asks where the cursor is; answer like a terminal would.
                if "\x1b[6n" in chunk:
                    os.write(self.master, b"\x1b[1;1R")
                self.screen += chunk

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())
        time.sleep(0.2)

    def text(self) -> str:
        return ANSI.sub("", self.screen)

    def close(self, grace: float = 30) -> int:
        """Drain the terminal until the process ends; kill it if it outlives ``grace``."""
        deadline = time.monotonic() + grace
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(10)
        os.close(self.master)
        return code


def test_first_run_wizard_asks_for_the_app_then_logs_in(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    port = free_port()
    redirect = "https://you.example.com/spconnect/callback"
    app = emulator.state.register_app("wizard", redirect_uris=[redirect])
    account = emulator.state.add_account("Shop A")
    terminal = Terminal(
        [CONSOLE_SCRIPT, "login", "--no-browser", "--marketplace", "US", "--port", str(port)],
        cli.env,
    )
    try:
        terminal.read_until("A short name for the app")
        terminal.type("\r")  # default: myapp
        terminal.read_until("LWA client id")
        terminal.type(app.app_id + "\r")  # the classic swap: refused, asked again
        terminal.read_until("not an LWA client id")
        terminal.type("\x15" + app.client_id + "\r")  # Ctrl-U clears the line
        terminal.read_until("Application id")
        terminal.type(app.app_id + "\r")
        terminal.read_until("Redirect URI")
        terminal.type(redirect + "\r")
        terminal.read_until("Login URI")
        terminal.type("\r")
        terminal.read_until("Draft status")
        terminal.type("\r")
        terminal.read_until("LWA client secret")
        terminal.type(app.client_secret + "\r")
        terminal.read_until("/apps/authorize/consent?")
        url = next(
            line.strip()
            for line in terminal.text().splitlines()
            if "/apps/authorize/consent?" in line and line.strip().startswith("http")
        )
        location = amazon_redirect(emulator, url, account)
        httpx.get(f"http://127.0.0.1:{port}/callback?{location.split('?', 1)[1]}", timeout=10)
        terminal.read_until("Authorized: profile 'default'")
    finally:
        code = terminal.close()
    assert code == 0, terminal.text()
    assert app.client_secret not in terminal.text()  # typed into a hidden prompt
    config = tomllib.loads((cli.config_dir / "config.toml").read_text())
    assert config["apps"]["myapp"]["client_id"] == app.client_id
    assert config["profiles"]["default"]["app"] == "myapp"
    assert keyring.get_password(cli.keyring_service, "app:myapp") == app.client_secret
    assert keyring.get_password(cli.keyring_service, "profile:default")


def test_login_on_a_terminal_shows_a_spinner_with_the_time_left(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    from tests.conftest import add_app

    app = emulator.state.register_app("demo", redirect_uris=["https://you.example.com/cb"])
    add_app(cli, app)
    port = free_port()
    terminal = Terminal(
        [
            CONSOLE_SCRIPT,
            "login",
            "--no-browser",
            "--marketplace",
            "US",
            "--port",
            str(port),
            "--timeout",
            "120",
        ],
        cli.env,
    )
    try:
        terminal.read_until("left (Ctrl-C to cancel)")
        assert re.search(r"Waiting for Amazon's answer… 1:5\d left", terminal.text())
        terminal.read_until("/apps/authorize/consent?")
        url = next(
            line.strip()
            for line in terminal.text().splitlines()
            if "/apps/authorize/consent?" in line and line.strip().startswith("http")
        )
        location = amazon_redirect(emulator, url, emulator.state.add_account("Shop A"))
        httpx.get(f"http://127.0.0.1:{port}/callback?{location.split('?', 1)[1]}", timeout=10)
        terminal.read_until("Authorized: profile 'default'")
    finally:
        code = terminal.close()
    assert code == 0, terminal.text()


def test_wizard_app_name_typed_replaces_the_default(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    """Issue 9, item 7: the default name was editable text, so typing `shop1` saved
    `myappshop1`."""
    app = emulator.state.register_app("wizard")
    terminal = Terminal(
        [CONSOLE_SCRIPT, "login", "--paste", "--no-browser", "--marketplace", "US", "--timeout=1"],
        cli.env,
    )
    try:
        terminal.read_until("A short name for the app")
        terminal.type("shop1\r")
        terminal.read_until("LWA client id")
        terminal.type(app.client_id + "\r")
        terminal.read_until("Application id")
        terminal.type(app.app_id + "\r")
        terminal.read_until("Redirect URI")
        terminal.type(app.redirect_uris[0] + "\r")
        terminal.read_until("Login URI")
        terminal.type("\r")
        terminal.read_until("Draft status")
        terminal.type("\r")
        terminal.read_until("LWA client secret")
        terminal.type(app.client_secret + "\r")
        terminal.read_until("Saved app")
    finally:
        terminal.close()
    config = tomllib.loads((cli.config_dir / "config.toml").read_text())
    assert list(config["apps"]) == ["shop1"], terminal.text()

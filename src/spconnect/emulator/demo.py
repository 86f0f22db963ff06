"""``spconnect demo``: the whole flow against the built-in emulator, in a throw-away config.

Each step runs the real ``spconnect`` command as a subprocess, exactly as a user would type
it, so the demo shows commands that can be copied, not a special code path. Secrets go in
on stdin, as everywhere else.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from spconnect.emulator.server import Emulator


@dataclass(frozen=True)
class Step:
    title: str
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def _spconnect_command() -> list[str]:
    # This interpreter and this copy of spconnect, whatever else is on PATH.
    return [sys.executable, "-m", "spconnect"]


@contextmanager
def demo_environment() -> Iterator[tuple[Emulator, dict[str, str], str]]:
    """The emulator and an environment pointing a throw-away config and cache at it."""
    with Emulator() as emulator, tempfile.TemporaryDirectory(prefix="spconnect-demo-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPCONNECT_")}
        env.update(
            SPCONNECT_CONFIG_DIR=os.path.join(home, "config"),
            SPCONNECT_CACHE_DIR=os.path.join(home, "cache"),
            SPCONNECT_KEYRING_SERVICE="spconnect-demo",
            **emulator.environment(),
        )
        yield emulator, env, home


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _login_with_browser(
    command: list[str], env: dict[str, str], home: str, *, real_browser: bool
) -> subprocess.CompletedProcess[str]:
    """Run `spconnect login` and play the browser: follow the consent address it prints
    (the emulator approves at once), or let a real browser open it for a person."""
    args = ["login", "--marketplace", "US", "--timeout", "300"]
    if not real_browser:
        args.append("--no-browser")
    process = subprocess.Popen(
        [*command, *args],
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None and process.stdout is not None
    seen: list[str] = []
    # Read stderr to its end here (not communicate(), which reads the raw pipe and would
    # lose what this text wrapper has already buffered).
    for line in process.stderr:
        seen.append(line)
        consent = line.startswith(("http://", "https://")) and "/apps/authorize/consent" in line
        if consent and not real_browser:
            import httpx

            # Verify TLS against the certificate spconnect just made for localhost.
            certificate = os.path.join(home, "config", "tls", "localhost.crt")
            trust = ssl.create_default_context(cafile=certificate)
            httpx.get(line.strip(), follow_redirects=True, verify=trust, timeout=30)
    out = process.stdout.read()
    process.wait(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, "".join(seen))


def run_demo(
    show: Callable[[Step], None], announce: Callable[[str], None], *, real_browser: bool = False
) -> bool:
    """Run the demo; ``announce`` gets narration, ``show`` each finished step. Returns
    whether every step succeeded. With ``real_browser`` a person approves on the
    emulator's consent page; otherwise the emulator approves at once."""
    command = _spconnect_command()
    with demo_environment() as (emulator, env, home):
        # Local https mode: the redirect URI's host is loopback, so the listener itself
        # receives Amazon's answer over TLS (a relay page needs a public web host).
        port = _free_port()
        app = emulator.state.register_app(
            "demo", redirect_uris=[f"https://localhost:{port}/callback"]
        )
        account = emulator.state.add_account("Demo Seller LLC", region="na")
        emulator.state.add_account("Demo Seller EU GmbH", region="eu")
        if not real_browser:
            emulator.state.auto_approve = account.selling_partner_id
        announce(
            f"Started the built-in Amazon emulator on {emulator.url}.\n"
            f"Using a throw-away config in {home}, with file storage (--insecure-storage):\n"
            "the demo needs no keyring, and everything is deleted at the end.\n"
            "Tokens show as [REDACTED] below: spconnect masks secrets in everything it\n"
            "shows a person; `spconnect token` prints the real token on stdout for scripts."
        )

        def record(title: str, argv: list[str], done: subprocess.CompletedProcess[str]) -> bool:
            show(Step(title, ["spconnect", *argv], done.returncode, done.stdout, done.stderr))
            return done.returncode == 0

        def step(title: str, *args: str, stdin: str = "") -> bool:
            done = subprocess.run(
                [*command, *args], input=stdin, env=env, text=True, capture_output=True, timeout=120
            )
            return record(title, list(args), done)

        if not step(
            "Register the app (its client secret goes in on stdin, never as an argument)",
            "app",
            "add",
            "demo",
            "--client-id",
            app.client_id,
            "--app-id",
            app.app_id,
            "--redirect-uri",
            app.redirect_uris[0],
            "--client-secret-stdin",
            "--insecure-storage",
            stdin=app.client_secret,
        ):
            return False
        if real_browser:
            announce(
                "\nYour browser opens the emulator's consent page: choose an account and "
                "Confirm. It warns once about spconnect's self-signed certificate for "
                "localhost; accept it to let the answer through."
            )
        title = (
            "Authorize on Amazon's consent page (here the emulator approves at once; "
            "try `spconnect demo --browser` to click it yourself)"
        )
        login = _login_with_browser(command, env, home, real_browser=real_browser)
        if not record(title, ["login", "--marketplace", "US"], login):
            return False
        for title, args in (
            (
                "Get an access token with its expiry, for scripts (login cached it)",
                ["token", "--format", "json"],
            ),
            (
                'Or as shell variables: eval "$(spconnect token --format env)"',
                ["token", "--format", "env"],
            ),
            (
                "What is connected and what needs attention (--check asks the Sellers API)",
                ["status", "--check"],
            ),
            ("Disconnect this machine", ["logout"]),
        ):
            if not step(title, *args):
                return False
        announce(
            f"\nThe emulator showed {emulator.count('consent_page')} consent page(s) and "
            f"answered {emulator.count('authorization_code')} code exchange(s) and "
            f"{emulator.count('refresh_token')} token refresh(es) for the whole demo."
        )
    return True

"""``spconnect demo``: the whole flow against the built-in emulator, in a throw-away config.

Each step runs the real ``spconnect`` command as a subprocess, exactly as a user would type
it, so the demo shows commands that can be copied, not a special code path. Secrets go in
on stdin, as everywhere else.
"""

from __future__ import annotations

import os
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


# Where a real app would host `spconnect relay-page` (relay mode, the one Amazon's
# https-only rule leaves for a public app: design, "Getting the consent answer back").
# Nothing is served there: in the demo the scripted browser does what the page does.
DEMO_RELAY_URI = "https://relay.spconnect-demo.example/spconnect/callback"


def _follow_relay(location: str) -> str:
    """Do what the relay page does in a browser: send the answer on to the listener on
    127.0.0.1, the port taken from ``state`` (``<port>.<random>``), query unchanged."""
    from urllib.parse import parse_qs, urlsplit

    query = urlsplit(location).query
    port = parse_qs(query)["state"][0].split(".", 1)[0]
    if not port.isdigit():
        raise ValueError("the answer's state carries no port")
    return f"http://127.0.0.1:{int(port)}/callback?{query}"


def _play_browser(consent_url: str) -> None:
    """Headless: open the consent address (the emulator approves at once), then follow
    Amazon's redirect through the relay page to the listener."""
    import httpx

    answer = httpx.get(consent_url, timeout=30)
    location = answer.headers.get("location", "")
    if answer.status_code != 302 or not location.startswith(DEMO_RELAY_URI):
        raise RuntimeError(f"the emulator's consent page answered HTTP {answer.status_code}")
    httpx.get(_follow_relay(location), timeout=30)


def _login_with_browser(
    command: list[str],
    args: list[str],
    env: dict[str, str],
    *,
    real_browser: bool,
    live: Callable[[str], None],
) -> subprocess.CompletedProcess[str]:
    """Run `spconnect login`; play the browser, or (``real_browser``) let a person use a
    real one, showing login's messages as they come so the address is always in view."""
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
    try:
        # Read stderr to its end here (not communicate(), which reads the raw pipe and
        # would lose what this text wrapper has already buffered).
        for line in process.stderr:
            seen.append(line)
            if real_browser:
                live("  " + line.rstrip("\n"))
            consent = line.startswith(("http://", "https://")) and "/apps/authorize/consent" in line
            if consent and not real_browser:
                _play_browser(line.strip())
        out = process.stdout.read()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:  # interrupted, or the browser could not be played
            process.terminate()
            process.wait(timeout=10)
    return subprocess.CompletedProcess(process.args, process.returncode, out, "".join(seen))


def _hide_demo_storage_warnings(text: str) -> str:
    # The demo keeps secrets in a throw-away 0600 file on purpose (it must run without a
    # keyring), and says so once at the start; the per-step warnings that real use needs
    # would only repeat it. Nothing else is ever filtered.
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.lstrip().lower().startswith(("warning: secrets are kept in",))
    )


def run_demo(
    show: Callable[[Step], None], announce: Callable[[str], None], *, real_browser: bool = False
) -> bool:
    """Run the demo; ``announce`` gets narration, ``show`` each finished step. Returns
    whether every step succeeded. Headless, the emulator approves at once and the demo
    plays the browser through the relay page (the mode real public apps use); with
    ``real_browser`` a person approves in a browser, through local https (a relay page
    would need a public host)."""
    command = _spconnect_command()
    with demo_environment() as (emulator, env, home):
        port = _free_port()
        redirect = f"https://localhost:{port}/callback" if real_browser else DEMO_RELAY_URI
        app = emulator.state.register_app("demo", redirect_uris=[redirect])
        account = emulator.state.add_account("Demo Seller LLC", region="na")
        emulator.state.add_account("Demo Seller EU GmbH", region="eu")
        if not real_browser:
            emulator.state.auto_approve = account.selling_partner_id
        announce(
            f"Started the built-in Amazon emulator on {emulator.url}.\n"
            f"Using a throw-away config in {home}, with file storage (--insecure-storage):\n"
            "the demo needs no keyring, and everything is deleted at the end (real use keeps\n"
            "secrets in the OS keyring). Tokens show as [REDACTED] below: spconnect masks\n"
            "secrets in everything it shows a person; `spconnect token` prints the real\n"
            "token on stdout for scripts."
        )

        def record(title: str, argv: list[str], done: subprocess.CompletedProcess[str]) -> bool:
            shown = _hide_demo_storage_warnings(done.stdout + done.stderr)
            show(Step(title, ["spconnect", *argv], done.returncode, shown, ""))
            return done.returncode == 0

        def step(title: str, *args: str, stdin: str = "") -> bool:
            done = subprocess.run(
                [*command, *args], input=stdin, env=env, text=True, capture_output=True, timeout=120
            )
            return record(title, list(args), done)

        add = [
            "app",
            "add",
            "demo",
            "--client-id",
            app.client_id,
            "--app-id",
            app.app_id,
            "--redirect-uri",
            redirect,
            *([] if real_browser else ["--login-uri", redirect, "--callback-port", str(port)]),
            "--client-secret-stdin",
            "--insecure-storage",
        ]
        if not step(
            "Register the app (its client secret goes in on stdin, never as an argument)",
            *add,
            stdin=app.client_secret,
        ):
            return False
        if not real_browser and not step(
            f"Write the relay page you would host at {redirect} (Amazon accepts only https "
            "redirect URIs, never localhost: the page sends the browser on to 127.0.0.1)",
            "relay-page",
            "-o",
            os.path.join(home, "relay.html"),
        ):
            return False
        if real_browser:
            announce(
                "\nOpen the consent address below in your browser, choose an account and "
                "Confirm. This run uses local https on localhost, which only the emulator "
                "accepts (a relay page needs a public host); the browser warns once about "
                "spconnect's self-signed certificate: accept it to let the answer through. "
                "Ctrl-C stops the demo."
            )
            title = "Authorize on the emulator's consent page (you clicked it)"
            args = ["login", "--marketplace", "US", "--timeout", "180"]
        else:
            title = (
                "Authorize on Amazon's consent page (the emulator approves at once, and the "
                "demo plays the browser through your relay page; `spconnect demo --browser` "
                "lets you click it yourself)"
            )
            args = ["login", "--marketplace", "US", "--no-browser"]
        login = _login_with_browser(command, args, env, real_browser=real_browser, live=announce)
        if not record(title, args, login):
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

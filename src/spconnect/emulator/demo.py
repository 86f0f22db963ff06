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


def run_demo(show: Callable[[Step], None], announce: Callable[[str], None]) -> bool:
    """Run the demo; ``announce`` gets narration, ``show`` each finished step. Returns
    whether every step succeeded."""
    command = _spconnect_command()
    with demo_environment() as (emulator, env, home):
        app = emulator.state.register_app("demo")
        account = emulator.state.add_account("Demo Seller LLC", region="na")
        announce(
            f"Started the built-in Amazon emulator on {emulator.url}.\n"
            f"Using a throw-away config in {home}, with file storage (--insecure-storage):\n"
            "the demo needs no keyring, and everything is deleted at the end.\n"
            "Tokens show as [REDACTED] below: spconnect masks secrets in everything it\n"
            "shows a person; `spconnect token` prints the real token on stdout for scripts."
        )

        def step(title: str, *args: str, stdin: str = "") -> Step:
            done = subprocess.run(
                [*command, *args], input=stdin, env=env, text=True, capture_output=True, timeout=120
            )
            result = Step(title, ["spconnect", *args], done.returncode, done.stdout, done.stderr)
            show(result)
            return result

        refresh_token = emulator.state.self_authorize(app.client_id, account.selling_partner_id)
        plan: list[tuple[str, list[str], str]] = [
            (
                "Register the app (its client secret goes in on stdin, never as an argument)",
                ["app", "add", "demo", "--client-id", app.client_id, "--app-id", app.app_id,
                 "--redirect-uri", app.redirect_uris[0], "--client-secret-stdin",
                 "--insecure-storage"],
                app.client_secret,
            ),
            (
                f"Connect the seller account of {account.name} with a self-authorized "
                "refresh token (as Seller Central's 'Authorize app' shows it)",
                ["login", "--refresh-token-stdin", "--marketplace", "US"],
                refresh_token,
            ),
            (
                "Get an access token with its expiry, for scripts (login cached it)",
                ["token", "--format", "json"],
                "",
            ),
            (
                'Or as shell variables: eval "$(spconnect token --format env)"',
                ["token", "--format", "env"],
                "",
            ),
            ("Disconnect this machine", ["logout"], ""),
        ]  # fmt: skip
        for title, args, stdin in plan:
            if step(title, *args, stdin=stdin).returncode != 0:
                return False
        announce(
            f"The emulator answered {emulator.count('refresh_token')} token refresh(es) for "
            "the whole demo."
        )
    return True

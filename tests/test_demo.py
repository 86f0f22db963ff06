"""``spconnect demo`` works on a machine with no keyring, shows the relay mode real apps
use, prints to stdout, and leaves nothing behind, even when terminated."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

from tests.conftest import CONSOLE_SCRIPT, clean_environment

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def test_demo_runs_without_a_keyring_and_cleans_up() -> None:
    env = {**clean_environment(), **NO_KEYRING}
    done = subprocess.run(
        [CONSOLE_SCRIPT, "demo"], capture_output=True, text=True, env=env, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the transcript is the command's output: stdout
    for expected in (
        "Started the built-in Amazon emulator on http://127.0.0.1:",
        "file storage",
        "$ spconnect app add demo",
        "--redirect-uri https://relay.spconnect-demo.example/spconnect/callback",
        "$ spconnect relay-page -o ",
        "$ spconnect login",
        "for the relay page at https://relay.spconnect-demo.example/spconnect/callback",
        '"access_token": "[REDACTED]"',
        "export SPAPI_REGION='na'",
        "Logged out profile 'default'",
        "Authorized: profile 'default', selling partner A",
        "showed 1 consent page(s) and answered 1 code exchange(s)",
    ):
        assert expected in done.stdout, expected
    # Local https on localhost (which Amazon refuses) is not what a newcomer is shown, nor
    # warnings about the demo's own throw-away storage.
    assert "https://localhost" not in done.stdout
    assert "warning: secrets are kept" not in done.stdout.lower()
    home = re.search(r"throw-away config in (\S+),", done.stdout)
    assert home and not os.path.exists(home.group(1))
    assert "Atza|" not in done.stdout and "Atzr|" not in done.stdout


def test_demo_with_a_browser_shows_the_address_and_cleans_up_on_sigterm() -> None:
    # BROWSER=true: the "browser" opens nothing, as on a machine without one.
    env = {**clean_environment(), **NO_KEYRING, "BROWSER": "true"}
    process = subprocess.Popen(
        [CONSOLE_SCRIPT, "demo", "--browser"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not any("/apps/authorize/consent?" in line for line in lines):
        assert time.monotonic() < deadline, "".join(lines)
        line = process.stdout.readline()
        assert line, "".join(lines) + process.stderr.read()  # type: ignore[union-attr]
        lines.append(line)
    home = re.search(r"throw-away config in (\S+),", "".join(lines))
    assert home and os.path.exists(os.path.join(home.group(1), "config", "secrets.json"))
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 130
    assert not os.path.exists(home.group(1))

"""``spconnect demo`` works on a machine with no keyring and leaves nothing behind."""

from __future__ import annotations

import os
import re
import subprocess

from tests.conftest import CONSOLE_SCRIPT, clean_environment


def test_demo_runs_without_a_keyring_and_cleans_up() -> None:
    env = {**clean_environment(), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = subprocess.run(
        [CONSOLE_SCRIPT, "demo"], capture_output=True, text=True, env=env, timeout=180
    )
    assert done.returncode == 0, done.stderr
    for expected in (
        "Started the built-in Amazon emulator on http://127.0.0.1:",
        "file storage",
        "$ spconnect app add demo",
        "$ spconnect login",
        '"access_token": "[REDACTED]"',
        "export SPAPI_REGION='na'",
        "Logged out profile 'default'",
        "Authorized: profile 'default', selling partner A",
        "Created a self-signed certificate",
        "showed 1 consent page(s) and answered 1 code exchange(s)",
    ):
        assert expected in done.stderr
    home = re.search(r"throw-away config in (\S+),", done.stderr)
    assert home and not os.path.exists(home.group(1))
    assert "Atza|" not in done.stderr and "Atzr|" not in done.stderr

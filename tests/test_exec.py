"""``spconnect exec``: the command runs with the token's four variables and none of
spconnect's secrets, keeps its own stdio and exit status, and a fresh cached token costs
no more imports than ``spconnect token``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import Cli, Seller
from tests.test_fast_path import HEAVY, imported_modules

pytestmark = pytest.mark.keyring

PRINT_ENV = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
TOKEN_VARIABLES = {
    "SPAPI_ACCESS_TOKEN",
    "SPAPI_ENDPOINT",
    "SPAPI_REGION",
    "SPAPI_SELLING_PARTNER_ID",
}


def child_env(cli: Cli, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    result = cli.run("exec", *args, "--", *PRINT_ENV, env=env)
    assert result.returncode == 0, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def test_the_command_gets_the_token_and_three_variables(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    env = child_env(cli)
    assert env["SPAPI_ACCESS_TOKEN"] == cli.ok("token").stdout.strip()
    assert env["SPAPI_ENDPOINT"] == emulator.url
    assert env["SPAPI_REGION"] == "na"
    assert env["SPAPI_SELLING_PARTNER_ID"] == ""  # self-authorized: not known
    assert env["SPCONNECT_CONFIG_DIR"] == cli.env["SPCONNECT_CONFIG_DIR"]  # not secret
    # The same through the full CLI (-v), with a grantless token.
    grantless = child_env(cli, "-v", "--grantless", "notifications")
    assert grantless["SPAPI_ACCESS_TOKEN"] == (
        cli.ok("token", "--grantless", "notifications").stdout.strip()
    )
    assert grantless["SPAPI_ACCESS_TOKEN"] != env["SPAPI_ACCESS_TOKEN"]


def test_spconnect_secrets_never_reach_the_command(cli: Cli, emulator: Emulator) -> None:
    """Zero-config mode puts the client secret and refresh tokens in the environment;
    the command gets an hour's access token, not them (design, "Security rules")."""
    app = emulator.state.register_app("ci")
    refresh_token = emulator.state.self_authorize(app.client_id)
    secrets = {
        "SPCONNECT_CLIENT_SECRET": app.client_secret,
        "SPCONNECT_REFRESH_TOKEN": refresh_token,
        "SPCONNECT_REFRESH_TOKEN_SHOP": refresh_token,
    }
    zero_config = {"SPCONNECT_CLIENT_ID": app.client_id, "SPCONNECT_REGION": "eu", **secrets}
    for args in (("-p", "shop"), ("-p", "shop", "-v")):  # fast path and full CLI
        env = child_env(cli, *args, env=zero_config)
        assert set(env) >= TOKEN_VARIABLES
        assert env["SPAPI_REGION"] == "eu"
        assert env["SPCONNECT_CLIENT_ID"] == app.client_id
        assert not set(secrets) & set(env)
        text = json.dumps(env)
        assert app.client_secret not in text and refresh_token not in text


def test_the_command_keeps_its_stdio_and_exit_status(cli: Cli, seller: Seller) -> None:
    result = cli.run("exec", "--", "sh", "-c", "cat; echo err >&2; exit 7", input="hello\n")
    assert (result.returncode, result.stdout, result.stderr) == (7, "hello\n", "err\n")
    # Without '--' the command's own flags stay its own, on both paths.
    for verbose in ((), ("-v",)):
        result = cli.run("exec", *verbose, "sh", "-c", "exit 4")
        assert result.returncode == 4, result.output


def test_a_command_that_cannot_run_ends_127_or_126(
    cli: Cli, seller: Seller, tmp_path: Path
) -> None:
    missing = cli.run("exec", "--", "no-such-command-anywhere")
    assert missing.returncode == 127
    assert "no-such-command-anywhere: command not found" in missing.stderr
    not_executable = tmp_path / "script.sh"
    not_executable.write_text("#!/bin/sh\necho ran\n")
    refused = cli.run("exec", "--", str(not_executable))
    assert refused.returncode == 126 and "ran" not in refused.stdout
    for result in (missing, refused):
        assert "Atza|" not in result.output


def test_no_token_no_command(cli: Cli, seller: Seller, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    results = []
    for args, code in (
        (("-p", "nope"), ExitCode.NOT_SET_UP),
        (("--min-ttl", "5000"), ExitCode.USAGE),
        (("--grantless", "everything"), ExitCode.USAGE),
    ):
        result = cli.run("exec", *args, "--", "touch", str(marker))
        assert result.returncode == code, result.output
        assert not marker.exists()
        results.append(result)
    assert "spconnect login -p nope" in results[0].stderr
    assert "--min-ttl 5000 is out of range" in results[1].stderr


def test_a_cached_token_runs_the_command_without_the_cli_libraries(
    cli: Cli, seller: Seller
) -> None:
    cli.ok("token")  # the cache is fresh
    completed, modules = imported_modules(cli, "exec", "--", "sh", "-c", "exit 0")
    assert completed.returncode == 0, completed.stderr[-500:]
    top_level = {m.split(".")[0] for m in modules}
    assert "spconnect" in top_level  # the measurement sees spconnect's own imports
    assert not top_level & set(HEAVY), f"exec imported {top_level & set(HEAVY)}"


def test_the_token_lasts_at_least_900_seconds_unless_asked_otherwise(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    """A cached token with ten minutes left is fresh for `token`, not for a command that
    may run a quarter of an hour (issue 10: --min-ttl defaults to 900 s)."""
    emulator.state.access_token_lifetime = 600
    short = cli.ok("token", "--force-refresh").stdout.strip()
    emulator.state.access_token_lifetime = 3600
    before = emulator.count("token_requests")
    assert child_env(cli, "--min-ttl", "0", "-v")["SPAPI_ACCESS_TOKEN"] == short
    renewed = child_env(cli, "-v")["SPAPI_ACCESS_TOKEN"]  # the full CLI
    assert renewed != short
    assert emulator.count("token_requests") == before + 1


def test_the_fast_path_also_defaults_to_900_seconds(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    emulator.state.access_token_lifetime = 600
    short = cli.ok("token", "--force-refresh").stdout.strip()
    emulator.state.access_token_lifetime = 3600
    assert child_env(cli)["SPAPI_ACCESS_TOKEN"] != short


@pytest.mark.parametrize("verbose", [(), ("-v",)], ids=["fast path", "full CLI"])
def test_signals_reach_the_command(cli: Cli, seller: Seller, verbose: tuple[str, ...]) -> None:
    import signal
    import subprocess

    from tests.conftest import CONSOLE_SCRIPT

    waits_for_sigterm = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    process = subprocess.Popen(
        [CONSOLE_SCRIPT, "exec", *verbose, "--", sys.executable, "-c", waits_for_sigterm],
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)  # to spconnect's process id, as a supervisor would
    assert process.wait(timeout=10) == 42

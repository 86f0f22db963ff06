"""`-v` and `SPCONNECT_DEBUG=1` trace every HTTP request (issue 9, item 13): method, host
and path, status, time and x-amzn-RequestId; never a secret, never a query string."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest

from spconnect.amazon import trace
from spconnect.emulator import Emulator
from tests.conftest import (
    CONSOLE_SCRIPT,
    Cli,
    LoginProcess,
    Seller,
    add_app,
    amazon_redirect,
    free_port,
)

pytestmark = pytest.mark.keyring

LWA_TRACE = re.compile(
    r"^spconnect: HTTP POST 127\.0\.0\.1:\d+/auth/o2/token -> 200 in \d+ ms "
    r"\(x-amzn-RequestId [0-9a-f]{32}\)$",
    re.MULTILINE,
)
SELLERS_TRACE = re.compile(
    r"^spconnect: HTTP GET 127\.0\.0\.1:\d+/sellers/v1/marketplaceParticipations -> 200 "
    # The emulator's Sellers API sends the header twice; httpx joins the two values.
    r"in \d+ ms \(x-amzn-RequestId [0-9a-f]{32}(, [0-9a-f]{32})?\)$",
    re.MULTILINE,
)


def secrets_of(cli: Cli, seller: Seller) -> list[str]:
    cached = json.loads((cli.cache_dir / "tokens" / "default.json").read_text())
    return [seller.refresh_token, seller.app.client_secret, cached["access_token"]]


def assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret.replace("|", "%7C") not in text


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("-v", "token", "--force-refresh"), {}),
        (("token", "--force-refresh", "-v"), {}),
        (("token", "--force-refresh"), {"SPCONNECT_DEBUG": "1"}),
    ],
)
def test_a_token_refresh_is_traced(
    cli: Cli, seller: Seller, args: tuple[str, ...], env: dict[str, str]
) -> None:
    result = cli.ok(*args, env=env)
    assert len(LWA_TRACE.findall(result.stderr)) == 1, result.stderr
    assert result.stdout.startswith("Atza|") and "HTTP" not in result.stdout
    assert_no_secret(result.stderr, secrets_of(cli, seller))


def test_without_v_or_debug_nothing_is_traced(cli: Cli, seller: Seller) -> None:
    for env in ({}, {"SPCONNECT_DEBUG": "0"}):
        result = cli.ok("token", "--force-refresh", env=env)
        assert result.stderr == ""


def test_debug_traces_the_fast_paths_refresh_without_loading_the_cli(
    cli: Cli, seller: Seller
) -> None:
    (cli.cache_dir / "tokens" / "default.json").unlink()
    completed = subprocess.run(
        [CONSOLE_SCRIPT, "token"],
        capture_output=True,
        text=True,
        env={**cli.env, "SPCONNECT_DEBUG": "1", "PYTHONPROFILEIMPORTTIME": "1"},
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr[-500:]
    assert len(LWA_TRACE.findall(completed.stderr)) == 1, completed.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in completed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "typer" not in imported and "rich" not in imported  # still the lean path


def test_status_check_traces_lwa_and_the_sellers_api(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    (cli.cache_dir / "tokens" / "default.json").unlink()  # the check must refresh
    result = cli.run("-v", "status", "--check")
    assert result.returncode == 0, result.output
    assert len(LWA_TRACE.findall(result.stderr)) == 1, result.stderr
    assert len(SELLERS_TRACE.findall(result.stderr)) == 1, result.stderr
    assert_no_secret(result.output, secrets_of(cli, seller))


def test_an_unreachable_endpoint_is_traced_as_no_answer(cli: Cli, seller: Seller) -> None:
    dead = f"http://127.0.0.1:{free_port()}/auth/o2/token"
    result = cli.run("token", "--force-refresh", "-v", env={"SPCONNECT_LWA_URL": dead})
    assert result.returncode == 6
    assert re.search(
        r"^spconnect: HTTP POST 127\.0\.0\.1:\d+/auth/o2/token -> no answer \(ConnectError\) "
        r"in \d+ ms$",
        result.stderr,
        re.MULTILINE,
    ), result.stderr


def test_a_browser_login_traces_the_code_exchange_without_the_code(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("demo", redirect_uris=["https://you.example.com/cb"])
    add_app(cli, app, "--callback-port", str(free_port()))
    login = LoginProcess(cli, "-v", "login", "--paste", "--no-browser", "--marketplace", "US")
    location = amazon_redirect(emulator, login.consent_url(), emulator.state.add_account("S"))
    query = parse_qs(urlsplit(location).query)
    login.paste(location)
    result = login.finish()
    assert result.returncode == 0, result.stderr
    traced = LWA_TRACE.findall(result.stderr)
    assert len(traced) == 1, result.stderr
    for value in (query["spapi_oauth_code"][0], app.client_secret):
        assert value not in result.output
    assert query["state"][0] not in traced[0]  # the consent address shows it; traces never


def test_record_keeps_host_and_path_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="spconnect.http"):
        trace.record(
            "GET",
            "https://user:pw@example.com:8443/callback?spapi_oauth_code=SECRETCODE&state=S1#x",
            seconds=0.0123,
            status=302,
            request_id="abc\x1b[31m",
        )
    assert caplog.messages == [
        "HTTP GET example.com:8443/callback -> 302 in 12 ms (x-amzn-RequestId abc)"
    ]
    assert trace.where("https://[::1]:53682/callback?code=x") == "[::1]:53682/callback"
    assert trace.where("https://api.amazon.com") == "api.amazon.com/"

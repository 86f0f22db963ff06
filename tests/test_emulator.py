"""The emulator's token endpoint behaves as Amazon's does (amazon.md section 5)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import httpx
import pytest

from spconnect.emulator import Emulator
from tests.conftest import Cli


def post(emulator: Emulator, data: dict[str, str]) -> httpx.Response:
    return httpx.post(emulator.token_url, data=data, timeout=5)


def test_listens_on_loopback_only(emulator: Emulator) -> None:
    assert emulator.url.startswith("http://127.0.0.1:")


def test_refresh_answer_has_amazons_shape(emulator: Emulator) -> None:
    app = emulator.state.register_app()
    refresh = emulator.state.self_authorize(app.client_id)
    response = post(
        emulator,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    )
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert response.headers["x-amzn-RequestId"]
    assert response.headers["date"]


def test_json_body_is_refused_like_amazon_wants_form_encoding(emulator: Emulator) -> None:
    app = emulator.state.register_app()
    response = httpx.post(
        emulator.token_url,
        json={"grant_type": "refresh_token", "client_id": app.client_id},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_wrong_secret_and_unknown_client_are_invalid_client_401(emulator: Emulator) -> None:
    app = emulator.state.register_app()
    refresh = emulator.state.self_authorize(app.client_id)
    for client_id, secret in ((app.client_id, "nope"), ("amzn1.application-oa2-client.0", "x")):
        response = post(
            emulator,
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


def test_refresh_token_of_another_app_is_invalid_grant(emulator: Emulator) -> None:
    mine, other = emulator.state.register_app("a"), emulator.state.register_app("b")
    refresh = emulator.state.self_authorize(other.client_id)
    response = post(
        emulator,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": mine.client_id,
            "client_secret": mine.client_secret,
        },
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_rotated_secret_old_one_valid_until_expired(emulator: Emulator) -> None:
    app = emulator.state.register_app()
    refresh = emulator.state.self_authorize(app.client_id)
    old = app.client_secret
    new = emulator.state.rotate_secret(app.client_id)
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": app.client_id}
    assert post(emulator, {**form, "client_secret": old}).status_code == 200
    assert post(emulator, {**form, "client_secret": new}).status_code == 200
    emulator.state.expire_old_secrets(app.client_id)
    assert post(emulator, {**form, "client_secret": old}).status_code == 401


def test_revoking_an_account_revokes_all_its_tokens(emulator: Emulator) -> None:
    app = emulator.state.register_app()
    tokens = [emulator.state.self_authorize(app.client_id, "A1SELLER00001") for _ in range(2)]
    keep = emulator.state.self_authorize(app.client_id, "A1SELLER00002")
    assert emulator.state.revoke(client_id=app.client_id, selling_partner_id="A1SELLER00001") == 2
    form = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }
    for token in tokens:
        assert post(emulator, {**form, "refresh_token": token}).status_code == 400
    assert post(emulator, {**form, "refresh_token": keep}).status_code == 200


def test_counts_requests_per_grant(emulator: Emulator) -> None:
    app = emulator.state.register_app()
    refresh = emulator.state.self_authorize(app.client_id)
    base = {"client_id": app.client_id, "client_secret": app.client_secret}
    post(emulator, {**base, "grant_type": "refresh_token", "refresh_token": refresh})
    post(emulator, {**base, "grant_type": "refresh_token", "refresh_token": refresh})
    post(
        emulator,
        {**base, "grant_type": "client_credentials", "scope": "sellingpartnerapi::notifications"},
    )
    assert emulator.count("refresh_token") == 2
    assert emulator.count("client_credentials") == 1
    assert emulator.count("token_requests") == 3


def test_faults_are_consumed_in_order(emulator: Emulator) -> None:
    app = emulator.state.register_app()
    refresh = emulator.state.self_authorize(app.client_id)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }
    emulator.inject("status", times=1, status=500)
    emulator.inject("rate_limit", times=1, retry_after=2)
    emulator.inject("html", times=1, status=503)
    first, second, third, fourth = (post(emulator, form) for _ in range(4))
    assert first.status_code == 500 and first.json()["error"] == "server_error"
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"
    assert third.status_code == 503 and third.headers["Content-Type"] == "text/html"
    assert fourth.status_code == 200


def test_runs_as_a_program_for_people() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "spconnect.emulator"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(3))
        assert "spconnect Amazon emulator on http://127.0.0.1:" in banner
        url = banner.split("SPCONNECT_LWA_URL=")[1].split()[0]
        assert httpx.post(url, data={}, timeout=5).json()["error"] == "invalid_request"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.keyring
def test_the_commands_it_prints_work_as_printed(cli: Cli, secret_service: None) -> None:
    """A new user's first hour: every command the running emulator prints (apart from
    the browser login) works as printed, `api --paginate` and `exec` included."""
    process = subprocess.Popen(
        [sys.executable, "-m", "spconnect.emulator", "--orders", "250"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or "grep SPAPI_" not in lines[-1]:
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        printed = "".join(lines)
        env = dict(re.findall(r"export (SPCONNECT_\w+)=(\S+)", printed))
        secret = re.search(r"client secret:\s+(\S+)", printed)
        refresh = re.search(r"Self-authorized refresh token for .*:\n\s+(\S+)", printed)
        assert len(env) == 3 and secret and refresh, printed
        # The printed commands, their line continuations joined, one per line.
        commands = [
            c.partition("#")
            for c in printed.replace("\\\n", " ").splitlines()
            if c.startswith("  spconnect ")  # indented: the banner is not a command
        ]
        ran = {}
        for command, _, comment in commands:
            if "browser" in comment:
                continue  # the browser's consent: tests/test_browser.py clicks it
            argv = shlex.split(command)
            args, pipe = argv[1:], ""
            if "|" in args:
                pipe = " ".join(args[args.index("|") + 1 :])
                args = args[: args.index("|")]
            stdin = (
                secret.group(1)
                if "--client-secret-stdin" in args
                else refresh.group(1)
                if "--refresh-token-stdin" in args
                else None
            )
            result = cli.run(*args, env=env, input=None if stdin is None else stdin + "\n")
            assert result.returncode == 0, (args, result.output)
            ran[(args[0], pipe)] = result.stdout
        assert ran[("token", "")].startswith("Atza|")
        pages = ran[("api", "wc -l")].splitlines()
        assert len(pages) == 3  # 250 orders, 100 a page
        assert sum(len(json.loads(p)["payload"]["Orders"]) for p in pages) == 250
        private = json.loads(ran[("api", "head -c 300")])
        assert private["payload"]["Orders"][0]["BuyerInfo"]["BuyerEmail"].startswith("buyer")
        shown = ran[("exec", "grep SPAPI_")]
        assert "SPAPI_ACCESS_TOKEN=Atza|" in shown and "SPAPI_ENDPOINT=" in shown
    finally:
        process.terminate()
        process.wait(10)

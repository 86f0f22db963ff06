"""``spconnect login`` and ``reauth`` through the consent flow, as real subprocesses against
the emulator and the real Secret Service. The browser's part is played with httpx here
(the same requests a browser makes); tests/test_browser.py clicks it in Chromium."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import keyring
import pytest
import tomllib

from spconnect.consent.listener import port_is_free
from spconnect.consent.paste import UNREADABLE
from spconnect.emulator import Emulator
from spconnect.emulator.state import Account
from spconnect.errors import ExitCode
from tests.conftest import Cli, LoginProcess, Result, add_app, amazon_redirect, free_port
from tests.consent_helpers import printed_consent_url, start_address

pytestmark = pytest.mark.keyring

REDIRECT = "https://you.example.com/spconnect/callback"


@pytest.fixture
def port(cli: Cli, emulator: Emulator, secret_service: None) -> int:
    """App 'demo', whose redirect URI is a public relay page; its (free) callback port."""
    app = emulator.state.register_app("demo", redirect_uris=[REDIRECT])
    callback_port = free_port()
    add_app(cli, app, "--callback-port", str(callback_port))
    return callback_port


def relay(location: str, port: int, browser: httpx.Client | None = None) -> httpx.Response:
    """Play the relay page: forward the query unchanged to the loopback listener (in
    ``browser``, with its cookies, when given)."""
    url = f"http://127.0.0.1:{port}/callback?{urlsplit(location).query}"
    return browser.get(url) if browser is not None else httpx.get(url, timeout=10)


def to_the_login_uri(browser: httpx.Client, start: str) -> str:
    """Open the start address, then reach the Login URI (the relay page, which is not
    served here) the way real Amazon sends a browser there: the website flow goes
    straight to the redirect URI (amazon.md section 3), so this browser takes the app's
    Appstore "Authorize now" instead, while the login waits. Where the browser is sent."""
    consent = browser.get(start)
    assert consent.status_code == 302, consent.text
    target = urlsplit(consent.headers["location"])
    app_id = parse_qs(target.query)["application_id"][0]
    login_uri = browser.post(
        f"{target.scheme}://{target.netloc}/apps/appstore/authorize",
        data={"application_id": app_id},
    )
    assert login_uri.status_code == 302, login_uri.text
    location = str(login_uri.headers["location"])
    assert location.startswith("https://you.example.com/spconnect/login?")
    return location


def profile_of(cli: Cli, name: str = "default") -> dict[str, object]:
    config = tomllib.loads((cli.config_dir / "config.toml").read_text())
    return config.get("profiles", {}).get(name, {})  # type: ignore[no-any-return]


def stored_token(cli: Cli, profile: str = "default") -> str | None:
    return keyring.get_password(cli.keyring_service, f"profile:{profile}")


def login_via_relay(
    cli: Cli, emulator: Emulator, port: int, account: Account, *args: str
) -> LoginProcess:
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US", *args)
    location = amazon_redirect(emulator, login.consent_url(), account)
    assert relay(location, port).status_code == 200
    return login


def test_login_through_the_relay_stores_the_authorization(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    account = emulator.state.add_account("Shop A")
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "DE")
    url = login.consent_url()
    assert url.startswith(emulator.url + "/apps/authorize/consent?")
    assert "version=beta" in url and "redirect_uri=https%3A%2F%2Fyou.example.com" in url
    assert f"state={port}." in url
    location = amazon_redirect(emulator, url, account)
    page = relay(location, port)
    assert "Authorization received" in page.text
    result = login.finish()
    assert result.returncode == 0, result.stderr
    assert f"selling partner {account.selling_partner_id}" in result.stderr
    assert stored_token(cli) is not None and stored_token(cli).startswith("Atzr|")  # type: ignore[union-attr]
    profile = profile_of(cli)
    assert profile["selling_partner_id"] == account.selling_partner_id
    assert profile["region"] == "eu" and profile["marketplace"] == "A1PA6795UKMFR9"
    assert "authorized_at" in profile
    assert emulator.count("authorization_code") == 1
    assert cli.ok("token").stdout.startswith("Atza|")
    assert port_is_free(port)


def test_the_consent_url_is_printed_on_a_line_of_its_own(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    login = login_via_relay(cli, emulator, port, emulator.state.add_account("Shop A"))
    result = login.finish()
    lines = [line for line in result.stderr.splitlines() if "/apps/authorize/consent" in line]
    assert len(lines) == 1 and lines[0].startswith(emulator.url) and " " not in lines[0]


def test_paste_only_mode_runs_no_listener(cli: Cli, emulator: Emulator, port: int) -> None:
    login = LoginProcess(cli, "login", "--paste", "--no-browser", "--marketplace", "US")
    location = amazon_redirect(emulator, login.consent_url(), emulator.state.add_account("S"))
    assert port_is_free(port)
    login.paste(location)
    result = login.finish()
    assert result.returncode == 0, result.stderr
    assert stored_token(cli)


def test_paste_races_the_listener_and_wins_cleanly(cli: Cli, emulator: Emulator, port: int) -> None:
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US")
    location = amazon_redirect(emulator, login.consent_url(), emulator.state.add_account("S"))
    assert not port_is_free(port)  # the listener is up
    login.paste(f"  '{location}'  ")
    result = login.finish()
    assert result.returncode == 0, result.stderr
    assert port_is_free(port)  # and stopped once the paste won
    assert emulator.count("authorization_code") == 1


def test_bad_pastes_are_explained_and_the_prompt_asks_again(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    login = LoginProcess(cli, "login", "--paste", "--no-browser", "--marketplace", "US")
    location = amazon_redirect(emulator, login.consent_url(), emulator.state.add_account("S"))
    login.paste("not an address")
    login.paste("hello world")
    login.paste(location.replace("state=", "state=1").replace("&state", "&x"))  # foreign
    login.paste("Error code: MD5101")
    login.paste(location)
    result = login.finish()
    assert result.returncode == 0, result.stderr
    assert "not an address spconnect can read" in result.stderr
    # The hint reaches the person whole: no part of it looks like a secret to the mask.
    assert UNREADABLE in result.stderr and "[REDACTED]" not in result.stderr
    assert "not this login's" in result.stderr
    assert "MD5101" in result.stderr and "redirect URI" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_and_undecodable_pastes_keep_the_prompt_alive(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    """Issue 8: a paste urllib cannot parse used to kill the reader thread, so the good
    paste after it was ignored and the login waited until --timeout."""
    login = LoginProcess(
        cli, "login", "--paste", "--no-browser", "--marketplace", "US", "--timeout", "30"
    )
    location = amazon_redirect(emulator, login.consent_url(), emulator.state.add_account("S"))
    login.paste("https://[x?a=b")
    login.paste(
        "https://you.example.com/cb?amazon_callback_uri=https%3A%2F%2F%5B%3A%3A1%2Fx&amazon_state=y"
    )
    assert login.process.stdin is not None
    login.process.stdin.flush()
    login.process.stdin.buffer.write(b"\xff\xfe\xc3 not UTF-8\n")
    login.process.stdin.buffer.flush()
    login.paste(location)
    result = login.finish(timeout=25)
    assert result.returncode == 0, result.stderr
    assert "the address has no state parameter" in result.stderr  # https://[x?a=b
    assert "amazon_callback_uri) is malformed" in result.stderr
    assert "not an address spconnect can read" in result.stderr  # the undecodable line
    assert "Traceback" not in result.stderr and "ValueError" not in result.stderr
    assert stored_token(cli)


def test_paste_input_ending_is_exit_8_with_nothing_stored(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    login = LoginProcess(cli, "login", "--paste", "--no-browser", "--marketplace", "US")
    login.consent_url()
    login.paste("garbage")
    login.close_stdin()
    result = login.finish()
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert "input ended" in result.stderr and "nothing was stored" in result.stderr
    assert stored_token(cli) is None and profile_of(cli) == {}


def test_timeout_is_exit_8_naming_what_to_try(cli: Cli, emulator: Emulator, port: int) -> None:
    started = time.monotonic()
    result = cli.run("login", "--no-browser", "--marketplace", "US", "--timeout", "1")
    assert time.monotonic() - started < 20
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert "no answer from Amazon within 1 s" in result.stderr
    assert "--timeout" in result.stderr and "--paste" in result.stderr
    assert stored_token(cli) is None
    assert port_is_free(port)


def test_deny_is_exit_8_with_amazons_text(cli: Cli, emulator: Emulator, port: int) -> None:
    emulator.state.add_account("Shop A")
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US")
    query = dict(httpx.URL(login.consent_url()).params)
    denied = httpx.post(
        f"{emulator.url}/apps/authorize/decide", timeout=5, data={**query, "decision": "deny"}
    )
    page = relay(denied.headers["location"], port)
    assert page.status_code == 400 and "refused" in page.text
    result = login.finish()
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert "The user denied the authorization request" in result.stderr
    assert stored_token(cli) is None


def test_port_in_use_is_explained_naming_port_flag(cli: Cli, emulator: Emulator, port: int) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = cli.run("login", "--no-browser", "--marketplace", "US")
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert f"port {port}" in result.stderr and "--port" in result.stderr
    other = free_port()
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US", "--port", str(other))
    assert f"state={other}." in login.consent_url()
    login.process.terminate()
    login.finish()


def test_ctrl_c_exits_130_and_frees_the_port(cli: Cli, emulator: Emulator, port: int) -> None:
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US")
    login.consent_url()
    assert not port_is_free(port)
    login.process.send_signal(signal.SIGINT)
    result = login.finish()
    assert result.returncode == ExitCode.INTERRUPTED
    assert "Traceback" not in result.stderr
    assert port_is_free(port)
    assert stored_token(cli) is None


def test_expired_code_is_exit_8_and_nothing_is_stored(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US")
    location = amazon_redirect(emulator, login.consent_url(), emulator.state.add_account("S"))
    emulator.state.advance(301)  # the code lives 5 minutes
    relay(location, port)
    result = login.finish()
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert "5 minutes" in result.stderr
    assert stored_token(cli) is None


def test_another_selling_partner_needs_force(cli: Cli, emulator: Emulator, port: int) -> None:
    first, second = emulator.state.add_account("Shop A"), emulator.state.add_account("Shop B")
    assert login_via_relay(cli, emulator, port, first).finish().returncode == 0
    original = stored_token(cli)
    refused = login_via_relay(cli, emulator, port, second).finish()
    assert refused.returncode == ExitCode.USAGE, refused.stderr
    assert f"Amazon authorized {second.selling_partner_id}" in refused.stderr
    assert "refusing without a terminal" in refused.stderr
    assert "add --yes: spconnect login -p default --yes" in refused.stderr
    assert emulator.count("authorization_code") == 1  # the second code was never exchanged
    assert stored_token(cli) == original
    assert profile_of(cli)["selling_partner_id"] == first.selling_partner_id
    forced = login_via_relay(cli, emulator, port, second, "--force").finish()  # as --yes
    assert forced.returncode == 0
    assert profile_of(cli)["selling_partner_id"] == second.selling_partner_id
    assert stored_token(cli) != original


@pytest.mark.parametrize("capture", ["relay", "paste"])
def test_expect_seller_refuses_another_account_before_its_code_is_exchanged(
    cli: Cli, emulator: Emulator, port: int, capture: str
) -> None:
    wanted, other = emulator.state.add_account("Shop A"), emulator.state.add_account("Shop B")
    paste = ["--paste"] if capture == "paste" else []
    login = LoginProcess(
        cli,
        "login",
        "--no-browser",
        "--marketplace",
        "US",
        "--expect-seller",
        wanted.selling_partner_id,
        *paste,
    )
    location = amazon_redirect(emulator, login.consent_url(), other)
    if capture == "paste":
        login.paste(location)
    else:
        page = relay(location, port)
        assert page.status_code == 400 and "--expect-seller asked for" in page.text
    result = login.finish()
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert f"Amazon authorized selling partner {other.selling_partner_id}" in result.stderr
    assert f"--expect-seller asked for {wanted.selling_partner_id}" in result.stderr
    assert "nothing was stored" in result.stderr
    assert stored_token(cli) is None and profile_of(cli) == {}
    assert emulator.count("authorization_code") == 0  # the code was never exchanged


def test_expect_seller_accepts_the_named_account_and_status_shows_it(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    account = emulator.state.add_account("Shop A")
    emulator.state.add_account("Shop B")
    login = login_via_relay(
        cli, emulator, port, account, "--expect-seller", account.selling_partner_id
    )
    result = login.finish()
    assert result.returncode == 0, result.stderr
    assert f"selling partner {account.selling_partner_id}" in result.stderr
    status = cli.ok("status").stdout
    assert f"selling partner {account.selling_partner_id}" in " ".join(status.split())
    document = json.loads(cli.ok("status", "--json").stdout)
    assert document["profiles"][0]["selling_partner_id"] == account.selling_partner_id


def test_expect_seller_usage_errors_come_before_anything_starts(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    malformed = cli.run("login", "--no-browser", "--marketplace", "US", "--expect-seller", "a b")
    assert malformed.returncode == ExitCode.USAGE and "selling partner id" in malformed.stderr
    self_authorized = cli.run(
        "login", "--refresh-token-stdin", "--expect-seller", "A1B2C3D4E5", input="Atzr|x\n"
    )
    assert self_authorized.returncode == ExitCode.USAGE
    assert "carries no selling partner id" in self_authorized.stderr
    account = emulator.state.add_account("Shop A")
    assert login_via_relay(cli, emulator, port, account).finish().returncode == 0
    for command in (["login"], ["reauth"]):
        contradiction = cli.run(*command, "--no-browser", "--expect-seller", "A9Z9Z9Z9Z9Z9")
        assert contradiction.returncode == ExitCode.USAGE, contradiction.stderr
        assert account.selling_partner_id in contradiction.stderr
        assert "/apps/authorize/consent" not in contradiction.stderr  # nobody sent to Amazon
    assert port_is_free(port)


def test_reauth_renews_a_revoked_authorization(cli: Cli, emulator: Emulator, port: int) -> None:
    account = emulator.state.add_account("Shop A")
    assert login_via_relay(cli, emulator, port, account).finish().returncode == 0
    old = stored_token(cli)
    assert old is not None
    emulator.state.revoke(old)
    broken = cli.run("token", "--force-refresh")
    assert broken.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "spconnect reauth -p default" in broken.stderr
    reauth = LoginProcess(cli, "reauth", "--no-browser")
    url = reauth.consent_url()
    assert "ATVPDKIKX0DER" not in url and url.startswith(emulator.url)
    # Until the new token is stored, the old one stays in place.
    assert stored_token(cli) == old
    relay(amazon_redirect(emulator, url, account), port)
    assert reauth.finish().returncode == 0
    assert stored_token(cli) not in (None, old)
    assert cli.ok("token", "--force-refresh").stdout.startswith("Atza|")


def test_reauth_refuses_another_selling_partner_and_keeps_the_old_token(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    account, other = emulator.state.add_account("Shop A"), emulator.state.add_account("Shop B")
    assert login_via_relay(cli, emulator, port, account).finish().returncode == 0
    old = stored_token(cli)
    reauth = LoginProcess(cli, "reauth", "--no-browser")
    relay(amazon_redirect(emulator, reauth.consent_url(), other), port)
    result = reauth.finish()
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert other.selling_partner_id in result.stderr and "nothing was changed" in result.stderr
    assert stored_token(cli) == old
    assert emulator.count("authorization_code") == 1  # the foreign code was never exchanged


def test_reauth_of_an_unknown_profile_is_exit_3(cli: Cli, port: int) -> None:
    result = cli.run("reauth", "-p", "nope", "--no-browser")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert "spconnect login -p nope" in result.stderr


def test_login_without_an_app_and_without_a_terminal_names_the_flags(
    cli: Cli, secret_service: None
) -> None:
    result = cli.run("login", "--no-browser", "--marketplace", "US")
    assert result.returncode == ExitCode.USAGE
    for flag in ("spconnect app add", "--client-id", "--app-id", "--redirect-uri"):
        assert flag in result.stderr


def test_new_profile_without_marketplace_and_terminal_names_the_flag(cli: Cli, port: int) -> None:
    result = cli.run("login", "--no-browser")
    assert result.returncode == ExitCode.USAGE and "--marketplace" in result.stderr


@pytest.fixture
def hop_port(cli: Cli, emulator: Emulator, secret_service: None) -> int:
    """App 'demo' with a Login URI: Amazon sends the browser there first (the hop)."""
    app = emulator.state.register_app(
        "demo", redirect_uris=[REDIRECT], login_uri="https://you.example.com/spconnect/login"
    )
    port = free_port()
    add_app(cli, app, "--callback-port", str(port), "--login-uri", app.login_uri or "")
    return port


def test_login_uri_hop_through_the_listener(cli: Cli, emulator: Emulator, hop_port: int) -> None:
    account = emulator.state.add_account("Shop A")
    emulator.state.auto_approve = account.selling_partner_id
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US")
    with httpx.Client(timeout=5) as browser:
        # The browser on this machine opens the start address, which sends it to Amazon.
        to_login_uri = to_the_login_uri(browser, start_address(login))
        back_to_amazon = relay(to_login_uri, hop_port, browser)
        assert back_to_amazon.status_code == 302
        confirm = back_to_amazon.headers["location"]
        assert confirm.startswith(f"{emulator.url}/apps/authorize/confirm/")
        to_redirect = browser.get(confirm).headers["location"]
        assert relay(to_redirect, hop_port).status_code == 200
    result = login.finish()
    assert result.returncode == 0, result.stderr
    assert "Login URI visited" in result.stderr
    assert profile_of(cli)["selling_partner_id"] == account.selling_partner_id


def test_a_local_process_cannot_take_the_hop_and_the_login_still_succeeds(
    cli: Cli, emulator: Emulator, hop_port: int
) -> None:
    """Issue 8, section 1: with `login` waiting, any local process could request the hop,
    read state from the Location, and deliver its own seller's code with it."""
    victim = emulator.state.add_account("Shop A")
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US")
    state = dict(httpx.URL(printed_consent_url(login)).params)["state"]
    probe = httpx.get(
        f"http://127.0.0.1:{hop_port}/callback?amazon_callback_uri=/x&amazon_state=y", timeout=5
    )
    assert probe.status_code == 403 and "location" not in probe.headers
    assert state not in probe.text and state.split(".")[1] not in probe.text
    start = start_address(login)
    # Without state, an answer of the intruder's making is not this login's.
    intruder = relay(f"{REDIRECT}?state={state[:6]}x&spapi_oauth_code=theirs", hop_port)
    assert intruder.status_code == 400
    # The person's browser goes through the hop and finishes the login.
    emulator.state.auto_approve = victim.selling_partner_id
    with httpx.Client(timeout=5) as browser:
        hop = relay(to_the_login_uri(browser, start), hop_port, browser)
        to_redirect = browser.get(hop.headers["location"]).headers["location"]
        assert relay(to_redirect, hop_port).status_code == 200
    result = login.finish()
    assert result.returncode == 0, result.stderr
    assert profile_of(cli)["selling_partner_id"] == victim.selling_partner_id
    assert emulator.count("authorization_code") == 1


def test_start_address_opened_by_a_second_client_ends_the_login(
    cli: Cli, emulator: Emulator, hop_port: int
) -> None:
    """The start address is in the browser's command line. An intruder who opens it first
    gets the consent URL with state; when the person's browser then opens it, the login
    ends (exit 8) and the intruder's answer is refused: nothing is stored."""
    intruder = emulator.state.add_account("Evil")
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US")
    start = start_address(login)
    with httpx.Client(timeout=5) as thief:
        stolen = thief.get(start).headers["location"]  # the consent URL, state included
    second = httpx.get(start, timeout=5)  # the person's browser, a moment later
    assert second.status_code == 403 and "opened a second time" in second.text
    result = login.finish()
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert "opened a second time" in result.stderr and "nothing was stored" in result.stderr
    # Too late for the intruder's answer with the stolen state: the login has ended.
    assert "state=" in stolen
    location = amazon_redirect(emulator, stolen, intruder)
    with pytest.raises(httpx.ConnectError):
        relay(location, hop_port)
    assert stored_token(cli) is None and profile_of(cli) == {}
    assert emulator.count("authorization_code") == 0


def test_the_browser_is_started_at_its_own_single_use_address(
    cli: Cli, emulator: Emulator, hop_port: int, tmp_path: Path
) -> None:
    """Other local users can read a browser's command line: what spconnect puts there is
    a start address of its own, not state, and it works once."""
    argv_file = tmp_path / "browser-argv"
    browser_command = tmp_path / "browser"
    browser_command.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {argv_file}\n')
    browser_command.chmod(0o700)
    env = {"BROWSER": str(browser_command), "DISPLAY": ":99"}
    account = emulator.state.add_account("Shop A")
    login = LoginProcess(cli, "login", "--marketplace", "US", env=env)
    login.wait_for(lambda line: "opened in your browser" in line)
    opened = argv_file.read_text().split()
    assert len(opened) == 1 and "state=" not in opened[0]
    assert "spconnect_start=" in opened[0] and opened[0] != start_address(login)
    emulator.state.auto_approve = account.selling_partner_id
    with httpx.Client(timeout=5) as browser:  # the browser spconnect started
        hop = relay(to_the_login_uri(browser, opened[0]), hop_port, browser)
        assert hop.status_code == 302
        assert httpx.get(opened[0], timeout=5).status_code == 403  # used: once only
    result = login.finish()
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert "opened a second time" in result.stderr and stored_token(cli) is None


def test_both_addresses_are_printed_each_on_a_line_of_its_own(
    cli: Cli, emulator: Emulator, port: int
) -> None:
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US")
    start = start_address(login)
    assert start == f"http://127.0.0.1:{port}/callback?spconnect_start={start.split('=')[1]}"
    assert len(start.split("=")[1]) >= 22  # at least 128 random bits
    login.process.terminate()
    stderr = login.finish().stderr
    assert "Open this address in a browser on this computer" in stderr
    assert "On another device, open this one instead" in stderr
    assert [line for line in stderr.splitlines() if "spconnect_start=" in line] == [start]


def test_published_app_that_is_really_a_draft_shows_md1000_explained(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("demo", redirect_uris=[REDIRECT], draft=True)
    add_app(cli, app, "--published")
    login = LoginProcess(cli, "login", "--paste", "--no-browser", "--marketplace", "US")
    error_page = login.consent_url()
    page = httpx.get(error_page, timeout=5)
    assert page.status_code == 400 and "MD1000" in page.text
    # The address bar of Amazon's error page shows the address spconnect built: no answer,
    # no code. The prompt says so and asks for the code the page shows.
    login.paste(error_page)
    login.wait_for(lambda line: "Amazon's own page" in line)
    login.paste("Error code: MD1000")
    login.wait_for(lambda line: "Amazon's MD1000" in line and "--draft" in line)
    login.close_stdin()
    result = login.finish()
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE
    assert "no authorization code" not in result.stderr
    assert stored_token(cli) is None


def test_vendor_login_goes_to_vendor_accounts(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("vend", redirect_uris=[REDIRECT], kind="vendor")
    port = free_port()
    add_app(cli, app, "--vendor", "--callback-port", str(port), name="vend")
    vendor = emulator.state.add_account("A Vendor", vendor=True)
    assert vendor.selling_partner_id.startswith("amzn1.vg.")
    login = login_via_relay(cli, emulator, port, vendor)
    assert login.finish().returncode == 0
    assert profile_of(cli)["selling_partner_id"] == vendor.selling_partner_id
    assert stored_token(cli) is not None


def test_vendor_login_through_a_region_is_refused_naming_the_marketplaces(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    """amazon.md section 11: vendor consent starts at the marketplace's own Vendor
    Central; a region names none. Refused before anything listens or is stored."""
    app = emulator.state.register_app("vend", redirect_uris=[REDIRECT], kind="vendor")
    port = free_port()
    add_app(cli, app, "--vendor", "--callback-port", str(port), name="vend")
    result = cli.run("login", "--no-browser", "--marketplace", "eu")
    assert result.returncode == ExitCode.USAGE, result.output
    assert "own Vendor Central" in result.stderr and "UK" in result.stderr
    assert "/apps/authorize/consent" not in result.stderr
    assert emulator.count("consent_page") == 0 and profile_of(cli) == {}
    assert cli.run("login", "--vendor", "--no-browser", "--marketplace", "na").returncode == 2


def test_relay_page_command(cli: Cli, port: int) -> None:
    out = cli.ok("relay-page").stdout
    assert f"var BAKED_PORT = {port};" in out
    target = cli.config_dir.parent / "relay.html"
    result = cli.ok("relay-page", "--app", "demo", "-o", str(target))
    assert target.read_text() == out
    assert REDIRECT in result.stderr and "Login URI" in result.stderr


# -- flows Amazon starts (issue 9, item 3) ------------------------------------------------

LOGIN_URI = "https://you.example.com/spconnect/login"


def amazon_starts(emulator: Emulator, path: str, **form: str) -> str:
    """Play the seller's click on Authorize now (Appstore) or Re-Authorize (Manage Your
    Apps): the Login-URI address Amazon sends the browser to, with no login waiting."""
    response = httpx.post(f"{emulator.url}{path}", data=form, timeout=5)
    assert response.status_code == 302, response.text
    landed = str(response.headers["location"])
    assert landed.startswith(LOGIN_URI + "?amazon_callback_uri=")
    return landed


def continuation_of(login: LoginProcess, emulator: Emulator) -> str:
    return login.wait_for(lambda line: line.startswith(f"{emulator.url}/apps/authorize/confirm/"))


def login_from_amazon(
    cli: Cli, emulator: Emulator, port: int, account: Account, *args: str
) -> Result:
    """Authorize now in the Appstore, then `spconnect login --from-url` in listener mode,
    the browser (httpx, with its cookies) opening the start address the login printed."""
    app = next(iter(emulator.state.apps.values()))
    landed = amazon_starts(emulator, "/apps/appstore/authorize", application_id=app.app_id)
    login = LoginProcess(
        cli, "login", "--no-browser", "--marketplace", "US", "--from-url", landed, *args
    )
    start = login.wait_for(lambda line: "spconnect_start=" in line)
    continuation = continuation_of(login, emulator)
    sent = dict(httpx.URL(landed).params)
    query = dict(httpx.URL(continuation).params)
    assert query["amazon_state"] == sent["amazon_state"]  # unchanged (amazon.md section 3)
    assert query["state"].startswith(f"{port}.") and query["redirect_uri"] == REDIRECT
    assert query["version"] == "beta"  # a draft app
    assert query["state"] not in " ".join(login.args)  # a fresh state, never in argv
    emulator.state.auto_approve = account.selling_partner_id
    with httpx.Client(timeout=5) as browser:
        onwards = browser.get(start)
        assert onwards.status_code == 302 and onwards.headers["location"] == continuation
        to_redirect = browser.get(continuation).headers["location"]
    emulator.state.auto_approve = None
    assert relay(to_redirect, port).status_code == 200
    return login.finish()


def test_login_from_url_continues_a_flow_amazon_started(
    cli: Cli, emulator: Emulator, hop_port: int
) -> None:
    account = emulator.state.add_account("Shop A")
    result = login_from_amazon(cli, emulator, hop_port, account)
    assert result.returncode == 0, result.stderr
    assert "Continuing the flow Amazon started" in result.stderr
    assert profile_of(cli)["selling_partner_id"] == account.selling_partner_id
    assert stored_token(cli) is not None and cli.ok("token").stdout.startswith("Atza|")
    assert emulator.count("authorization_code") == 1


def test_reauth_from_url_by_paste_renews_the_profile(
    cli: Cli, emulator: Emulator, hop_port: int
) -> None:
    """Re-Authorize in Manage Your Apps with no login waiting; `reauth --paste
    --from-url` continues it: no listener, the answer pasted, the refresh token replaced."""
    account = emulator.state.add_account("Shop A")
    emulator.state.add_account("Shop B")
    assert login_from_amazon(cli, emulator, hop_port, account).returncode == 0
    old = stored_token(cli)
    app = next(iter(emulator.state.apps.values()))
    landed = amazon_starts(
        emulator,
        "/apps/manage/reauthorize",
        application_id=app.app_id,
        selling_partner_id=account.selling_partner_id,
    )
    reauth = LoginProcess(cli, "reauth", "--paste", "--no-browser", "--from-url", landed)
    continuation = continuation_of(reauth, emulator)
    assert "spconnect_start=" not in "".join(reauth.stderr_lines)  # paste mode: no listener
    # The seller approves (the consent page offers the renewed account only).
    page = httpx.get(continuation, timeout=5)
    assert page.status_code == 200 and "Shop B" not in page.text
    answer = httpx.post(
        f"{emulator.url}/apps/authorize/decide",
        data={
            "application_id": app.app_id,
            "state": dict(httpx.URL(continuation).params)["state"],
            "redirect_uri": REDIRECT,
            "selling_partner_id": account.selling_partner_id,
            "decision": "approve",
        },
        timeout=5,
    )
    reauth.paste(answer.headers["location"])
    result = reauth.finish()
    assert result.returncode == 0, result.stderr
    assert "renewal of profile 'default'" in result.stderr
    assert stored_token(cli) not in (None, old)
    assert cli.ok("token", "--force-refresh").stdout.startswith("Atza|")


def test_reauth_from_url_of_another_account_is_refused_before_anything_starts(
    cli: Cli, emulator: Emulator, hop_port: int
) -> None:
    mine = emulator.state.add_account("Shop A")
    other = emulator.state.add_account("Shop B")
    assert login_from_amazon(cli, emulator, hop_port, mine).returncode == 0
    old = stored_token(cli)
    app = next(iter(emulator.state.apps.values()))
    emulator.state.self_authorize(app.client_id, other.selling_partner_id)
    landed = amazon_starts(
        emulator,
        "/apps/manage/reauthorize",
        application_id=app.app_id,
        selling_partner_id=other.selling_partner_id,
    )
    result = cli.run("reauth", "--no-browser", "--from-url", landed)
    assert result.returncode == ExitCode.USAGE, result.output
    assert f"renews selling partner {other.selling_partner_id}" in result.stderr
    assert f"belongs to {mine.selling_partner_id}" in result.stderr
    assert "spconnect login -p NAME --from-url" in result.stderr
    assert "Listening" not in result.stderr and port_is_free(hop_port)
    assert stored_token(cli) == old


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            f"{LOGIN_URI}?amazon_callback_uri=https%3A%2F%2Fevil.example%2Fapps&amazon_state=S",
            "will not continue that address",
        ),
        (f"{LOGIN_URI}?amazon_callback_uri=%2F%2Fevil.example%2Fx&amazon_state=S", "evil.example"),
        (f"{REDIRECT}?state=53682.abc&spapi_oauth_code=ANx", "Amazon's answer"),
        ("x" * 100_000, "characters long"),
    ],
)
def test_from_url_refuses_what_does_not_continue_to_amazon(
    cli: Cli, emulator: Emulator, hop_port: int, given: str, said: str
) -> None:
    """--from-url is hostile input (it comes from a page anyone can link to): exit 2 with
    the reason, before anything listens, visits Amazon or is stored; never a redirect."""
    result = cli.run("login", "--no-browser", "--marketplace", "US", "--from-url", given)
    assert result.returncode == ExitCode.USAGE, result.output
    assert said in result.stderr and "Traceback" not in result.output
    assert "Listening" not in result.stderr and "/apps/authorize/" not in result.stderr
    assert emulator.count("consent_page") == 0 and profile_of(cli) == {}


def test_from_url_picks_the_app_of_the_address_and_refuses_another(
    cli: Cli, emulator: Emulator, hop_port: int
) -> None:
    other = emulator.state.register_app("other", redirect_uris=[REDIRECT], login_uri=LOGIN_URI)
    add_app(cli, other, "--callback-port", str(free_port()), name="other")
    landed = amazon_starts(emulator, "/apps/appstore/authorize", application_id=other.app_id)
    wrong = cli.run("login", "--app", "demo", "--marketplace", "US", "--from-url", landed)
    assert wrong.returncode == ExitCode.USAGE
    assert other.app_id in wrong.stderr and "--app other" in wrong.stderr
    # Without --app, two apps are no longer ambiguous: the address names its application.
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US", "--from-url", landed)
    assert "app 'other'" in login.wait_for(lambda line: "Continuing the flow" in line)
    login.process.terminate()
    login.finish()


def test_from_url_and_a_self_authorized_token_do_not_mix(cli: Cli, hop_port: int) -> None:
    result = cli.run(
        "login", "--refresh-token-stdin", "--from-url", f"{LOGIN_URI}?a=b", input="Atzr|x\n"
    )
    assert result.returncode == ExitCode.USAGE and "--from-url" in result.stderr


def test_logout_of_an_unknown_profile_names_the_profiles_there_are(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    from tests.conftest import login_self_authorized

    add_app(cli, emulator.state.register_app("demo"))
    for name in ("default", "eu-shop"):
        login_self_authorized(cli, emulator, profile=name)
    result = cli.run("logout", "-p", "eu-shpo")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert "no profile named 'eu-shpo'" in result.stderr
    assert "profiles here: default, eu-shop" in result.stderr
    assert "did you mean 'eu-shop'" in result.stderr
    assert "spconnect login" not in result.stderr  # logging in is not what was asked
    assert stored_token(cli, "eu-shop") and stored_token(cli, "default")
    cli.ok("logout", "-p", "default")
    cli.ok("logout", "-p", "eu-shop")
    nothing = cli.run("logout", "-p", "default")
    assert nothing.returncode == ExitCode.NOT_SET_UP
    assert "no profiles here" in nothing.stderr


def test_local_https_listens_only_on_the_registered_port(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    """Issue 9, item 6: `--port 8444` listened on 8444 and still sent Amazon the redirect
    URI with 8443, where nothing answered."""
    import socket

    registered = free_port()
    redirect = f"https://localhost:{registered}/callback"
    add_app(cli, emulator.state.register_app("local", redirect_uris=[redirect]))
    other = free_port()
    args = ("login", "--no-browser", "--marketplace", "US", "--timeout", "2")
    refused = cli.run(*args, "--port", str(other))
    assert refused.returncode == ExitCode.USAGE, refused.stderr
    assert f"--port {other} cannot be used" in refused.stderr
    assert redirect in refused.stderr and f"port {registered} only" in refused.stderr
    assert "/apps/authorize/consent" not in refused.stderr  # nobody sent to Amazon
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", registered))
        taken.listen()
        busy = cli.run(*args)
    assert busy.returncode == ExitCode.LOGIN_INCOMPLETE
    assert f"port {registered} on 127.0.0.1 is already in use" in busy.stderr
    assert "--paste" in busy.stderr and "--port N" not in busy.stderr
    login = LoginProcess(cli, *args, "--port", str(registered))  # its own port is fine
    assert f"localhost%3A{registered}%2Fcallback" in login.consent_url()
    login.process.terminate()
    login.finish()

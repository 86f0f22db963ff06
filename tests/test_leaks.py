"""No secret leaks: every command of the foundation, success and failure paths, with and
without -v, fed known secrets; all captured output and every file is searched for them."""

from __future__ import annotations

import re

import pytest

from spconnect.emulator import Emulator
from tests.conftest import Cli, Seller, login_self_authorized
from tests.invite_helpers import Remote, remote_setup

remote = remote_setup  # the invite server and the developer's CLI (tests/invite_helpers.py)

pytestmark = pytest.mark.keyring


US = "ATVPDKIKX0DER"
ORDERS = ("/orders/v0/orders", "-f", f"MarketplaceIds={US}", "-f", "CreatedAfter=2025-01-01")


def api_and_exec(cli: Cli, emulator: Emulator, verbose: tuple[str, ...]) -> None:
    """`api` and `exec` through their success and failure paths (issue 10)."""
    cli.ok("api", *verbose, "--paginate", *ORDERS, "-F", "MaxResultsPerPage=2")
    cli.ok("api", *verbose, "--slurp", "--paginate", *ORDERS)
    cli.ok("api", *verbose, "-i", *ORDERS)
    cli.ok("api", *verbose, "--rdt", "buyerInfo,shippingAddress", *ORDERS)
    cli.run("api", *verbose, "--rdt", "creditCard", *ORDERS)  # exit 9 from the Tokens API
    cli.run("api", *verbose, "-i", "/orders/v0/orders")  # exit 9, headers and body
    emulator.inject("status", times=1, status=503, endpoint="orders", echo_request=True)
    cli.ok("api", *verbose, *ORDERS)  # retried; the 503 echoed the token
    emulator.inject("rate_limit", times=5, endpoint="orders", echo_request=True)
    cli.run("api", *verbose, *ORDERS)  # exit 6 after the bound, 5 attempts
    cli.ok("exec", *verbose, "--", "sh", "-c", 'test -n "$SPAPI_ACCESS_TOKEN"')
    cli.ok("exec", *verbose, "--grantless", "notifications", "--", "true")
    cli.run("exec", *verbose, "--", "sh", "-c", "exit 3")
    cli.run("exec", *verbose, "-p", "nope", "--", "true")


def scenario(cli: Cli, seller: Seller, emulator: Emulator) -> dict[str, str]:
    """Drive every command through its success and failure paths; returns the secrets."""
    app = seller.app
    secrets = {"client secret": app.client_secret, "refresh token": seller.refresh_token}
    emulator.state.set_rate_limit("getOrders", rate=100, burst=20)
    emulator.state.add_orders(seller.account.selling_partner_id, 5)
    for verbose in ((), ("-v",)):
        api_and_exec(cli, emulator, verbose)
        cli.ok("token", *verbose)
        cli.ok("token", "--force-refresh", "--format", "json", *verbose)
        cli.ok("token", "--format", "header", *verbose)
        cli.ok("token", "--format", "env", *verbose)
        cli.ok("token", "--grantless", "notifications", *verbose)
        cli.ok("app", "list", *verbose)
        cli.ok("app", "show", "demo", *verbose)
        cli.run("status", *verbose)
        cli.run("status", "--check", "--json", *verbose)
        cli.run("doctor", "--offline", *verbose)
        emulator.inject("status", times=2, status=503)
        cli.ok("token", "--force-refresh", *verbose)  # retried, then fine
        emulator.inject("html", times=10, status=502)
        cli.run("token", "--force-refresh", *verbose)  # exit 6
        cli.run(
            "app",
            "set-secret",
            "demo",
            "--client-secret-stdin",
            *verbose,
            input="amzn1.oa2-cs.v1.wrong-secret-value",
        )  # exit 5
        # Pasting the wrong thing: an access token, a token with a space, garbage.
        cli.run("login", "--refresh-token-stdin", *verbose, input=f"{seller.refresh_token} x")
        access = cli.ok("token").stdout.strip()
        cli.run("login", "--refresh-token-stdin", *verbose, input=access)
        cli.run("token", "-p", "nope", *verbose)
    secrets["wrong secret"] = "amzn1.oa2-cs.v1.wrong-secret-value"

    # Rotation, a second profile, revocation, a rejected login, logout.
    new_secret = emulator.state.rotate_secret(app.client_id)
    secrets["rotated secret"] = new_secret
    cli.ok("app", "set-secret", "demo", "--client-secret-stdin", "-v", input=new_secret)
    second = login_self_authorized(cli, emulator, "-v", profile="second")
    secrets["second refresh token"] = second.refresh_token
    emulator.state.revoke(second.refresh_token)
    cli.run("api", "-p", "second", "-v", *ORDERS)  # refused token, then invalid_grant: exit 4
    cli.run("token", "-p", "second", "--force-refresh", "-v")  # exit 4
    cli.run("status", "--all", "-v")  # shows the failed refresh
    cli.run("status", "--all", "--check", "--json")
    revoked = emulator.state.self_authorize(app.client_id)
    emulator.state.revoke(revoked)
    secrets["revoked refresh token"] = revoked
    cli.run(
        "login", "--refresh-token-stdin", "-p", "third", "--marketplace", "JP", "-v", input=revoked
    )
    cli.ok("logout", "-p", "second", "-v")
    return secrets


def assert_nothing_leaked(cli: Cli, secrets: dict[str, str], access_tokens: list[str]) -> None:
    """No secret in any output, argv or file of the run; access tokens only on the stdout
    of `spconnect token` and in the access-token caches."""
    for result in cli.history:
        for name, value in secrets.items():
            assert value not in result.stdout, f"{name} in stdout of {result.args}"
            assert value not in result.stderr, f"{name} in stderr of {result.args}"
            assert value not in " ".join(result.args), f"{name} in argv of {result.args}"
        for token in access_tokens:
            assert token not in result.stderr, f"access token in stderr of {result.args}"
            if result.args[0] != "token":
                assert token not in result.stdout, f"access token in stdout of {result.args}"
        assert "Traceback" not in result.stderr

    for path in cli.files():
        data = path.read_bytes()
        for name, value in secrets.items():
            assert value.encode() not in data, f"{name} in {path}"
        if not (path.suffix == ".json" and path.parent.name in ("tokens", "grantless")):
            for token in access_tokens:
                assert token.encode() not in data, f"access token in {path}"


def test_no_secret_reaches_output_or_files(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    secrets = scenario(cli, seller, emulator)
    access_tokens = list(emulator.state.access_tokens)
    assert len(access_tokens) >= 8
    assert len(cli.history) >= 50  # the scenario really ran
    restricted = list(emulator.state.restricted_tokens)
    assert len(restricted) == 2  # api --rdt, with and without -v
    secrets |= {f"restricted data token {n}": rdt for n, rdt in enumerate(restricted)}

    assert_nothing_leaked(cli, secrets, access_tokens)


def test_no_command_takes_a_secret_as_an_argument(cli: Cli) -> None:
    commands = [
        ("app", "add"),
        ("app", "set-secret"),
        ("login",),
        ("token",),
        ("logout",),
        ("app", "show"),
        ("app", "remove"),
        ("app", "list"),
        ("api",),
        ("exec",),
        ("server", "add"),
        ("server", "list"),
        ("server", "remove"),
        ("invite", "create"),
        ("invite", "list"),
        ("invite", "pull"),
        ("invite", "revoke"),
    ]
    for command in commands:
        help_text = cli.ok(*command, "--help").stdout
        options = set(re.findall(r"--[a-z][a-z-]+", help_text))
        for option in options:
            if "secret" in option or "token" in option:
                # --secret-created takes a date, --force-refresh nothing: neither a secret.
                allowed = ("--force-refresh", "--secret-created")
                assert option.endswith("-stdin") or option in allowed, (command, option)


def test_consent_logins_leak_no_code_or_token(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    import httpx

    from tests.conftest import LoginProcess, add_app, amazon_redirect, free_port

    port = free_port()
    app = emulator.state.register_app("demo", redirect_uris=["https://you.example.com/cb"])
    add_app(cli, app, "--callback-port", str(port))
    account = emulator.state.add_account("Shop A")

    def relay(location: str) -> None:
        query = location.split("?", 1)[1]
        httpx.get(f"http://127.0.0.1:{port}/callback?{query}", timeout=10)

    # Listener login, verbose.
    login = LoginProcess(cli, "login", "--no-browser", "--marketplace", "US", "-v")
    relay(amazon_redirect(emulator, login.consent_url(), account))
    assert login.finish().returncode == 0
    # Paste login with a foreign paste first (carrying a real code), verbose, forced.
    login = LoginProcess(cli, "login", "--paste", "--no-browser", "--force", "-v")
    location = amazon_redirect(emulator, login.consent_url(), account)
    login.paste(location.replace("state=", "state=9"))
    login.paste(location)
    assert login.finish().returncode == 0
    # An expired code (exit 8), then a reauth.
    login = LoginProcess(cli, "reauth", "--no-browser", "-v")
    location = amazon_redirect(emulator, login.consent_url(), account)
    emulator.state.advance(301)
    relay(location)
    assert login.finish().returncode == 8
    login = LoginProcess(cli, "reauth", "--no-browser", "-v")
    relay(amazon_redirect(emulator, login.consent_url(), account))
    assert login.finish().returncode == 0
    cli.ok("token", "-v")

    codes = list(emulator.state.codes)
    refresh_tokens = list(emulator.state.refresh_tokens)
    access_tokens = list(emulator.state.access_tokens)
    assert len(codes) == 4 and len(refresh_tokens) >= 3
    secrets = [*codes, *refresh_tokens, app.client_secret]
    for result in cli.history:
        for value in secrets:
            assert value not in result.output, f"a secret in the output of {result.args}"
        for token in access_tokens:
            assert token not in result.stderr
            if result.args[0] != "token":
                assert token not in result.stdout
    for path in cli.files():
        data = path.read_bytes()
        for value in secrets:
            assert value.encode() not in data, f"a secret in {path}"


def test_invite_commands_leak_nothing(remote: Remote) -> None:
    """Issue 11: pairing, invites and pulls, with and without -v, through their success
    and failure paths; the admin token, the private key and every token Amazon issued
    stay out of all output and every file but the secret store (and the access-token
    cache, for access tokens)."""
    cli, state = remote.cli, remote.emulator.state
    wrong_token = "wrong-admin-token-" + "9" * 30
    remote.add_server("-v", token=wrong_token)  # exit 3
    assert remote.add_server("-v").returncode == 0
    remote.add_server("--yes", "-v")  # re-paired, key kept
    sellers = [state.add_account(f"Shop {n}") for n in range(4)]
    links = [remote.create(f"shop{n}", "--marketplace", "US", "-v") for n in range(3)]
    cli.ok("invite", "create", "-p", "shop3", "--marketplace", "DE", "--json", "-v")
    for link, seller in zip(links, sellers[:3], strict=True):
        remote.connect(link, seller)
    cli.ok("invite", "list", "-v")
    cli.ok("invite", "list", "--json", "-v")
    state.revoke(remote.refresh_token_of(sellers[1]))
    blob = remote.sealed(remote.invite_id(links[2]))
    assert blob is not None
    remote.set_sealed(remote.invite_id(links[2]), blob[:-3] + "AAA")
    cli.run("invite", "pull", "-v")  # one pulled, one exit 4, one does not open
    cli.run("invite", "pull")
    remote.set_sealed(remote.invite_id(links[2]), blob)
    assert cli.run("invite", "pull", "-v").returncode == 4  # shop2 pulled; shop1 still 4
    assert cli.run("invite", "pull", "-v").returncode == 4
    cli.ok("token", "-p", "shop0", "-v")
    cli.ok("token", "-p", "shop2", "--format", "json")
    cli.ok("server", "list", "-v")
    cli.run("server", "remove", "prod", "-v")  # refused without a terminal
    private_key = remote.keyring_value("server-key:prod")
    assert private_key is not None
    cli.ok("server", "remove", "prod", "--yes", "-v")

    secrets = {
        "admin token": remote.admin_token,
        "wrong admin token": wrong_token,
        "private key": private_key,
        "client secret": remote.app.client_secret,
        **{f"refresh token {n}": t for n, t in enumerate(state.refresh_tokens)},
        **{f"code {n}": code for n, code in enumerate(state.codes)},
    }
    assert len(state.refresh_tokens) == 3 and len(state.codes) == 3  # three sellers connected
    assert len(cli.history) >= 19  # the scenario ran (app add and every step above)
    assert_nothing_leaked(cli, secrets, list(state.access_tokens))


def _forms(value: str) -> list[str]:
    """A secret as sent and in the encodings an echo of the request may use."""
    import json
    from urllib.parse import quote, quote_plus

    return [value, quote(value, safe=""), quote(value), quote_plus(value), json.dumps(value)[1:-1]]


def test_an_error_body_echoing_the_request_leaks_nothing(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    """Issue 8 section 2: an error body that echoes the request URL-encoded
    (``Atzr%7C...``) was printed, kept in the refresh history and shown by every status."""
    for status, error, expected in (
        (400, "invalid_grant", 4),
        (400, "invalid_request", 1),
        (401, "invalid_client", 5),
    ):
        emulator.inject(
            "status", status=status, error=error, description="Bad request", echo_request=True
        )
        result = cli.run("token", "--force-refresh", "-v")
        assert result.returncode == expected, result.stderr
        assert "refresh_token=[REDACTED]" in result.stderr, result.stderr
        assert "client_secret=[REDACTED]" in result.stderr
        cli.run("status")
        cli.run("status", "--json")
        cli.run("status", "--all", "--check", "-v")
    secrets = {"refresh token": seller.refresh_token, "client secret": seller.app.client_secret}
    for result in cli.history:
        for name, value in secrets.items():
            for form in _forms(value):
                assert form not in result.output, f"{name} ({form[:8]}...) in {result.args}"
    history_file = cli.cache_dir / "state" / "default.json"
    assert history_file.exists()
    for path in cli.files():
        data = path.read_text(errors="replace")
        for name, value in secrets.items():
            for form in _forms(value):
                assert form not in data, f"{name} in {path}"


# Fake values of each secret shape (amazon.md section 1): never real secrets.
FAKE_CLIENT_SECRET = "amzn1.oa2-cs.v1." + "0f" * 32
FAKE_REFRESH_TOKEN = "Atzr|IwEBIFAKEFAKE-refresh" + "x" * 40
FAKE_ACCESS_TOKEN = "Atza|IwEBIFAKEFAKE-access" + "y" * 40


@pytest.mark.parametrize(
    ("args", "alternative"),
    [
        (("app", "set-secret", "demo", FAKE_CLIENT_SECRET), "--client-secret-stdin"),
        (("app", "add", "demo", "--client-id", FAKE_CLIENT_SECRET), "--client-secret-stdin"),
        (("login", "--refresh-token-stdin", FAKE_REFRESH_TOKEN), "--refresh-token-stdin"),
        (("login", "--marketplace", FAKE_REFRESH_TOKEN.replace("|", "%7C")), "--refresh-token"),
        (("token", "--format", FAKE_ACCESS_TOKEN), "--refresh-token-stdin"),
        (("token", f"--format={FAKE_ACCESS_TOKEN}"), "--refresh-token-stdin"),
        (("token", "-p", FAKE_ACCESS_TOKEN), "--refresh-token-stdin"),
        # A client secret is also a valid profile name: the token fast path must not
        # take it for one.
        (("token", "-p", FAKE_CLIENT_SECRET), "--client-secret-stdin"),
        (("status", "--json", f"--profile={FAKE_CLIENT_SECRET}"), "--client-secret-stdin"),
    ],
)
def test_secret_shaped_arguments_are_refused_without_echo(
    cli: Cli, args: tuple[str, ...], alternative: str
) -> None:
    """Issue 8 section 2: usage errors echoed secret-shaped arguments in full. The one
    test that puts secret-shaped values in spconnect's argv, to prove they are refused."""
    result = cli.run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "never taken as command-line arguments" in result.stderr
    assert alternative in result.stderr
    for fake in (FAKE_CLIENT_SECRET, FAKE_REFRESH_TOKEN, FAKE_ACCESS_TOKEN):
        body = fake.split("|", 1)[-1][5:]  # past the prefix and the 'IwEBI'
        assert body[:12] not in result.stderr
    assert "0f0f0f0f" not in result.stderr
    assert not cli.config_dir.exists()  # refused before anything was read or written

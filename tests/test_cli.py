"""The commands of the foundation, run as real subprocesses against the emulator and the
real Secret Service: app, login --refresh-token-stdin, token, logout, exit codes."""

from __future__ import annotations

import json
import time

import keyring
import pytest
import tomllib

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import Cli, Seller, add_app, login_self_authorized, run_app_add

pytestmark = pytest.mark.keyring


def config(cli: Cli) -> dict[str, object]:
    return tomllib.loads((cli.config_dir / "config.toml").read_text())


def test_version(cli: Cli) -> None:
    from spconnect import __version__

    assert cli.ok("--version").stdout == f"spconnect {__version__}\n"


def test_app_add_stores_secret_in_the_keyring_and_ids_in_config(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("demo")
    result = add_app(cli, app, "--published", "--vendor", "--callback-port", "50000")
    assert "Secret Service" in result.stderr
    stored = keyring.get_password(cli.keyring_service, "app:demo")
    assert stored == app.client_secret
    entry = config(cli)["apps"]["demo"]  # type: ignore[index]
    assert entry["client_id"] == app.client_id and entry["app_id"] == app.app_id
    assert entry["draft"] is False and entry["kind"] == "vendor"
    assert entry["callback_port"] == 50000
    assert str(entry["secret_set_at"]) == time.strftime("%Y-%m-%d", time.gmtime())
    assert app.client_secret not in (cli.config_dir / "config.toml").read_text()


def test_app_add_twice_is_refused(cli: Cli, emulator: Emulator, secret_service: None) -> None:
    app = emulator.state.register_app("demo")
    add_app(cli, app)
    result = run_app_add(cli, app, secret="amzn1.oa2-cs.v1.x")
    assert result.returncode == ExitCode.USAGE
    assert "already exists" in result.stderr


def test_app_add_without_secret_and_without_terminal_names_the_flag(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("demo")
    result = cli.run(
        "app",
        "add",
        "demo",
        "--client-id",
        app.client_id,
        "--app-id",
        app.app_id,
        "--redirect-uri",
        app.redirect_uris[0],
    )
    assert result.returncode == ExitCode.USAGE
    assert "--client-secret-stdin" in result.stderr
    assert not (cli.config_dir / "config.toml").exists()


def test_app_add_refuses_http_redirect_uri(cli: Cli, emulator: Emulator) -> None:
    app = emulator.state.register_app("demo")
    result = cli.run(
        "app",
        "add",
        "demo",
        "--client-id",
        app.client_id,
        "--app-id",
        app.app_id,
        "--redirect-uri",
        "http://127.0.0.1:8000/cb",
    )
    assert result.returncode == ExitCode.USAGE
    assert "--redirect-uri" in result.stderr and "https" in result.stderr


def test_app_list_and_show(cli: Cli, seller: Seller) -> None:
    listing = cli.ok("app", "list").stdout
    assert listing.split("\t")[:3] == ["demo", "seller", "draft"]
    shown = cli.ok("app", "show", "demo").stdout
    assert "stored in Secret Service" in shown
    assert "180 days before the 180-day rotation" in shown
    assert "profiles         default" in shown
    assert seller.app.client_secret not in shown


def test_unknown_app_is_exit_3(cli: Cli) -> None:
    result = cli.run("app", "show", "nope")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert "no app named 'nope'" in result.stderr


def test_login_with_self_authorized_token(cli: Cli, seller: Seller) -> None:
    assert keyring.get_password(cli.keyring_service, "profile:default") == seller.refresh_token
    profile = config(cli)["profiles"]["default"]  # type: ignore[index]
    assert profile["app"] == "demo" and profile["region"] == "na"
    assert profile["marketplace"] == "ATVPDKIKX0DER"
    assert "selling_partner_id" not in profile  # unknown for self-authorized tokens
    login = cli.history[-1]
    assert "Selling partner id: unknown" in login.stderr


def test_login_with_a_revoked_token_stores_nothing(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("demo")
    add_app(cli, app)
    token = emulator.state.self_authorize(app.client_id)
    emulator.state.revoke(token)
    result = cli.run("login", "--refresh-token-stdin", "--marketplace", "DE", input=token)
    assert result.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "generate a new one" in result.stderr
    assert keyring.get_password(cli.keyring_service, "profile:default") is None
    assert config(cli).get("profiles", {}) == {}
    assert not (cli.cache_dir / "tokens" / "default.json").exists()


def test_login_needs_a_marketplace_for_a_new_profile(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("demo")
    add_app(cli, app)
    result = cli.run("login", "--refresh-token-stdin", input="Atzr|abc")
    assert result.returncode == ExitCode.USAGE
    assert "--marketplace" in result.stderr


def test_login_strips_quotes_and_checks_shape(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("demo")
    add_app(cli, app)
    bad = cli.run("login", "--refresh-token-stdin", "--marketplace", "US", input="Atza|nope")
    assert bad.returncode == ExitCode.USAGE and "access token" in bad.stderr
    token = emulator.state.self_authorize(app.client_id)
    cli.ok("login", "--refresh-token-stdin", "--marketplace", "uk", input=f' "{token}" \n')
    assert keyring.get_password(cli.keyring_service, "profile:default") == token
    assert config(cli)["profiles"]["default"]["region"] == "eu"  # type: ignore[index]


def test_login_without_app_is_exit_3(cli: Cli, secret_service: None) -> None:
    result = cli.run("login", "--refresh-token-stdin", "--marketplace", "US", input="Atzr|x")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert "spconnect app add" in result.stderr


def test_login_with_several_apps_needs_app_flag(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    a, b = emulator.state.register_app("a"), emulator.state.register_app("b")
    add_app(cli, a, name="a")
    add_app(cli, b, name="b")
    result = cli.run("login", "--refresh-token-stdin", "--marketplace", "US", input="Atzr|x")
    assert result.returncode == ExitCode.USAGE and "--app" in result.stderr
    token = emulator.state.self_authorize(b.client_id)
    cli.ok(
        "login",
        "--refresh-token-stdin",
        "--marketplace",
        "US",
        "--app",
        "b",
        "-p",
        "pb",
        input=token,
    )
    assert config(cli)["profiles"]["pb"]["app"] == "b"  # type: ignore[index]


def test_login_refuses_to_replace_a_known_selling_partner_without_force(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    # A browser login (next issue) records the selling partner id; simulate one on disk.
    path = cli.config_dir / "config.toml"
    path.write_text(
        path.read_text().replace(
            'region = "na"', 'region = "na"\nselling_partner_id = "A1KNOWN0001"'
        )
    )
    token = emulator.state.self_authorize(seller.app.client_id)
    refused = cli.run("login", "--refresh-token-stdin", input=token)
    assert refused.returncode == ExitCode.USAGE and "--yes" in refused.stderr  # issue 9, item 12
    assert keyring.get_password(cli.keyring_service, "profile:default") == seller.refresh_token
    cli.ok("login", "--refresh-token-stdin", "--force", input=token)  # --force: same as --yes
    assert keyring.get_password(cli.keyring_service, "profile:default") == token


@pytest.mark.parametrize("fmt", ["raw", "header", "json", "env"])
def test_token_formats(cli: Cli, seller: Seller, fmt: str) -> None:
    out = cli.ok("token", "--format", fmt).stdout
    token = cli.ok("token").stdout.strip()
    assert token.startswith("Atza|")
    if fmt == "raw":
        assert out == token + "\n"
    elif fmt == "header":
        assert out == f"x-amz-access-token: {token}\n"
    elif fmt == "json":
        doc = json.loads(out)
        assert doc["access_token"] == token
        assert doc["profile"] == "default" and doc["region"] == "na"
        # The emulator replaces the regional endpoint (SPCONNECT_SPAPI_URL), as a proxy would.
        assert doc["endpoint"] == cli.env["SPCONNECT_SPAPI_URL"]
        assert doc["selling_partner_id"] is None
        assert 3500 < doc["expires_in"] <= 3600
        assert doc["expires_at"].endswith("Z")
    else:
        assert out.splitlines() == [
            f"export SPAPI_ACCESS_TOKEN='{token}'",
            f"export SPAPI_ENDPOINT='{cli.env['SPCONNECT_SPAPI_URL']}'",
            "export SPAPI_REGION='na'",
            "export SPAPI_SELLING_PARTNER_ID=''",
        ]


def test_token_env_format_evaluates_in_a_shell(cli: Cli, seller: Seller) -> None:
    import subprocess

    exports = cli.ok("token", "--format", "env").stdout
    shell = subprocess.run(
        ["sh", "-c", exports + 'printf %s "$SPAPI_ACCESS_TOKEN"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == cli.ok("token").stdout.strip()


def test_token_is_cached_and_force_refresh_asks_amazon(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    first = cli.ok("token").stdout
    assert cli.ok("token").stdout == first
    assert emulator.count("refresh_token") == 1  # the login's proof; then the cache
    forced = cli.ok("token", "--force-refresh").stdout
    assert forced != first
    assert emulator.count("refresh_token") == 2
    assert cli.ok("token").stdout == forced


def test_min_ttl_within_the_cached_lifetime_uses_the_cache(cli: Cli, seller: Seller) -> None:
    first = cli.ok("token").stdout
    assert cli.ok("token", "--min-ttl", "3000").stdout == first


@pytest.mark.parametrize("value", ["3601", "-1", "soon"])
def test_min_ttl_out_of_range_is_exit_2(cli: Cli, seller: Seller, value: str) -> None:
    result = cli.run("token", "--min-ttl", value)
    assert result.returncode == ExitCode.USAGE
    assert "--min-ttl" in result.stderr


def test_min_ttl_beyond_the_cached_lifetime_triggers_one_refresh(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    emulator.state.access_token_lifetime = 3600
    cache_file = cli.cache_dir / "tokens" / "default.json"
    entry = json.loads(cache_file.read_text())
    entry["expires_at"] = time.time() + 1000  # as if obtained 43 minutes ago
    entry["refresh_at"] = entry["expires_at"] - 300
    cache_file.write_text(json.dumps(entry))
    before = emulator.count("refresh_token")
    assert cli.ok("token", "--min-ttl", "900").stdout.strip() == entry["access_token"]
    assert emulator.count("refresh_token") == before
    fresh = cli.ok("token", "--min-ttl", "1200").stdout.strip()
    assert fresh != entry["access_token"]
    assert emulator.count("refresh_token") == before + 1


def test_grantless_tokens(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    note = cli.ok("token", "--grantless", "notifications").stdout.strip()
    rotation = cli.ok("token", "--grantless", "rotation", "--format", "json").stdout
    assert note.startswith("Atza|")
    assert json.loads(rotation)["access_token"] != note
    assert cli.ok("token", "--grantless", "notifications").stdout.strip() == note  # cached
    assert emulator.count("client_credentials") == 2
    bad = cli.run("token", "--grantless", "migration")
    assert bad.returncode == ExitCode.USAGE


def test_token_for_unknown_profile_is_exit_3(cli: Cli, seller: Seller) -> None:
    result = cli.run("token", "-p", "nope")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert result.stderr.strip().endswith("run `spconnect login -p nope`")


def test_profile_from_environment(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    login_self_authorized(cli, emulator, profile="second")
    second = cli.ok("token", env={"SPCONNECT_PROFILE": "second"}).stdout
    assert second == cli.ok("token", "-p", "second").stdout
    assert second != cli.ok("token").stdout


def test_revoked_authorization_is_exit_4_naming_reauth(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    emulator.state.revoke(seller.refresh_token)
    result = cli.run("token", "--force-refresh")
    assert result.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert result.stderr.strip().endswith("`spconnect reauth -p default`")
    # The refresh token is kept: only the seller can fix this, and nothing is deleted.
    assert keyring.get_password(cli.keyring_service, "profile:default") == seller.refresh_token


def test_rejected_client_secret_is_exit_5(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    emulator.state.rotate_secret(seller.app.client_id)
    emulator.state.expire_old_secrets(seller.app.client_id)
    result = cli.run("token", "--force-refresh")
    assert result.returncode == ExitCode.CLIENT_REJECTED
    assert "`spconnect app set-secret demo`" in result.stderr


def test_amazon_down_is_exit_6(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    emulator.inject("status", times=20, status=503)
    result = cli.run("token", "--force-refresh")
    assert result.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert "HTTP 503" in result.stderr and "request id" in result.stderr


def test_set_secret_rotation_is_proven_and_rewrites_the_cache(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    old_token = cli.ok("token").stdout
    new_secret = emulator.state.rotate_secret(seller.app.client_id)
    emulator.state.expire_old_secrets(seller.app.client_id)
    result = cli.ok("app", "set-secret", "demo", "--client-secret-stdin", input=new_secret)
    assert "Amazon accepted the new secret" in result.stderr
    assert keyring.get_password(cli.keyring_service, "app:demo") == new_secret
    assert cli.ok("token").stdout != old_token  # the cache was rewritten in the same step
    assert cli.ok("token", "--force-refresh").returncode == 0


def test_set_secret_with_a_wrong_secret_keeps_the_old_one(cli: Cli, seller: Seller) -> None:
    result = cli.run(
        "app", "set-secret", "demo", "--client-secret-stdin", input="amzn1.oa2-cs.v1.notright"
    )
    assert result.returncode == ExitCode.CLIENT_REJECTED
    assert keyring.get_password(cli.keyring_service, "app:demo") == seller.app.client_secret
    cli.ok("token", "--force-refresh")


def test_logout_removes_secret_cache_and_profile_and_explains(cli: Cli, seller: Seller) -> None:
    cli.ok("token")
    result = cli.ok("logout")
    assert "Manage Your Apps" in result.stderr
    assert keyring.get_password(cli.keyring_service, "profile:default") is None
    assert not (cli.cache_dir / "tokens" / "default.json").exists()
    assert "default" not in config(cli).get("profiles", {})  # type: ignore[operator]
    assert cli.run("token").returncode == ExitCode.NOT_SET_UP
    assert keyring.get_password(cli.keyring_service, "app:demo") is not None  # app stays


def test_logout_all(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    login_self_authorized(cli, emulator, profile="eu")
    cli.ok("logout", "--all", "--yes")  # without a terminal to ask on (issue 9, item 12)
    assert keyring.get_password(cli.keyring_service, "profile:default") is None
    assert keyring.get_password(cli.keyring_service, "profile:eu") is None
    assert config(cli).get("profiles", {}) == {}


def test_logout_unknown_profile_is_exit_3(cli: Cli, seller: Seller) -> None:
    assert cli.run("logout", "-p", "nope").returncode == ExitCode.NOT_SET_UP


def test_app_remove_deletes_secret_and_invalidates_profile_caches(cli: Cli, seller: Seller) -> None:
    cli.ok("token")
    result = cli.ok("app", "remove", "demo", "--yes")
    assert "Profiles default used it" in result.stderr
    assert keyring.get_password(cli.keyring_service, "app:demo") is None
    assert not (cli.cache_dir / "tokens" / "default.json").exists()
    token = cli.run("token")
    assert token.returncode == ExitCode.NOT_SET_UP and "no app named 'demo'" in token.stderr


def test_unknown_flag_is_exit_2_without_traceback(cli: Cli) -> None:
    result = cli.run("token", "--formatt", "raw")
    assert result.returncode == ExitCode.USAGE
    assert "Traceback" not in result.output


def test_usage_errors_go_through_the_display_filter(cli: Cli) -> None:
    """Click echoes a bad value in its usage error; it reached the terminal raw (issue 8,
    section 5): escape sequences that retitle the window, clear the screen, reorder text."""
    for args in (
        ("app", "show", "demo", "extra\x1b]0;pwned\x07\x1b[2J\u202etxt.exe\r"),
        ("token", "--format", "\x1b]0;pwned\x07\u202eraw"),
    ):
        result = cli.run(*args)
        assert result.returncode == ExitCode.USAGE
        assert f"Try 'spconnect {args[0]}" in result.stderr
        for char in ("\x1b", "\x07", "\u202e", "\r"):
            assert char not in result.output, (args, char)


def test_no_arguments_still_prints_help_with_exit_2(cli: Cli) -> None:
    result = cli.run()
    assert result.returncode == ExitCode.USAGE
    assert "Usage: spconnect" in result.stdout


def test_say_strips_control_characters_and_keeps_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from spconnect.cli.common import say

    say("first\x1b[31m line\x1b[0m\nsecond\u202e line\x9b")
    assert capsys.readouterr().err == "first line\nsecond line\n"


@pytest.mark.parametrize(
    ("token", "fmt", "problem"),
    [
        ("", "raw", "its access token is empty"),
        ("Atza|IwEBIabc\r\nX-Injected: yes", "header", "control"),
        ("Atza|IwEBIabc\x1b]0;pwned\x07", "env", "control"),
    ],
)
def test_an_unusable_access_token_is_exit_6_and_never_printed(
    cli: Cli, seller: Seller, emulator: Emulator, token: str, fmt: str, problem: str
) -> None:
    """`access_token: ""` was printed with exit 0; a token with CR/LF was written into
    `--format header` (issue 8, section 5)."""
    emulator.inject("grant", patch={"access_token": token})
    result = cli.run("token", "--force-refresh", "--format", fmt)
    assert result.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert result.stdout == ""
    assert problem in result.stderr and "nothing was printed or stored" in result.stderr
    assert "X-Injected" not in result.output and "\x1b" not in result.output


def test_an_html_403_from_a_proxy_is_exit_6_with_its_first_line(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    page = "<html><head><title>403 Forbidden - Blocked by Proxy</title></head><body>...</body>"
    emulator.inject("html", status=403, body=page)
    result = cli.run("token", "--force-refresh")
    assert result.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert "HTTP 403" in result.stderr and "403 Forbidden - Blocked by Proxy" in result.stderr
    assert "likely a bug" not in result.stderr


def test_control_characters_from_amazon_never_reach_the_terminal_or_status(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    """ESC and other controls in error_description reached the terminal raw, and were
    stored in the refresh history that every `status` shows again."""
    hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[31mrevoked\x1b[0m\r\u202eyb dezirohtua"
    emulator.inject("status", status=400, error="invalid_grant", description=hostile)
    result = cli.run("token", "--force-refresh")
    assert result.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "revoked" in result.stderr
    shown = [result, cli.run("status"), cli.run("status", "--json"), cli.run("status", "-v")]
    assert "revoked" in shown[1].stdout
    for run in shown:
        for char in ("\x1b", "\x07", "\r", "\u202e"):
            assert char not in run.output, (run.args, char)


def _plant_history(cli: Cli, message: str) -> None:
    """A refresh history as an older spconnect wrote it (or as someone edited it)."""
    path = cli.cache_dir / "state" / "default.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"at": time.time(), "ok": False, "exit_code": 4, "message": message}
    path.write_text(json.dumps({**record, "clock_skew": None}))


HOSTILE_STORED = (
    "Amazon rejected the authorization \x1b]0;pwned\x07\x1b[2J\x1b[31m(invalid_grant: echo "
    "refresh_token=Atzr%7CIwEBIold-leaked-token&x=[link=https://evil.example]here[/link])"
    "\u202e\r\nsecond"
)


def test_status_shows_a_stored_message_safely(cli: Cli, seller: Seller) -> None:
    _plant_history(cli, HOSTILE_STORED)
    for args in (("status",), ("status", "--json"), ("status", "--all", "-v")):
        result = cli.run(*args)
        assert result.returncode == ExitCode.AUTHORIZATION_REJECTED
        assert "Amazon rejected the authorization" in result.stdout
        assert "IwEBIold-leaked-token" not in result.output, args
        for char in ("\x1b", "\x07", "\u202e", "\r"):
            assert char not in result.output, (args, char)
        if "--json" in args:
            message = json.loads(result.stdout)["profiles"][0]["last_refresh"]["message"]
            assert "\\u001b" not in result.stdout and "[REDACTED]" in message


def test_status_on_a_terminal_escapes_markup_in_stored_text(cli: Cli, seller: Seller) -> None:
    """On a terminal status renders with Rich, where '[link=...]' in a stored message
    would become a hyperlink and other markup would style the text."""
    import os
    import pty
    import subprocess

    from tests.conftest import CONSOLE_SCRIPT

    _plant_history(cli, HOSTILE_STORED)
    env = {k: v for k, v in cli.env.items() if k != "NO_COLOR"}
    primary, secondary = pty.openpty()
    process = subprocess.run(
        [CONSOLE_SCRIPT, "status"], stdout=secondary, stderr=secondary, env=env, timeout=60
    )
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    text = shown.decode(errors="replace")
    assert process.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "Amazon rejected" in text and "here" in text
    assert "\x1b]8;" not in text  # no hyperlink was made
    assert "\x1b]0;" not in text and "\u202e" not in text and "IwEBIold-leaked" not in text

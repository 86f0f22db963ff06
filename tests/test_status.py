"""``spconnect status`` and ``status --check`` against the emulator and the real keyring."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import tomllib

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import CONSOLE_SCRIPT, Cli, Seller, add_app, free_port, login_self_authorized

pytestmark = pytest.mark.keyring


def edit_config(cli: Cli, change: object) -> None:
    path = cli.config_dir / "config.toml"
    config = tomllib.loads(path.read_text())
    change(config)  # type: ignore[operator]
    path.write_text(tomli_w.dumps(config))


def days_ago(days: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=days)


def status_json(cli: Cli, *args: str) -> tuple[int, dict[str, object]]:
    result = cli.run("status", "--json", *args)
    return result.returncode, json.loads(result.stdout)


def test_healthy_profile_is_exit_0_with_every_row(cli: Cli, seller: Seller) -> None:
    result = cli.run("status")
    assert result.returncode == 0, result.output
    for row in (
        "app             demo (seller)",
        "region          na, consent through United States (US, ATVPDKIKX0DER)",
        "selling partner unknown (self-authorized tokens do not carry it",
        "storage         Secret Service (secure)",
        "access token    valid until",
        "authorization   self-authorized 20",
        "no renewal deadline for private apps",
        "180-day rotation due",
        "(180 days left)",
        "last refresh",
        ": ok",
    ):
        assert row in result.stdout, row
    assert "error:" not in result.stdout and "warning:" not in result.stdout


def test_json_document_follows_the_documented_schema(cli: Cli, seller: Seller) -> None:
    code, doc = status_json(cli)
    assert code == 0
    assert doc["schema"] == 1 and doc["ok"] is True and doc["exit_code"] == 0
    assert doc["problems"] == []
    assert doc["default_profile"] == {"name": "default", "source": "builtin", "logged_in": True}
    profile = doc["profiles"][0]  # type: ignore[index]
    assert set(profile) == {
        "profile",
        "default",
        "app",
        "kind",
        "region",
        "marketplace",
        "selling_partner_id",
        "sandbox",
        "storage",
        "refresh_token_stored",
        "access_token",
        "authorization",
        "client_secret",
        "last_refresh",
        "problems",
    }
    assert profile["storage"] == {"backend": "Secret Service", "secure": True}
    # The fixture's profile is self-authorized: no documented renewal deadline.
    assert profile["authorization"]["self_authorized"] is True
    assert profile["authorization"]["days_left"] is None
    assert profile["client_secret"]["days_left"] == 180
    assert profile["last_refresh"]["ok"] is True
    documented = Path(__file__).parent.parent.joinpath("docs", "status-json.md").read_text()
    for key in [*profile, *doc]:
        assert f"`{key}`" in documented, f"{key} is not documented"


def consented(seller: Seller, days: int) -> Callable[[dict[str, Any]], None]:
    """Make the profile one authorized through the consent page ``days`` ago."""
    return lambda c: c["profiles"]["default"].update(
        authorized_at=days_ago(days),
        self_authorized=False,
        selling_partner_id=seller.account.selling_partner_id,
    )


def test_authorization_350_days_old_warns_with_the_renewal_command(
    cli: Cli, seller: Seller
) -> None:
    edit_config(cli, consented(seller, 350))
    result = cli.run("status")
    assert result.returncode == 0  # a near deadline is a warning, not a failure
    assert "warning: the yearly authorization renewal is due in 15 days" in result.stdout
    assert "-> spconnect reauth -p default" in result.stdout
    code, doc = status_json(cli)
    assert code == 0 and doc["problems"][0]["severity"] == "warning"  # type: ignore[index]


def test_authorization_past_its_renewal_is_exit_4(cli: Cli, seller: Seller) -> None:
    edit_config(cli, consented(seller, 370))
    code, doc = status_json(cli)
    assert code == ExitCode.AUTHORIZATION_REJECTED and doc["exit_code"] == 4
    problem = doc["problems"][0]  # type: ignore[index]
    assert "5 days past its yearly renewal" in problem["message"]
    assert problem["fix"] == "spconnect reauth -p default"


def test_client_secret_170_days_old_warns_with_the_rotation_command(
    cli: Cli, seller: Seller
) -> None:
    edit_config(cli, lambda c: c["apps"]["demo"].update(secret_set_at=days_ago(170).date()))
    result = cli.run("status")
    assert result.returncode == 0
    assert "the client secret of app 'demo' must be rotated in 10 days" in result.stdout
    assert "spconnect app set-secret demo" in result.stdout


def test_client_secret_past_its_rotation_is_exit_5(cli: Cli, seller: Seller) -> None:
    edit_config(cli, lambda c: c["apps"]["demo"].update(secret_set_at=days_ago(200).date()))
    code, doc = status_json(cli)
    assert code == ExitCode.CLIENT_REJECTED
    assert "spconnect app set-secret demo" in doc["problems"][0]["fix"]  # type: ignore[index]


def test_revoked_token_check_is_exit_4_naming_reauth(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    edit_config(cli, consented(seller, 10))
    emulator.state.revoke(seller.refresh_token)
    cli.ok("token")  # the cached token still works until it expires...
    (cli.cache_dir / "tokens" / "default.json").unlink()  # ...so make it need a refresh
    result = cli.run("status", "--check")
    assert result.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "-> spconnect reauth -p default" in result.stdout
    # Without --check, status remembers the failed refresh.
    again = cli.run("status")
    assert again.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "the last token refresh failed" in again.stdout
    assert "failed (exit 4)" in again.stdout


def test_unreachable_lwa_is_exit_6(cli: Cli, seller: Seller) -> None:
    (cli.cache_dir / "tokens" / "default.json").unlink()
    closed = f"http://127.0.0.1:{free_port()}/auth/o2/token"
    result = cli.run("status", "--check", env={"SPCONNECT_LWA_URL": closed})
    assert result.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert "unreachable" in result.stdout


def test_insecure_backend_is_exit_7(cli: Cli, seller: Seller) -> None:
    result = cli.run("status", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE
    assert "no secure secret storage" in result.stdout and "spconnect doctor" in result.stdout


def test_missing_refresh_token_is_exit_3(cli: Cli, seller: Seller) -> None:
    import keyring

    keyring.delete_password(cli.keyring_service, "profile:default")
    code, doc = status_json(cli)
    assert code == ExitCode.NOT_SET_UP
    assert doc["problems"][0]["fix"] == "spconnect login -p default"  # type: ignore[index]


def test_check_lists_marketplaces_and_caches_the_answer(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    account = emulator.state.accounts[next(iter(emulator.state.accounts))]
    account.marketplace_ids = ["ATVPDKIKX0DER", "A1AM78C64UM0Y8"]
    emulator.state.suspended_listings.add("A1AM78C64UM0Y8")
    # The self-authorized token belongs to this account in the emulator.
    emulator.state.refresh_tokens[
        seller.refresh_token
    ].selling_partner_id = account.selling_partner_id
    (cli.cache_dir / "tokens" / "default.json").unlink()
    code, doc = status_json(cli, "--check")
    assert code == 0, doc
    markets = doc["profiles"][0]["check"]["marketplaces"]  # type: ignore[index]
    assert [m["marketplace_id"] for m in markets] == ["ATVPDKIKX0DER", "A1AM78C64UM0Y8"]
    assert markets[1]["suspended_listings"] is True and markets[0]["currency"] == "USD"
    assert markets[0]["store_name"] == account.name
    plain = cli.run("status", "--check").stdout
    assert "Amazon.com.mx A1AM78C64UM0Y8 MX MXN (participating, suspended listings)" in plain
    assert "marketplaces from" in plain
    assert emulator.count("sellers_api") == 1  # the second call used the cached answer


def test_sellers_api_throttling_and_403_are_explained(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    account = next(iter(emulator.state.accounts.values()))
    emulator.state.refresh_tokens[
        seller.refresh_token
    ].selling_partner_id = account.selling_partner_id
    emulator.state.sellers_burst = 0
    (cli.cache_dir / "tokens" / "default.json").unlink()
    throttled = cli.run("status", "--check")
    assert throttled.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert "throttled the call (429)" in throttled.stdout
    emulator.state.sellers_burst = 15
    emulator.state.sellers_buckets.clear()
    emulator.state.sellers_denied.add(account.selling_partner_id)
    denied = cli.run("status", "--check")
    assert denied.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "refused the token (403)" in denied.stdout and "request id" in denied.stdout
    assert "role" in denied.stdout and "region" in denied.stdout


def test_vendor_profiles_skip_the_sellers_api(
    cli: Cli, emulator: Emulator, secret_service: None
) -> None:
    app = emulator.state.register_app("vend", kind="vendor")
    add_app(cli, app, "--vendor", name="vend")
    login_self_authorized(cli, emulator, app_name="vend")
    result = cli.run("status", "--check")
    assert result.returncode == 0, result.output
    assert "vendor tokens cannot call the Sellers API" in result.stdout
    assert emulator.count("sellers_api") == 0


def test_all_profiles_and_unknown_profile(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    login_self_authorized(cli, emulator, profile="eu")
    code, doc = status_json(cli, "--all")
    assert code == 0
    assert [p["profile"] for p in doc["profiles"]] == ["default", "eu"]  # type: ignore[index]
    unknown = cli.run("status", "-p", "nope")
    assert unknown.returncode == ExitCode.NOT_SET_UP
    assert "default, eu" in unknown.stderr and "--all" in unknown.stderr


def test_status_on_a_terminal_is_a_table(cli: Cli, seller: Seller) -> None:
    from tests.test_wizard import Terminal

    env = {k: v for k, v in cli.env.items() if k != "NO_COLOR"}
    terminal = Terminal([CONSOLE_SCRIPT, "status"], env)
    code = terminal.close()
    assert code == 0
    text = terminal.text()
    assert "profile default" in text and "│" in text  # Rich's table borders


def test_a_self_authorized_profile_has_no_deadline_from_a_date(cli: Cli, seller: Seller) -> None:
    """amazon.md section 6: the 365-day renewal is documented for public apps only."""
    edit_config(cli, lambda c: c["profiles"]["default"].update(authorized_at=days_ago(370)))
    result = cli.run("status")
    assert result.returncode == 0, result.stdout
    assert "no renewal deadline for private apps" in result.stdout
    assert "Manage Your Apps" in result.stdout and "reauth" not in result.stdout
    code, doc = status_json(cli)
    authorization = doc["profiles"][0]["authorization"]  # type: ignore[index]
    assert code == 0 and authorization["self_authorized"] is True
    assert authorization["due"] is None and authorization["days_left"] is None


def test_a_revoked_self_authorized_token_points_to_seller_central(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    emulator.state.revoke(seller.refresh_token)
    (cli.cache_dir / "tokens" / "default.json").unlink()  # the check must refresh
    result = cli.run("status", "--check")
    assert result.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "Develop Apps > Authorize app" in result.stdout
    assert "spconnect login -p default --refresh-token-stdin" in result.stdout
    assert "spconnect reauth" not in result.stdout


def test_a_mistyped_profile_suggests_the_close_one(cli: Cli, seller: Seller) -> None:
    result = cli.run("status", "-p", "defualt")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "error: profile 'defualt' is not logged in; did you mean 'default'? "
        "(profiles: default; --all shows them)"
    )
    assert lines[1].startswith("use `-p default`")
    far = cli.run("status", "-p", "production")
    assert far.returncode == ExitCode.NOT_SET_UP and "did you mean" not in far.stderr
    assert "spconnect login -p production" in far.stderr


@pytest.mark.parametrize("args", [(), ("--all",)])
def test_json_without_any_profile_is_the_document_with_an_empty_list(
    cli: Cli, args: tuple[str, ...]
) -> None:
    code, doc = status_json(cli, *args)
    assert code == ExitCode.NOT_SET_UP
    assert doc["profiles"] == [] and doc["ok"] is False and doc["exit_code"] == code
    [problem] = doc["problems"]  # type: ignore[misc]
    assert problem["severity"] == "error" and problem["exit_code"] == code
    assert problem["profile"] == (None if args else "default")
    assert "spconnect login" in problem["fix"]
    assert doc["default_profile"] == {"name": "default", "source": "builtin", "logged_in": False}


def test_json_for_an_unknown_profile_names_it(cli: Cli, seller: Seller) -> None:
    code, doc = status_json(cli, "-p", "defualt")
    assert code == ExitCode.NOT_SET_UP and doc["profiles"] == []
    [problem] = doc["problems"]  # type: ignore[misc]
    assert problem["profile"] == "defualt" and "did you mean 'default'?" in problem["message"]


def test_a_mistyped_config_key_is_the_same_error_for_status_and_token(
    cli: Cli, seller: Seller
) -> None:
    """One validation for every command (store/config.py); the token fast path, which
    never reads the config, serves a fresh cached token, and the next refresh says it."""
    path = cli.config_dir / "config.toml"
    path.write_text(
        path.read_text().replace("[profiles.default]", "[profiles.default]\nregoin = 1")
    )
    (cli.cache_dir / "tokens" / "default.json").unlink()
    errors = []
    for args in (("status",), ("token",), ("token", "--force-refresh", "-v")):
        result = cli.run(*args)
        assert result.returncode == ExitCode.USAGE, (args, result.output)
        assert result.stdout == ""
        errors.append([line for line in result.stderr.splitlines() if "regoin" in line])
    assert errors[0] == errors[1] == errors[2]
    assert errors[0] and "profiles.default.regoin" in errors[0][0]

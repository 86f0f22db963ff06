"""Secrets from the environment (issue 9, "CI and headless"): per-profile refresh token
variables, and zero-config mode, where four variables and no config file or keyring are
enough for ``spconnect token``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib

from spconnect.emulator import Emulator
from spconnect.emulator.state import EmulatedApp
from spconnect.errors import ExitCode
from spconnect.store import envvars
from tests.conftest import Cli

NO_KEYRING_RC = "[backend]\ndefault-keyring = keyring.backends.fail.Keyring\n"


@pytest.fixture
def no_keyring(cli: Cli, tmp_path: Path) -> dict[str, str]:
    """No keyring at all: keyring's own "fail" backend, and no D-Bus session."""
    home = tmp_path / "xdg"
    (home / "python_keyring").mkdir(parents=True)
    (home / "python_keyring" / "keyringrc.cfg").write_text(NO_KEYRING_RC)
    cli.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return {"XDG_CONFIG_HOME": str(home)}


def zero_config_env(
    emulator: Emulator, no_keyring: dict[str, str], region: str
) -> tuple[EmulatedApp, str, dict[str, str]]:
    """An app, a self-authorized refresh token, and the four variables of zero-config
    mode (with no keyring at all) that describe them."""
    app = emulator.state.register_app("ci")
    shop = emulator.state.self_authorize(app.client_id)
    env = {
        **no_keyring,
        "SPCONNECT_CLIENT_ID": app.client_id,
        "SPCONNECT_CLIENT_SECRET": app.client_secret,
        "SPCONNECT_REFRESH_TOKEN": shop,
        "SPCONNECT_REGION": region,
    }
    return app, shop, env


def test_refresh_token_variable_names() -> None:
    assert envvars.refresh_token_variable("eu-shop") == "SPCONNECT_REFRESH_TOKEN_EU_SHOP"
    assert envvars.refresh_token_variable("shop.1") == "SPCONNECT_REFRESH_TOKEN_SHOP_1"
    env = {"SPCONNECT_REFRESH_TOKEN": "Atzr|shared", "SPCONNECT_REFRESH_TOKEN_A": " 'Atzr|a' "}
    assert envvars.refresh_token("a", env) == "Atzr|a"  # its own, cleaned of quotes
    assert envvars.refresh_token("b", env) == "Atzr|shared"
    assert envvars.refresh_token("b", {}) is None


def test_zero_config_needs_no_config_file_and_no_keyring(
    cli: Cli, emulator: Emulator, no_keyring: dict[str, str]
) -> None:
    app, _, env = zero_config_env(emulator, no_keyring, "eu")
    first = json.loads(cli.ok("token", "--format", "json", env=env).stdout)
    assert first["access_token"].startswith("Atza|") and first["region"] == "eu"
    assert not (cli.config_dir / "config.toml").exists()
    before = emulator.count("refresh_token")
    assert cli.ok("token", env=env).stdout.strip() == first["access_token"]  # cached
    assert emulator.count("refresh_token") == before
    # The cached entry belongs to that refresh token: another one is not served it.
    other = emulator.state.self_authorize(app.client_id)
    second = cli.ok("token", env={**env, "SPCONNECT_REFRESH_TOKEN": other}).stdout.strip()
    assert second != first["access_token"]


def test_zero_config_follows_the_region_and_client_id_variables_past_the_cache(
    cli: Cli, emulator: Emulator, no_keyring: dict[str, str]
) -> None:
    """A cached token is served only for the region and app the variables name now: a
    script that switches SPCONNECT_REGION gets that region's endpoint (never the cached
    one's), and a region that does not exist is exit 2 even with a token cached."""
    _, shop, env = zero_config_env(emulator, no_keyring, "na")
    na = json.loads(cli.ok("token", "--format", "json", env=env).stdout)
    assert na["region"] == "na"
    eu = json.loads(
        cli.ok("token", "--format", "json", env={**env, "SPCONNECT_REGION": "eu"}).stdout
    )
    assert eu["region"] == "eu"  # (the endpoint is the emulator's for every region here)
    shown = cli.ok("token", "--format", "env", env={**env, "SPCONNECT_REGION": "EU"}).stdout
    assert "SPAPI_REGION='eu'" in shown or "SPAPI_REGION=eu" in shown
    mars = cli.run("token", env={**env, "SPCONNECT_REGION": "mars"})
    assert mars.returncode == ExitCode.USAGE and "SPCONNECT_REGION" in mars.stderr
    other = emulator.state.register_app("other")
    wrong_app = cli.run("token", env={**env, "SPCONNECT_CLIENT_ID": other.client_id})
    assert wrong_app.returncode == ExitCode.CLIENT_REJECTED  # not served the cached token
    assert "check SPCONNECT_CLIENT_ID and set the current secret in" in wrong_app.stderr
    emulator.state.revoke(shop)
    revoked = cli.run("token", "--force-refresh", env=env)
    assert revoked.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "set the new refresh token in SPCONNECT_REFRESH_TOKEN_DEFAULT" in revoked.stderr
    assert "reauth" not in revoked.stderr


def test_status_describes_the_zero_config_profile(
    cli: Cli, emulator: Emulator, no_keyring: dict[str, str]
) -> None:
    """`status` in zero-config mode shows what `token` uses, not "not logged in"."""
    _, _, env = zero_config_env(emulator, no_keyring, "eu")
    cli.ok("token", env=env)
    shown = cli.run("status", "--json", env=env)
    assert shown.returncode == 0, shown.output
    document = json.loads(shown.stdout)
    (described,) = document["profiles"]
    assert (described["profile"], described["app"], described["region"]) == (
        "default",
        "environment",
        "eu",
    )
    assert described["access_token"]["expires_in"] > 3000 and document["problems"] == []
    assert "SPCONNECT_REFRESH_TOKEN" in described["storage"]["backend"]


def test_doctor_recognises_zero_config_mode(
    cli: Cli, emulator: Emulator, no_keyring: dict[str, str]
) -> None:
    _, _, env = zero_config_env(emulator, no_keyring, "fe")
    ok = cli.run("doctor", "--offline", env=env)
    assert ok.returncode == 0, ok.output
    assert "zero-config mode: no config file" in ok.output and "region fe" in ok.output
    assert "no app is configured" not in ok.output
    partial = cli.run("doctor", "--offline", env={**env, "SPCONNECT_REFRESH_TOKEN": ""})
    assert partial.returncode == ExitCode.NOT_SET_UP
    assert "zero-config mode needs SPCONNECT_REFRESH_TOKEN" in partial.output
    wrong = cli.run("doctor", "--offline", env={**env, "SPCONNECT_REGION": "mars"})
    assert wrong.returncode == ExitCode.USAGE and "SPCONNECT_REGION" in wrong.output


def test_per_profile_variables_select_each_profiles_token(
    cli: Cli, emulator: Emulator, no_keyring: dict[str, str]
) -> None:
    app = emulator.state.register_app("ci")
    us_seller = emulator.state.add_account("US seller")
    eu_seller = emulator.state.add_account("EU seller")
    env = {
        **no_keyring,
        "SPCONNECT_CLIENT_ID": app.client_id,
        "SPCONNECT_CLIENT_SECRET": app.client_secret,
        "SPCONNECT_REGION": "na",
        "SPCONNECT_REFRESH_TOKEN_US_SHOP": emulator.state.self_authorize(
            app.client_id, us_seller.selling_partner_id
        ),
        "SPCONNECT_REFRESH_TOKEN_EU_SHOP": emulator.state.self_authorize(
            app.client_id, eu_seller.selling_partner_id
        ),
    }
    us = cli.ok("token", "-p", "us-shop", env=env).stdout
    eu = cli.ok("token", "-p", "eu-shop", env=env).stdout
    assert us != eu and us.startswith("Atza|") and eu.startswith("Atza|")
    missing = cli.run("token", "-p", "jp-shop", env=env)
    assert missing.returncode == ExitCode.NOT_SET_UP
    assert "SPCONNECT_REFRESH_TOKEN_JP_SHOP" in missing.stderr


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"SPCONNECT_CLIENT_ID": "amzn1.sp.solution.8a2c4b1e-1234-4cde-9f00-0123456789ab"}, "ID"),
        ({"SPCONNECT_REGION": "us"}, "SPCONNECT_REGION"),
    ],
)
def test_zero_config_mistakes_are_usage_errors_naming_the_variable(
    cli: Cli, emulator: Emulator, no_keyring: dict[str, str], change: dict[str, str], named: str
) -> None:
    app = emulator.state.register_app("ci")
    env = {
        **no_keyring,
        "SPCONNECT_CLIENT_ID": app.client_id,
        "SPCONNECT_CLIENT_SECRET": app.client_secret,
        "SPCONNECT_REFRESH_TOKEN": emulator.state.self_authorize(app.client_id),
        "SPCONNECT_REGION": "na",
        **change,
    }
    result = cli.run("token", env=env)
    assert result.returncode == ExitCode.USAGE
    assert named in result.stderr and "Traceback" not in result.output


def test_a_config_file_takes_precedence_over_zero_config(
    cli: Cli, emulator: Emulator, no_keyring: dict[str, str]
) -> None:
    app = emulator.state.register_app("ci")
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text('storage = "env"\n')
    env = {
        **no_keyring,
        "SPCONNECT_CLIENT_ID": app.client_id,
        "SPCONNECT_CLIENT_SECRET": app.client_secret,
        "SPCONNECT_REFRESH_TOKEN": emulator.state.self_authorize(app.client_id),
        "SPCONNECT_REGION": "na",
    }
    result = cli.run("token", env=env)
    assert result.returncode == ExitCode.NOT_SET_UP  # the file has no profile 'default'


def test_ci_creates_an_env_profile_from_flags_without_a_keyring(
    cli: Cli, emulator: Emulator, no_keyring: dict[str, str]
) -> None:
    """Issue 9, item 5: with storage = "env", `login -p NAME --marketplace CODE` takes the
    profile's refresh token from the environment, proves it with one refresh and writes
    only the profile to config.toml; nothing else sets such a profile up."""
    app = emulator.state.register_app("ci")
    shop = emulator.state.add_account("EU shop")
    token = emulator.state.self_authorize(app.client_id, shop.selling_partner_id)
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text('storage = "env"\n')
    env = {**no_keyring, "SPCONNECT_CLIENT_SECRET": app.client_secret}
    cli.ok(
        "app", "add", "ci", "--client-id", app.client_id, "--app-id", app.app_id,
        "--redirect-uri", app.redirect_uris[0], env=env,
    )  # fmt: skip
    login = ("login", "-p", "eu-shop", "--marketplace", "DE")
    piped = cli.run(*login, "--refresh-token-stdin", input=token, env=env)
    assert piped.returncode == ExitCode.USAGE, piped.stderr
    assert "SPCONNECT_REFRESH_TOKEN_EU_SHOP" in piped.stderr and "not stdin" in piped.stderr
    missing = cli.run(*login, env=env)
    assert missing.returncode == ExitCode.NOT_SET_UP, missing.stderr
    assert "SPCONNECT_REFRESH_TOKEN_EU_SHOP" in missing.stderr
    rejected = cli.run(*login, env={**env, "SPCONNECT_REFRESH_TOKEN_EU_SHOP": "Atzr|IwEBIrevoked"})
    assert rejected.returncode == ExitCode.AUTHORIZATION_REJECTED
    assert "SPCONNECT_REFRESH_TOKEN_EU_SHOP" in rejected.stderr
    assert not tomllib.loads((cli.config_dir / "config.toml").read_text()).get("profiles")

    env["SPCONNECT_REFRESH_TOKEN_EU_SHOP"] = token
    before = emulator.count("refresh_token")
    done = cli.ok(*login, env=env)
    assert emulator.count("refresh_token") == before + 1  # proven with one refresh
    assert "uses SPCONNECT_REFRESH_TOKEN_EU_SHOP" in done.stderr
    text = (cli.config_dir / "config.toml").read_text()
    profile = tomllib.loads(text)["profiles"]["eu-shop"]
    assert profile["app"] == "ci" and profile["region"] == "eu"
    assert profile["marketplace"] == "A1PA6795UKMFR9"
    assert token not in text and app.client_secret not in text
    assert not (cli.config_dir / "secrets.json").exists()
    assert cli.ok("token", "-p", "eu-shop", env=env).stdout.startswith("Atza|")
    assert emulator.count("refresh_token") == before + 1  # served from the login's cache
    assert cli.ok("status", "-p", "eu-shop", env=env).returncode == 0

    # The shared variable serves a profile without its own, and the message says so.
    other = emulator.state.self_authorize(app.client_id)
    shared = cli.ok(
        "login", "-p", "us-shop", "--marketplace", "US",
        env={**env, "SPCONNECT_REFRESH_TOKEN": other},
    )  # fmt: skip
    assert "uses SPCONNECT_REFRESH_TOKEN " in shared.stderr
    reauth = cli.run("reauth", "-p", "eu-shop", env=env)
    assert reauth.returncode == ExitCode.USAGE
    assert "SPCONNECT_REFRESH_TOKEN_EU_SHOP" in reauth.stderr
    assert "/apps/authorize/consent" not in reauth.stderr
    for result in cli.history:
        assert token not in result.output and app.client_secret not in result.output

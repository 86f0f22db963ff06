"""config.toml: validation with the line named, atomic private writes, the environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from spconnect.errors import ExitCode, UsageError
from spconnect.store import config as config_module
from spconnect.store import files
from spconnect.store.config import AppConfig, Config, Environment, parse_config
from tests.conftest import Cli

CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
APP_ID = "amzn1.sp.solution.8a2c4b1e-1234-4cde-9f00-0123456789ab"

GOOD = f"""\
storage = "keyring"

[apps.demo]
client_id = "{CLIENT_ID}"
app_id = "{APP_ID}"
redirect_uri = "https://example.com/cb"

[profiles.default]
app = "demo"
region = "na"
marketplace = "ATVPDKIKX0DER"
selling_partner_id = "A3FHEXAMPLEYWS"
"""


def test_good_config_parses() -> None:
    config = parse_config(GOOD, "config.toml")
    assert config.apps["demo"].client_id == CLIENT_ID
    assert config.apps["demo"].draft is True
    assert config.profiles["default"].region == "na"


def test_unknown_key_is_named_with_its_line() -> None:
    text = GOOD.replace('app_id = "', 'clent_secret = "x"\napp_id = "')
    with pytest.raises(UsageError) as info:
        parse_config(text, "config.toml")
    assert info.value.exit_code == ExitCode.USAGE
    assert "line 5: apps.demo.clent_secret: unknown key" in info.value.message


def test_wrong_type_is_named_with_its_line() -> None:
    text = GOOD.replace('region = "na"', "region = 3")
    with pytest.raises(UsageError) as info:
        parse_config(text, "config.toml")
    assert "line 10: profiles.default.region" in info.value.message


def test_swapped_ids_in_file_are_named() -> None:
    text = GOOD.replace(f'client_id = "{CLIENT_ID}"', f'client_id = "{APP_ID}"')
    with pytest.raises(UsageError) as info:
        parse_config(text, "config.toml")
    assert "line 4: apps.demo.client_id" in info.value.message
    assert "not an LWA client id" in info.value.message


def test_malformed_selling_partner_id_is_refused() -> None:
    text = GOOD.replace("A3FHEXAMPLEYWS", "a3f-bad")
    with pytest.raises(UsageError, match=r"line 12: profiles\.default\.selling_partner_id"):
        parse_config(text, "config.toml")


def test_invalid_toml_says_where() -> None:
    with pytest.raises(UsageError, match=r"not valid TOML.*line 2"):
        parse_config('storage = "keyring"\n[apps\n', "config.toml")


@pytest.mark.parametrize(
    ("uri", "reason"),
    [("http://example.com/cb", "https"), ("https://example.com/cb#x", "fragment")],
)
def test_redirect_uri_must_be_https_without_fragment(uri: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        AppConfig(client_id=CLIENT_ID, app_id=APP_ID, redirect_uri=uri)


def test_save_is_atomic_0600_in_a_0700_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPCONNECT_CONFIG_DIR", str(tmp_path / "a" / "b"))
    config = parse_config(GOOD, "x")
    config_module.save_config(config)
    path = Path(config_module.config_path())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert config_module.load_config() == config


def test_crash_mid_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.json"
    files.write_private(str(target), b"old")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        files.write_private(str(target), b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left behind


def test_editing_config_saves_only_on_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPCONNECT_CONFIG_DIR", str(tmp_path))
    with config_module.editing_config() as config:
        config.storage = "file"
    with pytest.raises(RuntimeError), config_module.editing_config() as config:
        config.storage = "env"
        raise RuntimeError("boom")
    assert config_module.load_config().storage == "file"


def test_rendered_config_round_trips_and_is_commented() -> None:
    config = parse_config(GOOD, "x")
    text = config_module.render_config(config)
    assert text.startswith("# spconnect configuration")
    assert parse_config(text, "x") == config


def test_environment_reads_the_design_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPCONNECT_PROFILE", "eu-shop")
    monkeypatch.setenv("SPCONNECT_KEYRING_SERVICE", "svc")
    monkeypatch.setenv("SPCONNECT_REFRESH_TOKEN", "Atzr|from-env")
    env = Environment.from_environ()
    assert (env.profile, env.keyring_service) == ("eu-shop", "svc")
    assert "Atzr|from-env" not in repr(env)


def test_missing_config_is_empty() -> None:
    assert Config().apps == {} and Config().storage == "keyring"


def test_cli_reports_a_bad_config_file_with_exit_2(cli: Cli) -> None:
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text(GOOD.replace("storage", "storaje"))
    result = cli.run("app", "list")
    assert result.returncode == ExitCode.USAGE
    assert "line 1: storaje: unknown key" in result.stderr
    assert "Traceback" not in result.output


def test_cli_app_add_names_swapped_ids(cli: Cli) -> None:
    result = cli.run(
        "app",
        "add",
        "x",
        "--client-id",
        APP_ID,
        "--app-id",
        CLIENT_ID,
        "--redirect-uri",
        "https://example.com/cb",
    )
    assert result.returncode == ExitCode.USAGE
    assert "--client-id" in result.stderr and "swapped" in result.stderr


def test_cli_unknown_marketplace_lists_codes(cli: Cli) -> None:
    result = cli.run("login", "--refresh-token-stdin", "--marketplace", "XX", input="Atzr|x")
    assert result.returncode == ExitCode.USAGE
    assert "unknown marketplace 'XX'" in result.stderr
    assert "US" in result.stderr and "na, eu, fe" in result.stderr

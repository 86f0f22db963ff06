"""Which profile a command uses (issue 9, item 15 and item 13's `-p` before the command):
`-p` > $SPCONNECT_PROFILE > `spconnect switch` > 'default', alike on the token fast path
and in the CLI."""

from __future__ import annotations

import stat

import platformdirs
import pytest

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from spconnect.store import paths
from tests.conftest import Cli, Seller, add_app, login_self_authorized
from tests.test_fast_path import HEAVY, imported_modules

pytestmark = pytest.mark.keyring


@pytest.fixture
def two(cli: Cli, seller: Seller, emulator: Emulator) -> dict[str, str]:
    """Profiles 'default' and 'eu', each with its own cached token."""
    login_self_authorized(cli, emulator, profile="eu")
    return {name: cli.ok("token", "-p", name).stdout for name in ("default", "eu")}


def test_switch_makes_a_profile_the_default_of_token_and_status(
    cli: Cli, two: dict[str, str]
) -> None:
    assert cli.ok("token").stdout == two["default"]
    switched = cli.ok("switch", "eu")
    assert "default profile is now 'eu'" in switched.stderr
    assert cli.ok("token").stdout == two["eu"]
    status = cli.ok("status")
    assert status.stdout.startswith("Default profile: eu (chosen with `spconnect switch`)\n")
    assert "\neu\n" in status.stdout and "\ndefault\n" not in status.stdout
    # One line in its own private file: the one place that fact lives.
    stored = cli.config_dir / "default-profile"
    assert stored.read_text() == "eu\n"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    cli.ok("switch", "--unset")
    assert not stored.exists()
    assert cli.ok("token").stdout == two["default"]


def test_flag_beats_environment_beats_switch(cli: Cli, two: dict[str, str]) -> None:
    cli.ok("switch", "eu")
    env = {"SPCONNECT_PROFILE": "default"}
    assert cli.ok("token", env=env).stdout == two["default"]
    assert cli.ok("token", "-p", "eu", env=env).stdout == two["eu"]
    assert cli.ok("-p", "eu", "token", env=env).stdout == two["eu"]
    assert cli.ok("--profile=eu", "status", "--json", env=env).stdout.count('"profile": "eu"') == 1
    note = cli.ok("switch", "eu", env=env)
    assert "$SPCONNECT_PROFILE is set to 'default' here" in note.stderr


def test_the_fast_path_serves_a_profile_given_before_the_command_or_switched(
    cli: Cli, two: dict[str, str]
) -> None:
    for args in (("-p", "eu", "token"), ("--profile", "eu", "token", "--format", "header")):
        completed, modules = imported_modules(cli, *args)
        assert completed.returncode == 0, completed.stderr[-500:]
        assert two["eu"].strip() in completed.stdout
        top_level = {m.split(".")[0] for m in modules}
        assert not top_level & set(HEAVY), f"{args} imported {top_level & set(HEAVY)}"
        assert "re" not in top_level and "tomllib" not in top_level
    cli.ok("switch", "eu")
    completed, modules = imported_modules(cli, "token")
    assert completed.stdout == two["eu"]
    top_level = {m.split(".")[0] for m in modules}
    assert not top_level & {*HEAVY, "re", "tomllib"}


def test_a_profile_before_and_after_the_command_must_agree(cli: Cli, two: dict[str, str]) -> None:
    assert cli.ok("-p", "eu", "token", "-p", "eu").stdout == two["eu"]
    for args in (("-p", "eu", "token", "-p", "default"), ("-p", "eu", "status", "-pdefault")):
        result = cli.run(*args)
        assert result.returncode == ExitCode.USAGE, result.output
        assert "two profiles were given: 'eu' before the command and 'default'" in result.stderr
        assert result.stdout == ""


def test_a_profile_before_a_command_that_takes_none_is_refused(cli: Cli, seller: Seller) -> None:
    for args, command in ((("doctor", "--offline"), "doctor"), (("app", "list"), "app")):
        result = cli.run("-p", "default", *args)
        assert result.returncode == ExitCode.USAGE, result.output
        assert f"`spconnect {command}` takes no profile" in result.stderr


def test_switch_to_an_unknown_profile_suggests_a_close_one(cli: Cli, two: dict[str, str]) -> None:
    result = cli.run("switch", "defualt")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert "did you mean 'default'?" in result.stderr
    assert not (cli.config_dir / "default-profile").exists()
    bare = cli.run("switch")
    assert bare.returncode == ExitCode.USAGE and "profiles: default, eu" in bare.stderr


def test_a_switched_default_that_is_not_a_name_is_explained(cli: Cli, two: dict[str, str]) -> None:
    (cli.config_dir / "default-profile").write_text("../../etc\n")
    for args in (("token",), ("status",)):
        result = cli.run(*args)
        assert result.returncode == ExitCode.USAGE, result.output
        assert "default-profile does not hold a profile name" in result.stderr
        assert "spconnect switch NAME" in result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize("xdg", [None, "", "   ", "/tmp/xdg-config"])
def test_config_dir_matches_platformdirs(monkeypatch: pytest.MonkeyPatch, xdg: str | None) -> None:
    """The fast path computes the directory without importing platformdirs."""
    monkeypatch.delenv("SPCONNECT_CONFIG_DIR", raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert paths.config_dir() == platformdirs.user_config_dir("spconnect")


def test_status_of_a_named_profile_does_not_warn_about_the_default(
    cli: Cli, emulator: Emulator
) -> None:
    """Only 'eu' is logged in: `status -p eu` is about eu; `status --all` (an overview)
    still says the default cannot be used."""
    add_app(cli, emulator.state.register_app("demo"))
    login_self_authorized(cli, emulator, profile="eu")
    named = cli.ok("status", "-p", "eu").stdout
    assert named.startswith("Default profile: default (") and "not logged in" not in named
    every = cli.ok("status", "--all").stdout
    assert "Default profile: default (" in every
    assert "it is not logged in: `spconnect login -p default`" in every

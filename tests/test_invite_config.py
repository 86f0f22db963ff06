"""The CLI side of issue 11 that needs no server: ``[servers.NAME]`` in config.toml, the
rules for a server's address, and the values ``invite create`` checks before asking."""

from __future__ import annotations

import datetime as dt

import pytest

from spconnect import invites
from spconnect.errors import ExitCode, UsageError
from spconnect.store import config as config_module
from spconnect.store.config import ServerConfig, parse_config, server_url_problem
from tests.conftest import Cli
from tests.test_config import GOOD

CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
SERVER = f"""
[servers.prod]
url = "https://invites.example.com"
key_id = "k_3f9a"
public_url = "https://invites.example.com"
client_id = "{CLIENT_ID}"
app = "Acme Repricer"
added_at = 2026-11-28T06:00:00Z
"""


def test_a_server_table_parses_and_round_trips() -> None:
    config = parse_config(GOOD + SERVER, "config.toml")
    server = config.servers["prod"]
    assert (server.url, server.key_id, server.app) == (
        "https://invites.example.com",
        "k_3f9a",
        "Acme Repricer",
    )
    assert server.added_at == dt.datetime(2026, 11, 28, 6, tzinfo=dt.timezone.utc)
    assert parse_config(config_module.render_config(config), "x") == config


def test_a_config_without_servers_is_written_as_before() -> None:
    text = config_module.render_config(parse_config(GOOD, "x"))
    assert "servers" not in text


def test_an_unknown_server_key_is_named_with_its_line() -> None:
    text = GOOD + SERVER.replace('key_id = "k_3f9a"', 'key_id = "k_3f9a"\nadmin_token = "x"')
    with pytest.raises(UsageError) as info:
        parse_config(text, "config.toml")
    assert "line 17: servers.prod.admin_token: unknown key" in info.value.message


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('url = "http://invites.example.com"', "not a loopback address"),
        ('url = "ftp://invites.example.com"', "must be an https URL"),
        ('url = "https://user:pw@invites.example.com"', "user name or password"),
        ('url = "https://invites.example.com/?x=1"', "query"),
        ('key_id = "k 1"', "key id"),
        ('app = "Acme\\u001b[31m"', "control characters"),
        ('client_id = "amzn1.sp.solution.x"', "LWA client id"),
    ],
)
def test_a_bad_server_field_is_refused(line: str, reason: str) -> None:
    key = line.split(" = ")[0]
    text = "\n".join(
        line if row.startswith(key + " = ") else row for row in (GOOD + SERVER).splitlines()
    )
    with pytest.raises(UsageError, match=reason):
        parse_config(text, "config.toml")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.5.6.7",
        "http://[::1]:8080/admin-base",
        "http://localhost:9000",
        "https://invites.example.com",
        "https://invites.example.com:8443/spconnect",
    ],
)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    assert server_url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5:8080",
        "http://invites.example.com",
        "http://127.0.0.1.nip.io",
        "https://",
        "https://exa mple.com",
        "https://example.com:notaport",
        "https://example.com/#x",
        "https://example.com/" + "a" * 3000,
    ],
)
def test_other_addresses_are_refused(url: str) -> None:
    assert server_url_problem(url) is not None


def test_constructing_a_server_config_validates_it() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ServerConfig(
            url="http://192.168.1.10",
            key_id="k",
            public_url="https://x.example.com",
            client_id=CLIENT_ID,
            app="a",
            added_at=config_module.now_utc(),
        )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60), ("90m", 5400), ("12h", 43200), ("7d", 604800), ("30d", 2592000), ("1D", 86400)],
)
def test_expires_takes_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert invites.parse_expires(text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("59s", "60 s to 30 days"),
        ("31d", "60 s to 30 days"),
        ("7", "not a duration"),
        ("7w", "not a duration"),
        ("-1d", "not a duration"),
        ("d", "not a duration"),
        ("99999999d", "not a duration"),
    ],
)
def test_expires_outside_the_contract_is_refused(text: str, reason: str) -> None:
    with pytest.raises(UsageError, match=reason):
        invites.parse_expires(text)


def test_a_note_is_one_short_line() -> None:
    assert invites.check_note("Acme GmbH, EU") == "Acme GmbH, EU"
    with pytest.raises(UsageError, match="one line"):
        invites.check_note("two\nlines")
    with pytest.raises(UsageError, match="at most 200"):
        invites.check_note("x" * 201)


def test_cli_refuses_plain_http_to_another_host_before_reading_the_token(cli: Cli) -> None:
    result = cli.run(
        "server", "add", "prod", "--url", "http://invites.example.com", "--token-stdin",
        input="a-token-that-is-never-read-0123456789",
    )  # fmt: skip
    assert result.returncode == ExitCode.USAGE
    assert "not a loopback address" in result.stderr and "use https" in result.stderr
    assert "a-token-that-is-never-read" not in result.output
    assert not (cli.config_dir / "config.toml").exists()


def test_cli_invite_commands_without_a_paired_server_say_how_to_pair(cli: Cli) -> None:
    for args in (("invite", "list"), ("invite", "pull"), ("invite", "create", "-p", "acme")):
        result = cli.run(*args)
        assert result.returncode == ExitCode.NOT_SET_UP, result.output
        assert "spconnect server add NAME --url URL --token-stdin" in result.stderr


def test_cli_invite_create_needs_a_named_profile(cli: Cli) -> None:
    result = cli.run("invite", "create", "--marketplace", "US")
    assert result.returncode == ExitCode.USAGE
    assert "invites take no default profile" in result.stderr
    result = cli.run("-p", "nope", "invite", "list")
    assert result.returncode == ExitCode.USAGE
    assert "takes no profile" in result.stderr

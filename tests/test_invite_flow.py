"""Issue 11 from the developer's side: `spconnect server add`, `invite create`, `list` and
`pull` as real subprocesses, against the real `spconnect serve` and the emulator, with
the real Secret Service (tests/invite_helpers.py sets it up)."""

from __future__ import annotations

import json

import pytest
import tomllib

from spconnect.errors import ExitCode
from spconnect.serve import sealing
from tests.invite_helpers import PUBLIC_URL, Remote, remote_setup
from tests.serve_harness import Browser

pytestmark = pytest.mark.keyring
remote = remote_setup  # the fixture, under the name the tests use


@pytest.fixture
def paired(remote: Remote) -> Remote:
    result = remote.add_server()
    assert result.returncode == 0, result.output
    return remote


def config(remote: Remote) -> dict[str, object]:
    return tomllib.loads((remote.cli.config_dir / "config.toml").read_text())


def test_server_add_checks_the_admin_token_and_keeps_it_in_the_keyring(remote: Remote) -> None:
    wrong = remote.add_server(token="not-the-admin-token-of-this-server")
    assert wrong.returncode == ExitCode.NOT_SET_UP
    assert "refused the admin token (HTTP 401)" in wrong.stderr
    # A first pairing: the hint is where the token comes from, not "pair again --yes".
    assert "the server printed as `admin token: …` on its first start" in wrong.stderr
    assert "--yes" not in wrong.stderr
    assert "servers" not in config(remote)  # nothing stored
    with_path = remote.cli.run(
        "server", "add", "prod", "--url", remote.server.url + "/admin/v1/", "--token-stdin",
        input=remote.admin_token + "\n",
    )  # fmt: skip
    assert with_path.returncode == ExitCode.USAGE
    assert "ends in the admin API's own path" in with_path.stderr
    assert remote.keyring_value("server-token:prod") is None

    added = remote.add_server()
    assert added.returncode == 0, added.output
    assert added.stdout == ""
    assert f"Paired with invite server 'prod' at {remote.server.url}" in added.stderr
    assert "Invites are proven with app 'demo'" in added.stderr
    server = config(remote)["servers"]["prod"]  # type: ignore[index]
    assert server["url"] == remote.server.url and server["public_url"] == PUBLIC_URL
    assert server["client_id"] == remote.app.client_id and server["app"] == "demo"
    assert server["key_id"].startswith("k")
    # The token and the private key are in the Secret Service, and nowhere on disk.
    assert remote.keyring_value("server-token:prod") == remote.admin_token
    private_key = remote.keyring_value("server-key:prod")
    assert private_key is not None
    sealing.public_key_of(private_key)  # a real X25519 private key
    for path in remote.cli.files():
        data = path.read_bytes()
        assert remote.admin_token.encode() not in data and private_key.encode() not in data

    listed = remote.cli.ok("server", "list")
    assert listed.stdout.startswith(f"prod\t{remote.server.url}\t{PUBLIC_URL}\tdemo\t")
    (described,) = json.loads(remote.cli.ok("server", "list", "--json").stdout)["servers"]
    assert described["name"] == "prod" and described["public_url"] == PUBLIC_URL
    assert described["client_id"] == remote.app.client_id and described["paired_at"].endswith("Z")


def test_pairing_again_asks_first_and_keeps_the_key(remote: Remote) -> None:
    assert remote.add_server().returncode == 0
    key_before = remote.keyring_value("server-key:prod")
    key_id_before = config(remote)["servers"]["prod"]["key_id"]  # type: ignore[index]

    refused = remote.add_server()  # no terminal to ask on
    assert refused.returncode == ExitCode.USAGE
    assert "paired already" in refused.stderr and "--yes" in refused.stderr

    # The admin token rotated on the server: the old one is refused, re-pairing fixes it.
    old_token = remote.admin_token
    rotated = remote.rotate_admin_token()
    assert rotated != old_token
    stale = remote.cli.run("invite", "list")
    assert stale.returncode == ExitCode.NOT_SET_UP
    assert "spconnect server add prod" in stale.stderr
    again = remote.add_server("--yes", token=rotated)
    assert again.returncode == 0, again.output
    assert "invites connected before still open" in again.stderr
    assert remote.keyring_value("server-key:prod") == key_before
    assert config(remote)["servers"]["prod"]["key_id"] == key_id_before  # type: ignore[index]
    assert remote.keyring_value("server-token:prod") == rotated
    remote.cli.ok("invite", "list")


def test_a_pairing_that_cannot_save_its_config_leaves_the_previous_one(remote: Remote) -> None:
    assert remote.add_server().returncode == 0
    before = {n: remote.keyring_value(n) for n in ("server-token:prod", "server-key:prod")}
    rotated = remote.rotate_admin_token()
    lock = remote.cli.config_dir / ".config.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()  # the config lock cannot be taken: saving fails after the keyring writes
    failed = remote.add_server("--yes", token=rotated)
    assert failed.returncode != 0 and "Traceback" not in failed.output
    after = {n: remote.keyring_value(n) for n in before}
    assert after == before  # the keyring got back what it held
    lock.rmdir()
    assert remote.add_server("--yes", token=rotated).returncode == 0


def test_an_invite_is_created_connected_pulled_and_used(paired: Remote) -> None:
    remote = paired
    seller = remote.emulator.state.add_account("Acme Shop")
    link = remote.create("acme", "--marketplace", "US", "--note", "Acme, US store")
    invite_id = remote.invite_id(link)
    (listed,) = remote.invites()
    assert listed["id"] == invite_id and listed["status"] == "pending"
    assert listed["profile"] == "acme" and listed["url"] == link
    table = remote.cli.ok("invite", "list").stdout.splitlines()
    assert table[0].split() == [
        "ID",
        "PROFILE",
        "STATUS",
        "SELLER",
        "MARKETPLACE",
        "EXPIRES",
        "/",
        "CONNECTED",
    ]
    assert table[1].split()[:5] == [invite_id, "acme", "pending", "-", "US"]

    answer = remote.connect(link, seller)
    assert answer.status_code == 200 and "Connected" in answer.text
    (listed,) = remote.invites()
    assert listed["status"] == "connected"
    assert listed["selling_partner_id"] == seller.selling_partner_id
    assert remote.sealed(invite_id)

    refreshes = remote.emulator.count("refresh_token")
    pulled = remote.cli.run("invite", "pull", "--json")
    assert pulled.returncode == 0, pulled.output
    document = json.loads(pulled.stdout)  # for scripts; what a person reads is on stderr
    assert (document["server"], document["pulled"], document["pending"]) == ("prod", 1, 0)
    (outcome,) = document["outcomes"]
    assert (outcome["invite"], outcome["profile"], outcome["exit_code"]) == (invite_id, "acme", 0)
    assert outcome["selling_partner_id"] == seller.selling_partner_id
    assert f"pulled {invite_id}: stored profile 'acme': selling partner " in pulled.stderr
    assert "Pulled 1 of 1 connected invites from server 'prod'" in pulled.stderr
    assert remote.emulator.count("refresh_token") == refreshes + 1  # one proving refresh
    profile = config(remote)["profiles"]["acme"]  # type: ignore[index]
    assert profile["selling_partner_id"] == seller.selling_partner_id
    assert profile["region"] == "na" and profile["marketplace"] == "ATVPDKIKX0DER"
    assert profile["self_authorized"] is False and profile["app"] == "demo"
    assert remote.keyring_value("profile:acme") == remote.refresh_token_of(seller)
    assert remote.sealed(invite_id) is None  # deleted on the server after the store

    # The access token of the proving refresh was cached, as login does.
    token = remote.cli.ok("token", "-p", "acme").stdout.strip()
    assert token.startswith("Atza|") and token in remote.emulator.state.access_tokens
    assert remote.emulator.count("refresh_token") == refreshes + 1
    remote.cli.ok("status", "-p", "acme")

    again = remote.cli.run("invite", "pull")
    assert again.returncode == 0
    assert (
        "Nothing to pull from server 'prod'" in again.stderr and "1 pulled before" in again.stderr
    )
    assert remote.emulator.count("refresh_token") == refreshes + 1
    (listed,) = remote.invites()
    assert listed["status"] == "pulled" and listed["url"] is None


def test_a_reauth_invite_renews_the_profile_and_refuses_another_seller(paired: Remote) -> None:
    remote = paired
    shop = remote.emulator.state.add_account("Acme Shop")
    other = remote.emulator.state.add_account("Somebody Else")
    remote.connect(remote.create("acme", "--marketplace", "US"), shop)
    remote.cli.ok("invite", "pull")
    first_token = remote.keyring_value("profile:acme")

    refused = remote.cli.run("invite", "create", "-p", "nobody", "--reauth")
    assert refused.returncode == ExitCode.NOT_SET_UP and "nothing to renew" in refused.stderr

    # Another account answers a reauth invite: the server refuses it before the exchange.
    link = remote.create("acme", "--reauth")
    (listed,) = [i for i in remote.invites() if i["id"] == remote.invite_id(link)]
    assert listed["reauth"] and listed["expected_selling_partner_id"] == shop.selling_partner_id
    remote.connect(link, other)
    (listed,) = [i for i in remote.invites() if i["id"] == remote.invite_id(link)]
    assert listed["status"] == "failed"
    nothing = remote.cli.run("invite", "pull")
    assert nothing.returncode == 0
    assert "1 invite ended without a connection (consent refused or failed)" in nothing.stderr
    assert remote.keyring_value("profile:acme") == first_token

    # The right account renews it: a new refresh token replaces the old one.
    link = remote.create("acme", "--reauth")
    remote.connect(link, shop)
    renewed = remote.cli.run("invite", "pull")
    assert renewed.returncode == 0, renewed.output
    assert "renewed profile 'acme'" in renewed.stderr
    new_token = remote.keyring_value("profile:acme")
    assert new_token != first_token and new_token == remote.refresh_token_of(shop)
    remote.cli.ok("token", "-p", "acme", "--force-refresh")

    # A reauth invite whose profile changed hands meanwhile (edited by hand here) is
    # refused by the CLI itself, and stays on the server.
    link = remote.create("acme", "--reauth")
    remote.connect(link, shop)
    path = remote.cli.config_dir / "config.toml"
    path.write_text(path.read_text().replace(shop.selling_partner_id, other.selling_partner_id))
    refused = remote.cli.run("invite", "pull", "--yes")
    assert refused.returncode == ExitCode.LOGIN_INCOMPLETE, refused.output
    assert f"belongs to {other.selling_partner_id} now; nothing was changed" in refused.stderr
    assert remote.keyring_value("profile:acme") == new_token
    assert remote.sealed(remote.invite_id(link))


def test_an_invite_for_a_profile_of_another_account_asks_first(paired: Remote) -> None:
    remote = paired
    shop = remote.emulator.state.add_account("Acme Shop")
    other = remote.emulator.state.add_account("Somebody Else")
    remote.connect(remote.create("acme", "--marketplace", "US"), shop)
    remote.cli.ok("invite", "pull")
    created = remote.cli.ok("invite", "create", "-p", "acme", "--marketplace", "US")
    assert f"profile 'acme' holds selling partner {shop.selling_partner_id}" in created.stderr
    link = created.stdout.strip()
    remote.connect(link, other)

    refused = remote.cli.run("invite", "pull")
    assert refused.returncode == ExitCode.USAGE
    assert f"storing it replaces {shop.selling_partner_id}" in refused.stderr
    assert "spconnect invite pull --yes" in refused.stderr
    assert remote.keyring_value("profile:acme") == remote.refresh_token_of(shop)
    assert remote.sealed(remote.invite_id(link))  # kept for the next pull

    replaced = remote.cli.run("invite", "pull", "--yes")
    assert replaced.returncode == 0, replaced.output
    profile = config(remote)["profiles"]["acme"]  # type: ignore[index]
    assert profile["selling_partner_id"] == other.selling_partner_id


def test_a_sealed_token_that_does_not_open_is_reported_not_stored(paired: Remote) -> None:
    remote = paired
    sellers = [remote.emulator.state.add_account(f"Shop {n}") for n in range(3)]
    links = [remote.create(f"shop{n}", "--marketplace", "US") for n in range(3)]
    for link, seller in zip(links, sellers, strict=True):
        remote.connect(link, seller)
    first, second, third = (remote.invite_id(link) for link in links)
    # A blob moved to another invite's row, and one altered by a byte.
    moved = remote.sealed(first)
    assert moved is not None
    remote.set_sealed(second, moved)
    altered = remote.sealed(third)
    assert altered is not None
    remote.set_sealed(third, altered[:-2] + ("A" if altered[-2] != "A" else "B") + altered[-1])

    result = remote.cli.run("invite", "pull")
    assert result.returncode == ExitCode.LOGIN_INCOMPLETE, result.output
    assert f"pulled {first}: stored profile 'shop0'" in result.stderr
    for invite_id in (second, third):
        assert (
            f"failed {invite_id} (exit 8): the sealed token of invite {invite_id} does not open"
            in result.stderr
        )
    assert "Pulled 1 of 3 connected invites" in result.stderr
    stored = config(remote)["profiles"]  # type: ignore[assignment]
    assert set(stored) == {"shop0"}  # type: ignore[arg-type]
    statuses = {i["id"]: i["status"] for i in remote.invites()}
    assert statuses == {first: "pulled", second: "connected", third: "connected"}
    assert remote.sealed(second) == moved  # left on the server, as it was


def test_a_revoked_refresh_token_at_pull_is_exit_4_and_nothing_is_stored(
    paired: Remote,
) -> None:
    remote = paired
    seller = remote.emulator.state.add_account("Acme Shop")
    link = remote.create("acme", "--marketplace", "US")
    remote.connect(link, seller)
    remote.emulator.state.revoke(remote.refresh_token_of(seller))
    blob = remote.sealed(remote.invite_id(link))

    result = remote.cli.run("invite", "pull")
    assert result.returncode == ExitCode.AUTHORIZATION_REJECTED, result.output
    assert "nothing was stored, and the sealed token stays on the server" in result.stderr
    assert "send the seller a new invite" in result.stderr
    assert "acme" not in config(remote).get("profiles", {})  # type: ignore[operator]
    assert remote.keyring_value("profile:acme") is None
    assert remote.sealed(remote.invite_id(link)) == blob
    (listed,) = remote.invites()
    assert listed["status"] == "connected"


def test_invite_create_checks_what_pull_will_need(paired: Remote) -> None:
    remote = paired
    json_out = remote.cli.ok("invite", "create", "-p", "acme", "--marketplace", "DE", "--json")
    created = json.loads(json_out.stdout)
    assert created["url"].startswith(f"{PUBLIC_URL}/i/") and created["marketplace"] == "DE"
    assert created["server"] == "prod" and created["kind"] == "seller"

    for args, code, said in (
        (("--marketplace", "XX"), ExitCode.USAGE, "unknown marketplace 'XX'"),
        ((), ExitCode.USAGE, "--marketplace is required"),
        (("--marketplace", "US", "--expires", "31d"), ExitCode.USAGE, "60 s to 30 days"),
        (("--marketplace", "IE", "--vendor"), ExitCode.USAGE, "no Vendor Central URL"),
        (("--marketplace", "US", "--server", "nope"), ExitCode.NOT_SET_UP, "no invite server"),
    ):
        result = remote.cli.run("invite", "create", "-p", "acme", *args)
        assert result.returncode == code, (args, result.output)
        assert said in result.stderr and result.stdout == ""

    # Without the server's app here, pull could not prove a token: refused at create.
    remote.cli.ok("app", "remove", "demo", "--yes")
    result = remote.cli.run("invite", "create", "-p", "acme", "--marketplace", "US")
    assert result.returncode == ExitCode.NOT_SET_UP
    assert f"authorizes for app 'demo' (client id {remote.app.client_id})" in result.stderr
    assert f"spconnect app add NAME --client-id {remote.app.client_id}" in result.stderr


def test_server_remove_forgets_token_key_and_settings(paired: Remote) -> None:
    remote = paired
    refused = remote.cli.run("server", "remove", "prod")
    assert refused.returncode == ExitCode.USAGE and "--yes" in refused.stderr
    remote.cli.ok("server", "remove", "prod", "--yes")
    assert "servers" not in config(remote)
    assert remote.keyring_value("server-token:prod") is None
    assert remote.keyring_value("server-key:prod") is None
    assert remote.cli.run("invite", "list").returncode == ExitCode.NOT_SET_UP


@pytest.mark.parametrize("remote", [("--open-enrollment",)], indirect=True)
def test_an_open_enrollment_entry_becomes_a_profile_named_by_its_seller(paired: Remote) -> None:
    remote = paired
    seller = remote.emulator.state.add_account("Appstore Shop")
    answer = remote.amazon_starts(seller)
    assert answer.status_code == 200 and "Connected" in answer.text, answer.text
    (entry,) = remote.invites()
    assert entry["open_enrollment"] is True and entry["status"] == "connected"
    table = remote.cli.ok("invite", "list").stdout
    assert seller.selling_partner_id in table and "connected" in table

    pulled = remote.cli.run("invite", "pull")
    assert pulled.returncode == 0, pulled.output
    name = seller.selling_partner_id
    assert f"stored profile {name!r}" in pulled.stderr
    profile = config(remote)["profiles"][name]  # type: ignore[index]
    assert profile["selling_partner_id"] == name and profile["marketplace"] == "ATVPDKIKX0DER"
    assert remote.cli.ok("token", "-p", name).stdout.startswith("Atza|")


def test_revoke_withdraws_an_invite_and_asks_for_a_connected_one(paired: Remote) -> None:
    remote = paired
    seller = remote.emulator.state.add_account("Acme Shop")
    pending = remote.create("acme", "--marketplace", "US")
    connected = remote.create("beta", "--marketplace", "US")
    remote.connect(connected, seller)

    revoked = remote.cli.run("invite", "revoke", remote.invite_id(pending))
    assert revoked.returncode == 0, revoked.output
    assert "(it was pending)" in revoked.stderr
    browser = Browser(remote.server.url)
    assert browser.request("GET", pending).status_code != 200  # the link no longer works
    browser.close()

    asked = remote.cli.run("invite", "revoke", remote.invite_id(connected))
    assert asked.returncode == ExitCode.USAGE
    assert f"selling partner {seller.selling_partner_id} waits to be pulled" in asked.stderr
    assert remote.sealed(remote.invite_id(connected))
    remote.cli.ok("invite", "revoke", remote.invite_id(connected), "--yes")
    assert remote.sealed(remote.invite_id(connected)) is None
    statuses = {i["id"]: i["status"] for i in remote.invites()}
    assert set(statuses.values()) == {"revoked"}
    assert "Nothing to pull" in remote.cli.ok("invite", "pull").stderr

    unknown = remote.cli.run("invite", "revoke", "no-such-invite-0000")
    assert unknown.returncode == ExitCode.USAGE and "not_found" in unknown.stderr
    bad = remote.cli.run("invite", "revoke", "../../admin")
    assert bad.returncode == ExitCode.USAGE and "is not an invite id" in bad.stderr


def test_pull_exit_codes_for_a_rejected_secret_and_an_unreachable_server(paired: Remote) -> None:
    remote = paired
    seller = remote.emulator.state.add_account("Acme Shop")
    link = remote.create("acme", "--marketplace", "US")
    remote.connect(link, seller)
    # No profile uses the app yet, so a wrong secret is stored without a check...
    wrong = "amzn1.oa2-cs.v1." + "0" * 64
    remote.cli.ok("app", "set-secret", "demo", "--client-secret-stdin", input=wrong)
    rejected = remote.cli.run("invite", "pull")
    assert rejected.returncode == ExitCode.CLIENT_REJECTED, rejected.output
    assert "spconnect app set-secret demo" in rejected.stderr
    assert "profiles" not in config(remote) or not config(remote)["profiles"]
    assert remote.sealed(remote.invite_id(link))
    # ...and the right one lets the same invite through.
    remote.cli.ok(
        "app", "set-secret", "demo", "--client-secret-stdin", input=remote.app.client_secret
    )

    remote.server.stop()
    down = remote.cli.run("invite", "pull")
    assert down.returncode == ExitCode.AMAZON_UNAVAILABLE, down.output
    assert f"cannot reach the invite server 'prod' at {remote.server.url}" in down.stderr
    assert remote.cli.run("invite", "list").returncode == ExitCode.AMAZON_UNAVAILABLE
    assert remote.keyring_value("profile:acme") is None


def test_several_servers_need_server_and_file_storage_works_too(remote: Remote) -> None:
    # Pairing into the 0600 file store, chosen explicitly, as `app add --insecure-storage`.
    added = remote.add_server("--insecure-storage")
    assert added.returncode == 0, added.output
    assert "not an encrypted keyring" in added.stderr
    assert config(remote)["storage"] == "file"
    secrets_file = remote.cli.config_dir / "secrets.json"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    stored = json.loads(secrets_file.read_text())
    assert stored["server-token:prod"] == remote.admin_token and "server-key:prod" in stored

    assert remote.add_server(name="staging").returncode == 0
    several = remote.cli.run("invite", "create", "-p", "acme", "--marketplace", "US")
    assert several.returncode == ExitCode.USAGE
    assert "several invite servers are paired (prod, staging)" in several.stderr
    assert "--server NAME" in several.stderr
    # The client secret went into the file store with the switch: add it there.
    remote.cli.ok(
        "app", "set-secret", "demo", "--client-secret-stdin", input=remote.app.client_secret
    )
    seller = remote.emulator.state.add_account("Acme Shop")
    link = remote.create("acme", "--marketplace", "US", "--server", "staging")
    remote.connect(link, seller)
    pulled = remote.cli.run("invite", "pull", "--server", "staging")
    assert pulled.returncode == 0, pulled.output
    assert json.loads(secrets_file.read_text())["profile:acme"] == remote.refresh_token_of(seller)
    assert "Nothing to pull" in remote.cli.ok("invite", "pull", "--server", "prod").stderr

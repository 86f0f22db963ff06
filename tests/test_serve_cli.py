"""``spconnect serve`` as a real subprocess: first start and the admin token, the checks
it makes before touching the database (exit codes), and a stolen database file and the
server's own output, after a seller connected, holding nothing usable."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from spconnect.emulator import Emulator
from spconnect.emulator.state import EmulatedApp
from spconnect.errors import ExitCode
from spconnect.serve import sealing
from tests.conftest import CONSOLE_SCRIPT, Cli, Result
from tests.serve_harness import LOGIN_URI, PUBLIC_URL, REDIRECT_URI, Browser


def write_config(cli: Cli, apps: dict[str, EmulatedApp], *, login_uri: str | None = None) -> None:
    """config.toml as `spconnect app add` writes it under storage = "env" (no keyring)."""
    lines = ['storage = "env"']
    for name, app in apps.items():
        lines += [
            f"[apps.{name}]",
            f'client_id = "{app.client_id}"',
            f'app_id = "{app.app_id}"',
            f'redirect_uri = "{app.redirect_uris[0]}"',
            *([f'login_uri = "{login_uri}"'] if login_uri else []),
            f"draft = {'true' if app.draft else 'false'}",
            f'kind = "{app.kind}"',
        ]
    cli.config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = cli.config_dir / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


class ServeProcess:
    """A running ``spconnect serve --port 0``; its stderr goes to a file as it comes."""

    def __init__(self, cli: Cli, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path = cli.config_dir.parent / f"serve-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [CONSOLE_SCRIPT, "serve", "--port", "0", *args],
            env={**cli.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.output())
            if found and self._healthy(f"http://127.0.0.1:{found.group(1)}"):
                self.url = f"http://127.0.0.1:{found.group(1)}"
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"spconnect serve did not start:\n{self.output()}")
            time.sleep(0.02)

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def admin(self, token: str, path: str = "/admin/v1/info", **kw: Any) -> httpx.Response:
        method = kw.pop("method", "GET")
        return httpx.request(
            method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kw
        )

    def invite(self, token: str, public_key: str) -> dict[str, Any]:
        """Register ``public_key`` and create a US invite for profile acme with it."""
        key_id = self.admin(
            token, "/admin/v1/keys", method="POST", json={"public_key": public_key}
        ).json()["key_id"]
        created: dict[str, Any] = self.admin(
            token,
            "/admin/v1/invites",
            method="POST",
            json={"key_id": key_id, "profile": "acme", "marketplace": "US"},
        ).json()
        return created

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        # uvicorn finishes open requests, then (recent versions) ends by the signal
        # itself, as servers do; systemd counts either as a clean stop.
        assert self.process.wait(15) in (0, -signal.SIGTERM), self.output()
        assert "Finished server process" in self.output()
        self._log.close()
        return self.output()


def run_serve(cli: Cli, db: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """`spconnect serve` that is expected to stop before serving (a refusal)."""
    return cli.run("serve", "--public-url", PUBLIC_URL, "--db", str(db), *args, env=env)


def admin_tokens(text: str) -> list[str]:
    return re.findall(r"^admin token: (\S+)$", text, re.MULTILINE)


@pytest.fixture
def app(emulator: Emulator, cli: Cli) -> EmulatedApp:
    registered = emulator.state.register_app("demo", redirect_uris=[REDIRECT_URI])
    write_config(cli, {"demo": registered})
    cli.env["SPCONNECT_CLIENT_SECRET"] = registered.client_secret
    return registered


def test_the_admin_token_is_printed_once_on_first_start(
    cli: Cli, app: EmulatedApp, tmp_path: Path
) -> None:
    (tmp_path / "state").mkdir(mode=0o700)  # as systemd's StateDirectory= makes it
    db = str(tmp_path / "state" / "invites.db")
    first = ServeProcess(cli, "--public-url", PUBLIC_URL, "--db", db)
    assert first.admin("wrong").status_code == 401
    assert f"a new database, {db}" in first.output()
    (token,) = admin_tokens(first.output())
    info = first.admin(token)
    assert info.status_code == 200 and info.json()["client_id"] == app.client_id
    assert first.stop().count("admin token:") == 1

    again = ServeProcess(cli, "--public-url", PUBLIC_URL, "--db", db)
    assert again.admin(token).status_code == 200
    assert "admin token" not in again.stop()

    rotated = cli.run("serve", "--rotate-admin-token", "--db", db)
    assert rotated.returncode == 0, rotated.output
    (new_token,) = admin_tokens(rotated.stderr)
    assert new_token != token and rotated.stdout == ""
    after = ServeProcess(cli, "--public-url", PUBLIC_URL, "--db", db)
    assert after.admin(token).status_code == 401
    assert after.admin(new_token).status_code == 200
    after.stop()


@pytest.mark.parametrize(
    ("public_url", "said"),
    [
        ("https://elsewhere.example", f"Redirect URI {REDIRECT_URI} is not on --public-url"),
        ("https://connect.example.test:8443", "is not on --public-url"),
        ("http://connect.example.test", "plain http on a host that is not loopback"),
        ("http://127.0.0.1:8080", "is not on --public-url http://127.0.0.1:8080"),
        ("https://connect.example.test/base", "has a path"),
        ("ftp://connect.example.test", "is not an https URL"),
    ],
)
def test_a_public_url_the_app_is_not_on_is_refused(
    cli: Cli, app: EmulatedApp, tmp_path: Path, public_url: str, said: str
) -> None:
    db = tmp_path / "invites.db"
    result = cli.run("serve", "--public-url", public_url, "--db", str(db))
    assert result.returncode == ExitCode.USAGE, result.output
    assert said in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output and "admin token" not in result.output
    assert not db.exists()  # nothing was created before the flags were checked


def test_the_login_uri_must_be_on_the_public_url_too(
    cli: Cli, emulator: Emulator, tmp_path: Path
) -> None:
    registered = emulator.state.register_app("demo", redirect_uris=[REDIRECT_URI])
    write_config(cli, {"demo": registered}, login_uri="https://other.example/login")
    result = run_serve(
        cli, tmp_path / "x.db", env={"SPCONNECT_CLIENT_SECRET": registered.client_secret}
    )
    assert result.returncode == ExitCode.USAGE
    assert "Login URI https://other.example/login is not on --public-url" in " ".join(
        result.stderr.split()
    )


def test_a_missing_client_secret_is_exit_3(cli: Cli, app: EmulatedApp, tmp_path: Path) -> None:
    del cli.env["SPCONNECT_CLIENT_SECRET"]
    db = tmp_path / "invites.db"
    result = run_serve(cli, db)
    assert result.returncode == ExitCode.NOT_SET_UP, result.output
    assert "SPCONNECT_CLIENT_SECRET" in result.stderr and "--client-secret-file" in result.stderr
    missing = run_serve(cli, db, "--client-secret-file", str(tmp_path / "nope"))
    assert missing.returncode == ExitCode.NOT_SET_UP and "cannot read" in missing.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    blank = run_serve(cli, db, "--client-secret-file", str(empty))
    assert blank.returncode == ExitCode.NOT_SET_UP
    assert f"--client-secret-file {empty} is empty" in blank.stderr
    assert not db.exists()


def test_apps_are_named_or_there_is_one(cli: Cli, emulator: Emulator, tmp_path: Path) -> None:
    a = emulator.state.register_app("a", redirect_uris=[REDIRECT_URI])
    b = emulator.state.register_app("b", redirect_uris=[REDIRECT_URI])
    write_config(cli, {"a": a, "b": b})
    args = ("serve", "--public-url", PUBLIC_URL, "--db", str(tmp_path / "x.db"))
    several = cli.run(*args, env={"SPCONNECT_CLIENT_SECRET": a.client_secret})
    assert several.returncode == ExitCode.USAGE and "--app" in several.stderr
    unknown = cli.run(*args, "--app", "c", env={"SPCONNECT_CLIENT_SECRET": a.client_secret})
    assert unknown.returncode == ExitCode.NOT_SET_UP and "no app named 'c'" in unknown.stderr


def test_a_database_password_is_not_taken_as_an_argument(cli: Cli, app: EmulatedApp) -> None:
    url = "postgresql://spconnect:hunter2-secret@db.example/spconnect"
    result = cli.run("serve", "--public-url", PUBLIC_URL, "--db", url)
    assert result.returncode == ExitCode.USAGE
    assert "SPCONNECT_SERVE_DB" in result.stderr and "hunter2" not in result.output


def test_an_unusable_database_is_exit_7(cli: Cli, app: EmulatedApp, tmp_path: Path) -> None:
    blocked = tmp_path / "x.db"
    blocked.mkdir()  # a directory where the file should be
    result = run_serve(cli, blocked)
    assert result.returncode == ExitCode.STORAGE_UNAVAILABLE, result.output
    assert "Traceback" not in result.output


def test_a_mistyped_database_path_makes_no_new_database_or_admin_token(
    cli: Cli, app: EmulatedApp, tmp_path: Path
) -> None:
    """A new database would print a new admin token (into the journal, under systemd)
    that no paired CLI knows: a --db in a directory that does not exist is refused."""
    typo = tmp_path / "var" / "lib" / "spconect" / "invites.db"
    result = run_serve(cli, typo)
    assert result.returncode == ExitCode.USAGE, result.output
    assert f"the directory of --db {typo} does not exist" in result.stderr
    assert not admin_tokens(result.output) and not (tmp_path / "var").exists()
    rotated = cli.run("serve", "--rotate-admin-token", "--db", str(typo))
    assert rotated.returncode == ExitCode.USAGE and not admin_tokens(rotated.output)
    # In a directory that exists, it makes the first token of a new database, as
    # docs/serve.md has it done before the first start (never into the journal).
    first = cli.run("serve", "--rotate-admin-token", "--db", str(tmp_path / "invites.db"))
    assert first.returncode == 0 and len(admin_tokens(first.stderr)) == 1
    assert "The server's first admin token" in first.stderr
    assert "no longer works" not in first.stderr


def test_a_taken_port_is_named(cli: Cli, app: EmulatedApp, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        result = run_serve(cli, tmp_path / "x.db", "--port", port)
    assert result.returncode == ExitCode.USAGE and "--port" in result.stderr


def test_without_the_serve_extra_it_says_what_to_install(
    cli: Cli, app: EmulatedApp, tmp_path: Path
) -> None:
    """Starlette made unimportable (a stand-in package that raises as a missing one does)."""
    fake = tmp_path / "no-extra" / "starlette"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'starlette'\", name='starlette')\n"
    )
    result = run_serve(cli, tmp_path / "x.db", env={"PYTHONPATH": str(fake.parent)})
    assert result.returncode == ExitCode.NOT_SET_UP, result.output
    assert "pip install 'spconnect[serve]'" in result.stderr
    assert "Traceback" not in result.output


def test_sellers_see_the_display_name(cli: Cli, emulator: Emulator, tmp_path: Path) -> None:
    """--display-name is what the seller's pages call the app (Amazon's consent page
    shows the name registered there, not config.toml's); the admin API reports both."""
    app = emulator.state.register_app("demo", redirect_uris=[REDIRECT_URI])
    write_config(cli, {"demo": app})
    cli.env["SPCONNECT_CLIENT_SECRET"] = app.client_secret
    db = str(tmp_path / "invites.db")
    server = ServeProcess(
        cli, "--public-url", PUBLIC_URL, "--db", db, "--display-name", "Acme  Repricer"
    )
    (token,) = admin_tokens(server.output())
    info = server.admin(token).json()
    assert (info["app"], info["display_name"]) == ("demo", "Acme Repricer")
    invite = server.invite(token, sealing.generate_key_pair().public_key)
    browser = Browser(server.url)
    shown = browser.request("GET", invite["url"]).text
    assert "Authorize Acme Repricer" in shown and "demo" not in shown
    emulator.state.auto_approve = emulator.state.add_account("Acme Shop").selling_partner_id
    connected = browser.go(invite["url"], "POST")
    assert connected.status_code == 200 and "Acme Repricer" in connected.text
    assert "shown as 'Acme Repricer'" in server.stop()


@pytest.mark.parametrize("name", ["", "x" * 81, "Acme\x1b[31m"])
def test_an_unusable_display_name_is_exit_2(
    cli: Cli, app: EmulatedApp, tmp_path: Path, name: str
) -> None:
    db = tmp_path / "invites.db"
    refused = run_serve(cli, db, "--display-name", name)
    assert refused.returncode == ExitCode.USAGE, refused.output
    assert "--display-name must be 1 to 80 printable characters" in refused.stderr
    assert not admin_tokens(refused.output) and not db.exists()


def test_a_stolen_database_file_and_the_servers_output_hold_no_secret(
    cli: Cli, emulator: Emulator, tmp_path: Path
) -> None:
    """A seller connects through the real `spconnect serve`; then a copy of its database
    files (as a thief or a backup would have them) and everything it printed are searched
    for every secret of that connection: none is there, and only the developer's private
    key opens the sealed blob."""
    app = emulator.state.register_app("demo", redirect_uris=[REDIRECT_URI], login_uri=LOGIN_URI)
    write_config(cli, {"demo": app}, login_uri=LOGIN_URI)
    secret_file = tmp_path / "credentials" / "client-secret"
    secret_file.parent.mkdir()
    secret_file.write_text(app.client_secret + "\n")
    db = tmp_path / "state" / "invites.db"
    db.parent.mkdir(mode=0o700)
    server = ServeProcess(
        cli,
        "--public-url",
        PUBLIC_URL,
        "--db",
        str(db),
        "--client-secret-file",
        str(secret_file),
    )
    (token,) = admin_tokens(server.output())
    keys = sealing.generate_key_pair()
    invite = server.invite(token, keys.public_key)
    seller = emulator.state.add_account("Acme Shop")
    emulator.state.auto_approve = seller.selling_partner_id
    browser = Browser(server.url)
    answer = browser.go(invite["url"], "POST")
    assert answer.status_code == 200 and "Connected" in answer.text, answer.text
    described = server.admin(token, f"/admin/v1/invites/{invite['id']}").json()
    context = sealing.invite_context(invite["id"], seller.selling_partner_id, app.client_id)
    payload = sealing.open_sealed(keys.private_key, described["sealed"], context)
    refresh_token = next(
        t for t, g in emulator.state.refresh_tokens.items() if g.client_id == app.client_id
    )
    assert refresh_token.encode() in payload  # the positive control: it is in the blob
    output = server.stop()

    stolen = tmp_path / "stolen"
    stolen.mkdir()
    for path in db.parent.glob(db.name + "*"):  # the file, its WAL and shared memory
        shutil.copy(path, stolen / path.name)
    stolen_bytes = b"".join(p.read_bytes() for p in stolen.iterdir())
    assert described["sealed"].encode() in stolen_bytes  # what is there: sealed only

    access_tokens = [t for t, (g, _, _) in emulator.state.access_tokens.items()]
    codes = [c for c, issued in emulator.state.codes.items() if issued.client_id == app.client_id]
    states = [
        v
        for url in browser.visited()
        for k, v in re.findall(r"[?&](state|amazon_state)=([^&]+)", url)
    ]
    secrets_ = {
        "refresh token": refresh_token,
        "client secret": app.client_secret,
        "admin token": token,
        "private key": keys.private_key,
        **{f"access token {n}": t for n, t in enumerate(access_tokens)},
        **{f"code {n}": c for n, c in enumerate(codes)},
        **{f"state {n}": s for n, s in enumerate(states)},
        "browser cookie": next(iter(browser.cookies.values())),
    }
    assert access_tokens and codes and states  # there was something to find
    output_without_announcement = output.replace(f"admin token: {token}", "")
    for what, value in secrets_.items():
        assert value.encode() not in stolen_bytes, f"the {what} is in the database files"
        assert value not in output_without_announcement, f"the {what} is in the server's output"
    # The server did log each request, by path only.
    assert "GET /spconnect/callback 200" in output and "spapi_oauth_code" not in output

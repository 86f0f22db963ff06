"""``spconnect serve``: the self-hosted invite server (issue 11; docs/serve.md).

Parses flags, checks everything it can before touching the database (so a mistyped
flag never prints an admin token), then hands over to spconnect.serve.runner. The ASGI
stack (Starlette, uvicorn, psycopg: the ``serve`` extra) is imported here only, and
only when the command runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from spconnect.cli.common import VerboseOpt, say
from spconnect.errors import NotSetUp, UsageError
from spconnect.store import envvars

TYPE_CHECKING = False
if TYPE_CHECKING:
    from spconnect.serve.settings import ServeSettings
    from spconnect.serve.storage import Storage

DB_VARIABLE = "SPCONNECT_SERVE_DB"
DEFAULT_PORT = 8080
MAX_SECRET_FILE_BYTES = 4096
_INSTALL_HINT = "install them with: pip install 'spconnect[serve]'"


def default_database() -> str:
    """``$STATE_DIRECTORY/invites.db`` under systemd (StateDirectory=), else a file in
    the user's data directory."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return os.path.join(state, "invites.db")
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("spconnect"), "invites.db")


def _client_secret(secret_file: Path | None) -> str:
    """The app's client secret from ``--client-secret-file`` (systemd credentials) or
    ``SPCONNECT_CLIENT_SECRET``; never from a flag's value."""
    from spconnect.amazon.ids import check_client_secret
    from spconnect.redaction import register_secret

    if secret_file is not None:
        try:
            with secret_file.open("rb") as handle:
                raw = handle.read(MAX_SECRET_FILE_BYTES + 1)
        except OSError as exc:
            raise NotSetUp(
                f"cannot read --client-secret-file {secret_file}: {exc.strerror}",
                "give the file that holds the app's client secret (systemd: LoadCredential=)",
            ) from None
        if len(raw) > MAX_SECRET_FILE_BYTES:
            raise UsageError(
                f"--client-secret-file {secret_file} is larger than a client secret can be"
            )
        value = raw.decode("utf-8", "replace")
        if not value.strip():
            raise NotSetUp(
                f"--client-secret-file {secret_file} is empty",
                "write the app's client secret into it (one line; systemd: the file "
                "LoadCredential= names)",
            )
    else:
        value = envvars.client_secret() or ""
    if not value.strip():
        raise NotSetUp(
            "no client secret: spconnect serve exchanges sellers' codes with it",
            f"set {envvars.CLIENT_SECRET}, or give --client-secret-file FILE "
            "(systemd: LoadCredential=client-secret:/etc/spconnect/client-secret)",
        )
    secret = check_client_secret(value)
    register_secret(secret)
    return secret


def _check_db_argument(ctx: typer.Context, db: str) -> None:
    from spconnect.serve.storage import url_has_password

    source = ctx.get_parameter_source("db")
    if url_has_password(db) and source is not None and source.name == "COMMANDLINE":
        raise UsageError(
            "--db carries a password, which `ps` and your shell history would show",
            f"put the URL in ${DB_VARIABLE} instead, or the password in ~/.pgpass or $PGPASSWORD",
        )


def _check_database_place(database: str, *, given: bool) -> None:
    """A SQLite --db in a directory that does not exist is a typo more often than not: a
    new database there would start with a new admin token (in the journal, under
    systemd) that no paired CLI knows. Only the default place is created when missing."""
    from spconnect.serve.storage import is_postgres_url, sqlite_path

    if is_postgres_url(database):
        return
    path = sqlite_path(database)
    directory = os.path.dirname(os.path.abspath(path))
    if given and not os.path.isdir(directory):
        raise UsageError(
            f"the directory of --db {path} does not exist",
            f"check the path for a typo, or create {directory} (mode 0700) first",
        )


def _announce_admin_token(token: str) -> None:
    # The one place the admin token is shown (docs/serve-api.md, "Admin token"): straight
    # to stderr, once; the server keeps only its hash.
    sys.stderr.write(f"admin token: {token}\n")
    sys.stderr.flush()


def serve(
    ctx: typer.Context,
    app_name: Annotated[
        str | None,
        typer.Option(
            "--app",
            metavar="NAME",
            help="The app from config.toml to authorize for (default: the only one).",
        ),
    ] = None,
    display_name: Annotated[
        str | None,
        typer.Option(
            "--display-name",
            metavar="TEXT",
            help="The app's name on the pages sellers see (default: the --app name); use "
            "the name Amazon's consent page shows them.",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="The https origin sellers see (the TLS terminator's); the app's Redirect "
            "URI and Login URI (https, as Amazon requires) must be on it.",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            envvar=DB_VARIABLE,
            show_default=False,
            help="A SQLite file (a path or sqlite:///path, in a directory that exists; "
            "default: $STATE_DIRECTORY/invites.db, else invites.db in your data directory) or "
            f"postgresql://… for several instances. A URL with a password: ${DB_VARIABLE}.",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="N", help="Port to listen on.", min=0, max=65535)
    ] = DEFAULT_PORT,
    open_enrollment: Annotated[
        bool,
        typer.Option(
            "--open-enrollment",
            help="Accept sellers Amazon sends without an invite (Appstore 'Authorize now', "
            "'Re-Authorize'): each becomes an entry named after its selling partner id.",
        ),
    ] = False,
    enrollment_marketplace: Annotated[
        str,
        typer.Option(
            "--enrollment-marketplace",
            metavar="CODE",
            help="With --open-enrollment, when the browser's Referer names no Seller "
            "Central host: the marketplace whose Central Amazon's relative addresses resolve "
            "on, recorded for the entry.",
        ),
    ] = "US",
    client_secret_file: Annotated[
        Path | None,
        typer.Option(
            "--client-secret-file",
            metavar="FILE",
            dir_okay=False,
            help=f"Read the client secret from FILE (else ${envvars.CLIENT_SECRET}).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            metavar="LIST",
            help="Comma-separated proxy addresses whose X-Forwarded-For/-Proto are believed.",
        ),
    ] = "127.0.0.1,::1",
    rate_limit: Annotated[
        int,
        typer.Option(
            "--rate-limit",
            metavar="N",
            min=0,
            help="Requests per minute per client address on public paths (0: no limit).",
        ),
    ] = 60,
    rotate_admin_token: Annotated[
        bool,
        typer.Option(
            "--rotate-admin-token",
            help="Replace the admin token, print the new one on stderr, and exit.",
        ),
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Answer remote sellers' consent on your own domain: invite links, no third party.

    Sellers open an invite link (`spconnect invite create`), sign in at Amazon and
    approve; the server exchanges the code at once, seals the refresh token to your
    public key and keeps only the sealed blob until `spconnect invite pull` fetches it.
    It listens on loopback behind your TLS terminator (Caddy, nginx), which forwards Host
    and X-Forwarded-Proto. The admin API is under /admin/v1/ (firewall it); on first
    start the server prints `admin token: ...` once on stderr.

    Examples:

    \b
        # once, on the server: the app (secrets from the environment, no keyring)
        export SPCONNECT_CONFIG_DIR=/etc/spconnect
        printf 'storage = "env"\\n' > /etc/spconnect/config.toml
        spconnect app add myapp --client-id amzn1.application-oa2-client.0123... \\
            --app-id amzn1.sp.solution.8a2c... \\
            --redirect-uri https://connect.example.com/spconnect/callback \\
            --login-uri https://connect.example.com/spconnect/login
    \b
        # run it (a systemd unit: docs/serve.md), behind https://connect.example.com
        spconnect serve --app myapp --public-url https://connect.example.com \\
            --db /var/lib/spconnect/invites.db \\
            --client-secret-file "$CREDENTIALS_DIRECTORY/client-secret"
    \b
        # several instances: PostgreSQL (the URL in the environment if it has a password)
        SPCONNECT_SERVE_DB=postgresql://spconnect@db.internal/spconnect \\
            spconnect serve --app myapp --public-url https://connect.example.com
    \b
        # on your machine: pair the CLI with it, then invite a seller
        spconnect server add prod --url https://connect.example.com --token-stdin
        spconnect invite create --server prod -p acme --marketplace DE

    A deployment, in short (docs/serve.md has the tested versions: the hardened unit,
    Caddy's and nginx's timeouts and body limits, backups):

    \b
        # /etc/systemd/system/spconnect-serve.service
        [Service]
        User=spconnect
        Environment=SPCONNECT_CONFIG_DIR=/etc/spconnect
        LoadCredential=client-secret:/etc/spconnect/client-secret
        StateDirectory=spconnect
        ExecStart=/opt/spconnect/bin/spconnect serve --app myapp \\
            --public-url https://connect.example.com --port 8080 \\
            --client-secret-file %d/client-secret
        Restart=on-failure
        [Install]
        WantedBy=multi-user.target
    \b
        # /etc/caddy/Caddyfile: TLS, /admin/ for your addresses only, the rest to serve
        connect.example.com {
            @admin_from_outside {
                path /admin /admin/*
                not remote_ip 198.51.100.0/24
            }
            respond @admin_from_outside 404
            reverse_proxy 127.0.0.1:8080
        }
    """
    # Whatever the server creates (the SQLite file and its journal) is private.
    os.umask(0o077)
    database = db or default_database()
    _check_db_argument(ctx, database)
    _check_database_place(database, given=db is not None)
    if rotate_admin_token:
        _rotate(database)
        return
    try:
        from spconnect.serve import runner
    except ImportError as exc:
        raise NotSetUp(
            f"spconnect serve needs the optional packages Starlette and uvicorn "
            f"({type(exc).__name__}: {exc})",
            _INSTALL_HINT,
        ) from None
    settings = _settings(app_name, public_url, open_enrollment, rate_limit, display_name)
    from spconnect.amazon.marketplaces import central_url, resolve_marketplace

    marketplace = resolve_marketplace(enrollment_marketplace)
    central_url(marketplace, settings.kind == "vendor")  # a vendor app needs a Vendor Central
    secret = _client_secret(client_secret_file)
    storage = _open(database)
    token = _new_admin_token()
    if storage.set_admin_token(token, int(time.time()), replace=False):
        from spconnect.serve.storage import describe_database

        say(f"spconnect serve: a new database, {describe_database(database)}")
        _announce_admin_token(token)
    del token
    listening = runner.bind(host, port)
    runner.configure_logging(verbose=verbose)
    from spconnect.serve.storage import describe_database

    say(
        f"spconnect serve: app {settings.app_name!r}"
        + (f" (shown as {settings.shown_name!r})" if settings.display_name else "")
        + f" at {settings.public_url}, listening on "
        f"{host}:{listening.getsockname()[1]}; Redirect URI path {settings.redirect_path}"
        + (f", Login URI path {settings.login_path}" if settings.login_path else "")
        + f"; open enrollment {'on' if settings.open_enrollment else 'off'}; "
        f"database {describe_database(database)}"
    )
    app = runner.build_app(settings, storage, secret, open_enrollment_marketplace=marketplace)
    try:
        runner.serve_forever(app, listening, forwarded_allow_ips=forwarded_allow_ips)
    finally:
        storage.close()


def _open(database: str) -> Storage:
    from spconnect.serve.storage import is_postgres_url, open_storage

    if is_postgres_url(database):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise NotSetUp(
                "a postgresql:// database needs the optional package psycopg", _INSTALL_HINT
            ) from None
    return open_storage(database)


def _new_admin_token() -> str:
    import secrets

    return secrets.token_urlsafe(32)  # 256 bits (docs/serve-api.md, "Admin token")


def _rotate(database: str) -> None:
    storage = _open(database)
    token = _new_admin_token()
    # The first token of a new database (docs/serve.md makes it this way, before the
    # first start, so that it never reaches the journal), or a replacement.
    first = storage.set_admin_token(token, int(time.time()), replace=False)
    if not first:
        storage.set_admin_token(token, int(time.time()), replace=True)
    storage.close()
    _announce_admin_token(token)
    say(
        "The server's first admin token; give it to `spconnect server add`."
        if first
        else "The previous admin token no longer works; give the new one to `spconnect server add`."
    )


def _settings(
    app_name: str | None,
    public_url: str | None,
    open_enrollment: bool,
    rate_limit: int,
    display_name: str | None = None,
) -> ServeSettings:
    from spconnect.serve.settings import ServeSettings, check_display_name, check_public_url
    from spconnect.store.config import load_config

    if not public_url:
        raise UsageError(
            "--public-url is required: the https origin sellers see",
            "such as --public-url https://connect.example.com",
        )
    origin = check_public_url(public_url)
    shown = check_display_name(display_name) if display_name is not None else ""
    config = load_config()
    if app_name is None:
        if len(config.apps) != 1:
            known = ", ".join(sorted(config.apps))
            if not known:
                raise NotSetUp(
                    "no app is configured",
                    "add it with `spconnect app add NAME --client-id ... --app-id ... "
                    "--redirect-uri ...`",
                )
            raise UsageError(f"several apps are configured ({known}); choose one with --app")
        app_name = next(iter(config.apps))
    app = config.app(app_name)
    return ServeSettings(
        app_name=app_name,
        client_id=app.client_id,
        app_id=app.app_id,
        redirect_uri=app.redirect_uri,
        login_uri=app.login_uri,
        draft=app.draft,
        kind=app.kind,
        public_url=origin,
        open_enrollment=open_enrollment,
        rate_limit=rate_limit,
        display_name=shown,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
